# Faults against a directord pair (make faults), with figures: E2E_FAULT_RUNS
# (default 20) simultaneous starts and partitions of every heartbeat link
# for 2 x deadtime, then lossy links at 5, 20 and 50 % loss with 200 ms of
# jitter. The holders are read from the kernel (tools/pairfaults.sh).
# Asserted: no double holder beyond one keepalive at start, never a VIP
# without a holder, one holder after each heal, no false takeover below
# 50 % loss.
# e2e-timeout: 1800
. "$E2E_DIR/tools/pairfaults.sh"
N=${E2E_FAULT_RUNS:-20}
pf_setup

test_simultaneous_start() {
	local i double=0 none=0 wrong=0 left=0 worst=0 first=0 firstmax=0
	for ((i = 1; i <= N; i++)); do
		pf_simultaneous_start
		[ "$PF_DOUBLE" -gt $PF_KEEPALIVE_MS ] && double=$((double + 1))
		[ "$PF_DOUBLE" -gt "$worst" ] && worst=$PF_DOUBLE
		{ [ "$PF_FIRST" -lt 0 ] || [ "$PF_LOST" -gt 0 ]; } && none=$((none + 1))
		[ "$PF_FIRST" -gt "$firstmax" ] && firstmax=$PF_FIRST
		first=$((first + PF_FIRST))
		[ "$PF_FINAL" = a ] || wrong=$((wrong + 1))
		[ "$PF_LEFT" = 0 ] || left=$((left + 1))
	done
	echo "FIGURE simultaneous start x$N: runs with two holders > ${PF_KEEPALIVE_MS} ms: $double (longest ${worst} ms); runs left without a holder: $none; first holder after mean $((first / N)) ms, longest $firstmax ms; runs not ending on A: $wrong; runs leaving an address after stop: $left"
	assert_eq "simultaneous start: no double holder" "$double" 0
	assert_eq "simultaneous start: no lost VIP" "$none" 0
	assert_eq "simultaneous start: ends on the preferred node" "$wrong" 0
	assert_eq "simultaneous start: graceful stop leaves nothing" "$left" 0
}

test_partitions() {
	local i none=0 wrong=0 garp=0 worst=0 total=0
	for ((i = 1; i <= N; i++)); do
		pf_partition
		[ "$PF_NONE" -gt 0 ] && none=$((none + 1))
		[ "$PF_FINAL" = a ] || wrong=$((wrong + 1))
		[ "$PF_GARP" = 0 ] || garp=$((garp + 1))
		[ "${PF_RESOLVE:-0}" -gt "$worst" ] && worst=$PF_RESOLVE
		total=$((total + ${PF_RESOLVE:-0}))
	done
	echo "FIGURE partition 2 x deadtime x$N: runs with no holder: $none; runs not ending with one holder (A): $wrong; two holders after heal: mean $((total / N)) ms, longest $worst ms; runs where the loser sent ARP after: $garp"
	assert_eq "partitions: no lost VIP" "$none" 0
	assert_eq "partitions: one holder after every heal" "$wrong" 0
	assert_eq "partitions: the loser sends no gratuitous ARP" "$garp" 0
}

test_lossy_links() {
	local pct
	for pct in 5 20 50; do
		pf_lossy $pct ${E2E_FAULT_LOSSY_SECS:-30}
		echo "FIGURE loss $pct% jitter 200 ms for ${E2E_FAULT_LOSSY_SECS:-30} s: false takeovers $PF_FALSE, takeover after A died $PF_TAKEOVER ms"
		[ "$pct" -ge 50 ] || assert_eq "loss $pct%: no false takeover" "$PF_FALSE" 0
		[[ $PF_TAKEOVER =~ ^[0-9]+$ ]] && pass "loss $pct%: B took over" || fail "loss $pct%: no takeover" ""
	done
}

# Last: it rewrites ha.cf with a ping node and ipfail for both directors.
test_ping_lost_on_one_side() {
	pf_clean
	pf_conf_ping
	local i double=0 wrong=0 garp=0 slow=0 hmax=0 rmax=0 nmax=0 skewed=0 unproven=0
	for ((i = 1; i <= N; i++)); do
		pf_ping_partition
		[ "$PF_DOUBLE_N" = 0 ] || double=$((double + 1))
		skewed=$((skewed + ${PF_DOUBLE_SKEW_N:-0}))
		[ "$PF_UNPROVEN" = 0 ] || unproven=$((unproven + 1))
		[ "$PF_FINAL" = a ] || wrong=$((wrong + 1))
		[ "$PF_GARP" = 0 ] || garp=$((garp + 1))
		if [[ $PF_HANDOVER =~ ^[0-9]+$ && $PF_RETURN =~ ^[0-9]+$ ]]; then
			[ "$PF_HANDOVER" -gt "$hmax" ] && hmax=$PF_HANDOVER
			[ "$PF_RETURN" -gt "$rmax" ] && rmax=$PF_RETURN
			[ "$PF_NONE_MAX" -gt "$nmax" ] && nmax=$PF_NONE_MAX
		else
			slow=$((slow + 1))
		fi
	done
	pf_monitor_skew 50
	echo "FIGURE address monitors alone, 50 strictly ordered hand-overs: longest apparent overlap ${PF_SKEW_SEEN} ms"
	echo "FIGURE ping node lost on A only x$N: runs where the monitors show two holders beyond ${PF_HANDSHAKE_SKEW_MS} ms: $double; overlaps within it: $skewed; runs with an overlap the directors' logs do not order: $unproven; runs where the group did not move and come back within 20 s: $slow; hand-over longest $hmax ms, back after the heal longest $rmax ms; longest without a holder $nmax ms; runs not ending on A: $wrong; runs where B sent ARP after A had it back: $garp"
	assert_eq "ping partitions: never two holders (runs with an overlap the directors' logs do not order)" "$unproven" 0
	assert_eq "ping partitions: every hand-over and return happened" "$slow" 0
	assert_eq "ping partitions: ends on A" "$wrong" 0
	assert_eq "ping partitions: B sends no gratuitous ARP after" "$garp" 0
}
