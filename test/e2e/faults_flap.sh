# Flapping reals for E2E_FLAP_SECS (default 600: 10 minutes), make faults;
# t_86_flap.sh is the short run in make test (tools/flap.sh says what is
# run and judged). Samples every 30 s; prints FIGURE lines.
# e2e-timeout: 1200
. "$E2E_DIR/tools/flap.sh"
flap_setup

test_flapping_reals() {
	local secs=${E2E_FLAP_SECS:-600}
	flap_run "$secs" 30
	echo "FIGURE flapping reals ${FLAP_PERIOD_MS} ms up / ${FLAP_PERIOD_MS} ms down for ${secs} s, failurecount=1: $FLAP_FIG3"
	echo "FIGURE flapping reals ${FLAP_PERIOD_MS} ms up / ${FLAP_PERIOD_MS} ms down for ${secs} s, failurecount=3: $FLAP_FIG4"
	echo "FIGURE flapping reals: healthy reals' kernel writes $FLAP_HEALTHY_CHURN; client tries/failures $FLAP_CLIENT; ldirectord first/last sample (s RSS_KiB goroutines fds): $(head -n 1 "$FLAP_W/samples") / $(tail -n 1 "$FLAP_W/samples")"
	flap_verdicts
}
