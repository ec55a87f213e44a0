# Two directors running directord: A (preferred) and B, on the public and
# the private bridge, two heartbeat media (ucast on each). One group: the
# VIP, the DIP (the real servers' gateway) and the director in-process.
# First start puts the group on A; standby and takeover; SIGKILL of A moves
# VIP, DIP and the IPVS table to B while A's recorded packets (its start,
# resource messages, the standby and takeover) are replayed to B, and B
# keeps the group under the replay after the takeover; A back with
# auto_failback on takes it home; a forged packet changes nothing while the
# same packet signed with the real key is taken; a partition heals to one
# holder; a graceful stop hands over at once, well inside the dead time.
# e2e-timeout: 480

CTL=$BUILD/directorctl

pair_up 2
ha_conf a 10.0.0.3 10.0.1.3
ha_conf b 10.0.0.2 10.0.1.2

test_first_start_on_preferred_node() {
	# Record A's packets from its first one, as an attacker on the public
	# side could (the bridge floods every frame while its ageing time is 0),
	# through the start and the standby/takeover below, for the replay.
	ip link set pub type bridge ageing_time 0
	bg_start record ip netns exec cli $E2E_DIR/tools/hbcapture.py record eth0 10.0.0.2 /tmp/e2e/a-pkts.bin
	sleep 0.5
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
}

test_standby_and_takeover() {
	check "standby on A" $CTL --socket /tmp/e2e/a.sock standby
	if wait_until 15000 holds dir2 $VIP; then pass "standby moved the group to B (${WAITED_MS} ms)"; else fail "standby" "$(tail -n 20 /tmp/e2e/ha-a/ha.log)"; fi
	wait_until 5000 sh -c "! ip -n dir addr show | grep -q 'inet $VIP/'" && pass "A released it" || fail "A release" ""
	check "takeover on A" $CTL --socket /tmp/e2e/a.sock takeover
	if wait_until 15000 holds dir $VIP; then pass "takeover brought it back to A (${WAITED_MS} ms)"; else fail "takeover" "$(tail -n 20 /tmp/e2e/ha-a/ha.log)"; fi
	sleep 1 # A's stable report after the takeover, into the capture
	bg_stop record
	ip link set pub type bridge ageing_time 30000
	local sum
	sum=$(python3 $E2E_DIR/tools/hbcapture.py summary /tmp/e2e/a-pkts.bin 2>&1)
	printf '%s\n' "$sum" | sed 's/^/      /'
	assert_match "capture: A's status messages" "$sum" "[0-9]+ status"
	assert_match "capture: A's stable resource report" "$sum" "resource rsc_hold=[a-z]+ isstable=1"
	assert_match "capture: A's standby handshake" "$sum" "ask_resources rsc_hold=[a-z]+ info=me"
	assert_match "capture: A's takeover request" "$sum" "hb_takeover"
}

test_sigkill_moves_everything_to_b_despite_replayed_packets() {
	local t0 i lost=0 n=0 stops
	# A's recorded packets keep coming (from the client's address, the whole
	# capture once every ~0.5 s) from before the kill through the takeover
	# and after it: A's old sequence numbers, seen by B before A died, must
	# neither keep A alive nor, once A is dead, bring it back or move the
	# group (A's "resource ... isstable=1" or "starting" did: B handed the
	# group to the dead A).
	stops=$(grep -c 'resource stopped' /tmp/e2e/ha-b/ha.log)
	bg_start replay ip netns exec cli $E2E_DIR/tools/hbcapture.py replay /tmp/e2e/a-pkts.bin 10.0.0.3 120 0.005
	sleep 1
	t0=$(now_ms)
	kill -9 "$(bg_pid dda)"
	if wait_until 10000 holds dir2 $VIP; then pass "B took the VIP $(($(now_ms) - t0)) ms after SIGKILL of A, A's packets replayed all along"; else fail "takeover" "$(ip -n dir2 addr)"; fi
	# From the takeover on, under the replay: B holds VIP and DIP in every
	# sample (A's process is dead but its addresses are still configured,
	# as on a hung box; they go below).
	for ((i = 0; i < 60; i++)); do
		n=$((n + 1))
		if ! holds dir2 $VIP || ! holds dir2 $DIP; then lost=$((lost + 1)); fi
		if [ $i -eq 20 ]; then
			# the client and the reals follow B's gratuitous ARP
			served && pass "client served through B $(($(now_ms) - t0)) ms after the kill" || fail "client via B" "$(cli_get http://$VIP/ 2>&1)"
			ipvs_has dir2 10.0.1.11 && pass "B runs the IPVS table" || fail "IPVS on B" ""
			ip -n dir addr del $VIP/24 dev eth0; ip -n dir addr del $DIP/16 dev eth1
			ip netns exec dir ipvsadm -C
		fi
		if [ $i -gt 20 ] && holds dir $VIP; then lost=$((lost + 1)); fi
		sleep 0.2
	done
	assert_eq "from the takeover on, under ~12 s of replay: B alone holds VIP and DIP (samples otherwise, of $n)" "$lost" 0
	assert_eq "B stopped no resource under the replay" "$(grep -c 'resource stopped' /tmp/e2e/ha-b/ha.log)" "$stops"
	assert_match "B still sees A dead" "$($CTL --socket /tmp/e2e/b.sock status 2>&1)" "a +dead"
	wait_until 5000 served && pass "client served by B after the replay" || fail "client via B after the replay" "$(cli_get http://$VIP/ 2>&1)"
	check "the replay was running all along" _alive "$(bg_pid replay)"
	bg_stop replay
	assert_match "B saw A dead once, and no more of it" "$(grep -c 'node a: is dead' /tmp/e2e/ha-b/ha.log)" "^1$"
}

test_a_returns_auto_failback() {
	dd_start a dir
	if wait_until 30000 holds dir $VIP; then pass "auto_failback on: A got its group back (${WAITED_MS} ms)"; else fail "failback" "$(tail -n 20 /tmp/e2e/ha-a/ha.log)"; fi
	wait_until 10000 sh -c "! ip -n dir2 addr show | grep -q 'inet $VIP/'" && pass "B released the VIP" || fail "B release" "$(ip -n dir2 addr)"
	wait_until 10000 served && pass "client served after failback" || fail "client" ""
}

test_forged_packet_changes_nothing() {
	# Packets claiming to come from A, sent from the client with the same
	# tool: signed with a wrong key they change nothing; the same packet
	# signed with the real key is taken, so the digest is what refused them.
	local hb="in_cli $E2E_DIR/tools/hbcapture.py send 10.0.0.3 1" gen ts
	gen=$(printf %x $(( $(date +%s) + 100 ))); ts=$(printf %x $(date +%s))
	# A "shutdone": if B believed it, B would take the group at once.
	$hb not-the-key t=shutdone st=dead src=a seq=fff hg=$gen ts=$ts ttl=3
	# A retransmission request for a seq B never sent: harmless, but B logs
	# "a asked for seq N, we only sent up to M" when it takes one.
	$hb not-the-key t=NS_rexmit src=a dest=b firstseq=900000001 lastseq=900000001 ts=$ts ttl=3
	sleep 2
	check_not "B did not take the forged shutdone" grep -q "a shut down gracefully" /tmp/e2e/ha-b/ha.log
	check_not "B did not take the group on a forged shutdone" holds dir2 $VIP
	check "A still holds it" holds dir $VIP
	check_not "B ignored the forged retransmission request" grep -q "asked for seq 900000001" /tmp/e2e/ha-b/ha.log
	# Positive control: the same request with the real key.
	$hb e2e-secret t=NS_rexmit src=a dest=b firstseq=900000002 lastseq=900000002 ts=$ts ttl=3
	if wait_until 5000 grep -q "asked for seq 900000002" /tmp/e2e/ha-b/ha.log; then
		pass "the same request signed with the real key is taken (B logged it after ${WAITED_MS} ms)"
	else
		fail "signed request taken" "$(tail -n 5 /tmp/e2e/ha-b/ha.log)"
	fi
	check "A still holds the group" holds dir $VIP
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
	# With deadtime 1 s a handover and dead-peer detection look alike under
	# emulation, so this step runs the pair with deadtime 8 s: a graceful
	# stop tells the peer (shutdone) and B takes over at once, while a
	# silent A would be declared dead only after 8 s.
	local t0 took
	bg_stop ddb; bg_stop dda
	sed -i 's/^deadtime 1$/deadtime 8/; s/^initdead 3$/initdead 8/' /tmp/e2e/ha-a/ha.cf /tmp/e2e/ha-b/ha.cf
	grep -q '^deadtime 8$' /tmp/e2e/ha-a/ha.cf && grep -q '^deadtime 8$' /tmp/e2e/ha-b/ha.cf || die "deadtime 8 not set"
	dd_start a dir; dd_start b dir2
	wait_until 30000 holds dir $VIP || die "A did not take the group with deadtime 8: $(tail -n 5 /tmp/e2e/ha-a/ha.log)"
	wait_until 10000 sh -c "$CTL --socket /tmp/e2e/b.sock status | grep -qE '^  a +active'" || die "B does not see A active"
	if ! wait_until 30000 sh -c "$CTL --socket /tmp/e2e/a.sock status | grep -q '$(rsip 2):80 *weight 1 *up'"; then
		$CTL --socket /tmp/e2e/a.sock status 2>&1 | sed 's/^/      A status| /'
		tail -n 20 /tmp/e2e/ha-a/ha.log | sed 's/^/      A| /'
		die "A's director not up 30 s after A took the group"
	fi
	sleep 2
	t0=$(now_ms)
	kill -TERM "$(bg_pid dda)"
	wait_until 15000 holds dir2 $VIP
	took=$(($(now_ms) - t0))
	if holds dir2 $VIP && [ "$took" -lt 4000 ]; then
		pass "graceful stop: B holds the VIP $took ms after TERM (dead time 8000 ms; bound 4000 ms)"
	else
		fail "graceful stop hands over well inside the dead time" "B holds the VIP: $(holds dir2 $VIP && echo yes || echo no), after $took ms (bound 4000 ms, dead time 8000 ms)"
		tail -n 25 /tmp/e2e/ha-a/ha.log | sed 's/^/      A| /'
		tail -n 15 /tmp/e2e/ha-b/ha.log | sed 's/^/      B| /'
	fi
	bg_stop dda
	check_not "A released its addresses" holds dir $VIP
	assert_eq "A cleaned its IPVS table (cleanstop)" "$(ip netns exec dir ipvsadm -Ln | grep -c '\->.*Masq')" 0
	wait_until 10000 served && pass "client served by B" || fail "client" ""
	bg_stop ddb
}
