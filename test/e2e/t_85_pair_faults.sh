# Faults against a directord pair, the short version (make faults runs the
# long one, faults_pair.sh): a simultaneous start, a partition of every
# heartbeat link and lossy links, with the holders read from the kernel's
# address events (tools/pairfaults.sh).
# e2e-timeout: 300
. "$E2E_DIR/tools/pairfaults.sh"
pf_setup

test_simultaneous_start() {
	local i
	for i in 1 2; do
		pf_simultaneous_start
		[ "$PF_DOUBLE" -le $PF_KEEPALIVE_MS ] && pass "run $i: two holders for at most one keepalive (${PF_DOUBLE} ms)" ||
			fail "run $i: two holders for ${PF_DOUBLE} ms" "$(tail -n 20 /tmp/e2e/ha-b/ha.log)"
		[ "$PF_FIRST" -ge 0 ] && pass "run $i: held ${PF_FIRST} ms after the start" || fail "run $i: nobody held the VIP" "$(tail -n 20 /tmp/e2e/ha-a/ha.log)"
		assert_eq "run $i: never without a holder after that" "$PF_LOST" 0
		assert_eq "run $i: the preferred node holds it" "$PF_FINAL" a
		assert_eq "run $i: nothing left after a graceful stop" "$PF_LEFT" 0
	done
}

test_partition_and_heal() {
	local i
	for i in 1 2; do
		pf_partition
		assert_eq "run $i: one holder after the heal (A)" "$PF_FINAL" a
		assert_eq "run $i: the VIP was never without a holder" "$PF_NONE" 0
		[ "$PF_RESOLVE" -le $((5 * PF_KEEPALIVE_MS + PF_DEADTIME_MS)) ] && pass "run $i: the split resolved in ${PF_RESOLVE} ms" ||
			fail "run $i: two holders for ${PF_RESOLVE} ms after the heal" "$(tail -n 20 /tmp/e2e/ha-b/ha.log)"
		assert_eq "run $i: the loser sent no gratuitous ARP after it resolved" "$PF_GARP" 0
	done
}

test_lossy_links() {
	pf_lossy 20 10
	assert_eq "20% loss, 200 ms jitter: no false takeover" "$PF_FALSE" 0
	[[ $PF_TAKEOVER =~ ^[0-9]+$ ]] && pass "takeover under 20% loss after A died (${PF_TAKEOVER} ms)" ||
		fail "no takeover under 20% loss" "$(tail -n 20 /tmp/e2e/ha-b/ha.log)"
}
