# Two directors running directord: A (preferred) and B, on the public and
# the private bridge, two heartbeat media (ucast on each). One group: the
# VIP, the DIP (the real servers' gateway) and the director in-process.
# First start puts the group on A; SIGKILL of A moves VIP, DIP and the
# IPVS table to B, though A's recorded packets are replayed to B; A back
# with auto_failback on takes it home; standby and takeover; a forged
# packet changes nothing; a partition heals to one
# holder; a graceful stop hands over at once.
# e2e-timeout: 420

CTL=$BUILD/directorctl

pair_up 2
ha_conf a 10.0.0.3 10.0.1.3
ha_conf b 10.0.0.2 10.0.1.2

test_first_start_on_preferred_node() {
	dd_start a dir; dd_start b dir2
	if wait_until 20000 holds dir $VIP; then pass "A (preferred) holds the VIP after initdead (${WAITED_MS} ms)"; else fail "VIP on A" "$(ip -n dir addr)"; fi
	wait_until 5000 holds dir $DIP && pass "A holds the DIP" || fail "DIP on A" "$(ip -n dir addr show eth1)"
	wait_until 10000 sh -c "ip netns exec dir ipvsadm -Ln | grep -q '10.0.1.1[12]:80'" && pass "A runs the director (IPVS table)" || fail "IPVS on A" "$(ip netns exec dir ipvsadm -Ln)"
	check_not "B holds nothing" holds dir2 $VIP
	wait_until 10000 served && pass "client served through the VIP" || fail "client" "$(cli_get http://$VIP/ 2>&1)"
	local st
	wait_until 10000 sh -c "$CTL --socket /tmp/e2e/a.sock status | grep -q '$(rsip 2):80 *weight 1 *up'"
	st=$($CTL --socket /tmp/e2e/a.sock status 2>&1)
	printf '%s\n' "$st" | sed 's/^/      /'
	assert_match "status: peer b active" "$st" "b +active"
	assert_match "status: group held" "$st" "$VIP.*held here"
	assert_match "status: reals and health" "$st" "$(rsip 1):80 +weight 1 +up"
	# Record A's packets as an attacker on the public side could (the bridge
	# floods every frame while its ageing time is 0), for the replay below.
	ip link set pub type bridge ageing_time 0
	check "captured 20 of A's heartbeat packets" in_cli timeout 30 $E2E_DIR/tools/hbcapture.py capture eth0 10.0.0.2 20 /tmp/e2e/a-pkts.bin
	ip link set pub type bridge ageing_time 30000
}

test_sigkill_moves_everything_to_b_despite_replayed_packets() {
	local t0
	t0=$(now_ms)
	kill -9 "$(bg_pid dda)"
	# A's recorded packets keep coming (from the client's address, every
	# 50 ms): old sequence numbers of A's generation must not keep A alive.
	bg_start replay ip netns exec cli $E2E_DIR/tools/hbcapture.py replay /tmp/e2e/a-pkts.bin 10.0.0.3 6
	if wait_until 10000 holds dir2 $VIP; then pass "B took the VIP $(($(now_ms) - t0)) ms after SIGKILL of A, A's packets replayed all along"; else fail "takeover" "$(ip -n dir2 addr)"; fi
	check "the replay was running" _alive "$(bg_pid replay)"
	wait_until 5000 holds dir2 $DIP && pass "B took the DIP" || fail "DIP on B" ""
	# A's process is dead but its addresses are still configured (as on a
	# hung box); the client and the reals follow B's gratuitous ARP.
	if wait_until 10000 served; then pass "client served through B $(($(now_ms) - t0)) ms after the kill"; else fail "client via B" "$(cli_get http://$VIP/ 2>&1)"; fi
	wait_until 5000 sh -c "ip netns exec dir2 ipvsadm -Ln | grep -q '10.0.1.11:80'" && pass "B runs the IPVS table" || fail "IPVS on B" ""
	ip -n dir addr del $VIP/24 dev eth0; ip -n dir addr del $DIP/16 dev eth1
	ip netns exec dir ipvsadm -C
}

test_a_returns_auto_failback() {
	dd_start a dir
	if wait_until 30000 holds dir $VIP; then pass "auto_failback on: A got its group back (${WAITED_MS} ms)"; else fail "failback" "$(tail -n 20 /tmp/e2e/ha-a/ha.log)"; fi
	wait_until 10000 sh -c "! ip -n dir2 addr show | grep -q 'inet $VIP/'" && pass "B released the VIP" || fail "B release" "$(ip -n dir2 addr)"
	wait_until 10000 served && pass "client served after failback" || fail "client" ""
}

test_standby_and_takeover() {
	check "standby on A" $CTL --socket /tmp/e2e/a.sock standby
	if wait_until 15000 holds dir2 $VIP; then pass "standby moved the group to B (${WAITED_MS} ms)"; else fail "standby" "$(tail -n 20 /tmp/e2e/ha-a/ha.log)"; fi
	wait_until 5000 sh -c "! ip -n dir addr show | grep -q 'inet $VIP/'" && pass "A released it" || fail "A release" ""
	check "takeover on A" $CTL --socket /tmp/e2e/a.sock takeover
	if wait_until 15000 holds dir $VIP; then pass "takeover brought it back to A (${WAITED_MS} ms)"; else fail "takeover" "$(tail -n 20 /tmp/e2e/ha-a/ha.log)"; fi
}

test_forged_packet_changes_nothing() {
	# A "shutdone" claiming to come from A, signed with a wrong key: if B
	# believed it, B would take the group at once.
	local gen ts
	gen=$(printf %x $(( $(date +%s) + 100 ))); ts=$(printf %x $(date +%s))
	in_cli bash -c "printf '>>>\nt=shutdone\nst=dead\nsrc=a\nseq=fff\nhg=$gen\nts=$ts\nttl=3\nauth=1 0123456789abcdef0123456789abcdef01234567\n<<<\n' > /dev/udp/10.0.0.3/694"
	sleep 2
	check_not "B did not take the group on a forged packet" holds dir2 $VIP
	check "A still holds it" holds dir $VIP
}

test_partition_and_heal() {
	# B loses both its links (the bridge ends of its veths go down): every
	# heartbeat path is cut. (Routes cannot do it: the media sockets are
	# bound to their device.)
	ip link set d2 down; ip link set d3 down
	if wait_until 15000 holds dir2 $VIP; then pass "partition: B declares A dead and takes the group (split brain)"; else fail "split" "$(tail -n 5 /tmp/e2e/ha-b/ha.log)"; fi
	check "A keeps it meanwhile" holds dir $VIP
	ip link set d2 master pub up; ip link set d3 master priv up
	if wait_until 15000 sh -c "ip -n dir addr show | grep -q 'inet $VIP/' && ! ip -n dir2 addr show | grep -q 'inet $VIP/'"; then
		pass "healed: exactly one holder (A, the preferred node) after ${WAITED_MS} ms"
	else
		fail "heal" "A: $(holds dir $VIP && echo holds) B: $(holds dir2 $VIP && echo holds)"
	fi
	sleep 2
	check_not "B stays released" holds dir2 $VIP
	wait_until 10000 served && pass "client served after the heal" || fail "client" ""
}

test_graceful_stop_hands_over_at_once() {
	local t0
	t0=$(now_ms)
	bg_stop dda
	if holds dir2 $VIP || wait_until 5000 holds dir2 $VIP; then pass "graceful stop: B holds the VIP $(($(now_ms) - t0)) ms after TERM"; else fail "handover" ""; fi
	check_not "A released its addresses" holds dir $VIP
	assert_eq "A cleaned its IPVS table (cleanstop)" "$(ip netns exec dir ipvsadm -Ln | grep -c '\->.*Masq')" 0
	wait_until 10000 served && pass "client served by B" || fail "client" ""
	bg_stop ddb
}
