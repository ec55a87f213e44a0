# Flapping reals, the short run (faults_flap.sh in make faults runs it for
# 10 minutes): two reals flip up and down every 300 ms beside healthy ones
# (tools/flap.sh). Every weight change ldirectord makes is the one
# ldirectord's failurecount rule gives for the health answers the flapper
# logged, failurecount=3 damps what failurecount=1 passes on, the healthy
# reals never change, the client is always served, and ldirectord's RSS,
# goroutines and fds stay flat.
# e2e-timeout: 240
. "$E2E_DIR/tools/flap.sh"
flap_setup

test_flapping_reals() {
	flap_run ${E2E_FLAP_SECS:-60} 10
	flap_verdicts
}
