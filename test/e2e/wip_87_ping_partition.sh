# The ping node lost on one side only, the short version (faults_pair.sh
# runs it E2E_FAULT_RUNS times): A, holding the group, loses its route to
# the ping node while the heartbeat links stay up. ipfail hands the group
# to B; when the route is back it returns to A (auto_failback on). Never
# two holders, and B sends no gratuitous ARP once A has it back. Holders
# are read from the kernel's address events (tools/pairfaults.sh).
# e2e-timeout: 240
#
# NOT IN THE SUITE (wip_: run it with E2E_GLOB='wip_87*' make e2e). In the
# 20-run faults_pair of 2026-12-04, 12 of the 40 hand-overs (ipfail's and
# the return) showed both directors holding the VIP for 1-27 ms by the
# address monitors, 3 of them beyond the 20 ms allowed for the monitors'
# own lag; 50 strictly ordered hand-overs made with ip(8) alone showed no
# overlap at all. Not explained yet: a real overlap (the release reported
# before the VIP is gone?) or the monitors' lag at hand-overs a few ms
# apart. An overlap now prints doubles.py (the address events beside both
# directors' ms-stamped log lines) to decide it.
. "$E2E_DIR/tools/pairfaults.sh"
pf_setup
pf_conf_ping

test_ping_lost_on_one_side() {
	local i
	for i in $(seq 1 "${PING_RUNS:-2}"); do
		pf_ping_partition
		[[ $PF_HANDOVER =~ ^[0-9]+$ ]] && pass "run $i: B took the group ${PF_HANDOVER} ms after A lost the ping node" ||
			fail "run $i: no hand-over" "$(tail -n 20 /tmp/e2e/ha-a/ha.log)"
		[[ $PF_RETURN =~ ^[0-9]+$ ]] && pass "run $i: back on A ${PF_RETURN} ms after the route returned" ||
			fail "run $i: not back on A" "$(tail -n 20 /tmp/e2e/ha-b/ha.log)"
		assert_eq "run $i: never two holders" "$PF_DOUBLE_N" 0
		[[ $PF_NONE_MAX =~ ^[0-9]+$ ]] && [ "$PF_NONE_MAX" -le 3000 ] && pass "run $i: longest without a holder ${PF_NONE_MAX} ms (a hand-over)" ||
			fail "run $i: without a holder for ${PF_NONE_MAX} ms" ""
		assert_eq "run $i: A holds it at the end" "$PF_FINAL" a
		assert_eq "run $i: B sent no gratuitous ARP after A had it back" "$PF_GARP" 0
	done
}

# The overlaps counted apart above are within what the monitors themselves
# show for hand-overs that are strictly ordered.
test_monitor_skew() {
	pf_monitor_skew 20
	assert_eq "every test address event seen" "$PF_SKEW_EVENTS" 80
	log "the ${PF_HANDSHAKE_SKEW_MS} ms allowed for the handshake; the monitors alone showed up to ${PF_SKEW_SEEN} ms"
}
