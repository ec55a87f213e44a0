# ha.cf children: ipfail and respawn.
# Uplink loss (ipfail): both directors run directord with a ping node (the
# public side's router, 10.0.0.254) and heartbeat's "respawn ... ipfail"
# line. A, holding the group, loses its route to the router while the
# heartbeat links stay up: it sees fewer ping nodes than B and hands the
# group over. When A's uplink is back the counts are equal and B, with
# auto_failback on, gives the group back.
# respawn: A runs a helper through "respawn root ..."; killed, it is
# started again; it stops with the daemon.
# e2e-timeout: 300

CTL=$BUILD/directorctl
ROUTER=10.0.0.254

pair_up 2
ip -n cli addr add $ROUTER/24 dev eth0
printf '#!/bin/sh\necho $$ >> /tmp/e2e/helper.starts\nexec sleep 1000\n' > /tmp/e2e/helper.sh
chmod 755 /tmp/e2e/helper.sh
IPFAIL="ping $ROUTER
respawn hacluster /usr/lib/heartbeat/ipfail"
ha_conf a 10.0.0.3 10.0.1.3 "$IPFAIL
respawn root /tmp/e2e/helper.sh"
ha_conf b 10.0.0.2 10.0.1.2 "$IPFAIL"

test_both_see_the_ping_node() {
	dd_start a dir
	dd_start b dir2
	if wait_until 20000 holds dir $VIP; then pass "A (preferred) holds the VIP (${WAITED_MS} ms)"; else fail "VIP on A" "$(ip -n dir addr)"; fi
	wait_until 10000 served && pass "client served through A" || fail "client" ""
	local n
	for n in a b; do
		wait_until 10000 sh -c "$CTL --socket /tmp/e2e/$n.sock status | grep -qE '$ROUTER +ping'" &&
			pass "$n sees the ping node" || fail "$n ping node" "$($CTL --socket /tmp/e2e/$n.sock status 2>&1)"
	done
}

test_uplink_loss_hands_the_group_over() {
	local t0
	t0=$(now_ms)
	ip -n dir route add blackhole $ROUTER/32
	if wait_until 20000 holds dir2 $VIP; then pass "B took the group $(($(now_ms) - t0)) ms after A lost its uplink"; else fail "ipfail hand-over" "$(tail -n 20 /tmp/e2e/ha-a/ha.log)"; fi
	wait_until 10000 sh -c "! ip -n dir addr show | grep -q 'inet $VIP/'" && pass "A released the VIP" || fail "A release" "$(ip -n dir addr)"
	check "A's heartbeat links stayed up" sh -c "$CTL --socket /tmp/e2e/a.sock status | grep -qE 'b +active +link eth0 up +link eth1 up'"
	assert_match "A saw the ping node die" "$($CTL --socket /tmp/e2e/a.sock status 2>&1)" "$ROUTER +dead"
	wait_until 10000 served && pass "client served through B" || fail "client via B" ""
	# The reason (B sees more ping nodes: its you_are_dead, or A's own
	# count compared with B's) and the hand-over it led to, not any line
	# that names ipfail (the respawn line and the first count do).
	local halog
	halog=$(cat /tmp/e2e/ha-a/ha.log)
	assert_match "A logged why: b sees more ping nodes" "$halog" "ipfail: (b sees more ping nodes than we do|we see fewer ping nodes \(0\) than b \(1\))"
	assert_match "A logged the hand-over ipfail asked for" "$halog" "ipfail: handing over \[all\] groups now"
}

test_uplink_back_group_returns() {
	local t0
	t0=$(now_ms)
	ip -n dir route del blackhole $ROUTER/32
	if wait_until 20000 holds dir $VIP; then pass "uplink back: A has the group again $(($(now_ms) - t0)) ms later"; else fail "return" "$(tail -n 20 /tmp/e2e/ha-b/ha.log)"; fi
	wait_until 10000 sh -c "! ip -n dir2 addr show | grep -q 'inet $VIP/'" && pass "B released it" || fail "B release" ""
	wait_until 10000 served && pass "client served through A" || fail "client" ""
}

test_respawn() {
	local first second
	wait_until 10000 test -s /tmp/e2e/helper.starts && pass "respawn: the helper runs" || fail "helper" "$(tail -n 5 /tmp/e2e/ha-a/ha.log)"
	first=$(head -n 1 /tmp/e2e/helper.starts)
	kill -9 "$first"
	if wait_until 10000 sh -c "[ \$(wc -l < /tmp/e2e/helper.starts) -ge 2 ]"; then pass "killed, it is started again (${WAITED_MS} ms)"; else fail "respawn" "$(tail -n 5 /tmp/e2e/ha-a/ha.log)"; fi
	second=$(sed -n 2p /tmp/e2e/helper.starts)
	check "the new one runs" kill -0 "$second"
	bg_stop dda
	wait_until 10000 sh -c "! kill -0 $second" && pass "it stops with directord" || fail "helper left running" "$(ps -p $second -o args=)"
}
