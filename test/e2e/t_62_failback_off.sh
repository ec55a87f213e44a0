# auto_failback off, as heartbeat: a group stays where it is when its
# preferred node comes back, until an operator moves it (standby).
# e2e-timeout: 240

CTL=$BUILD/directorctl

pair_up 2
HA_FAILBACK=off ha_conf a 10.0.0.3 10.0.1.3
HA_FAILBACK=off ha_conf b 10.0.0.2 10.0.1.2

test_group_stays_on_b_when_a_returns() {
	dd_start a dir
	dd_start b dir2
	if wait_until 20000 holds dir $VIP; then pass "A (preferred) holds the VIP (${WAITED_MS} ms)"; else fail "VIP on A" "$(ip -n dir addr)"; fi
	rm -f "$BG_DIR/dda.pid"
	node_crash dir
	if wait_until 10000 holds dir2 $VIP; then pass "B took the group after A died (${WAITED_MS} ms)"; else fail "takeover" "$(ip -n dir2 addr)"; fi
	dd_start a dir
	wait_until 20000 sh -c "$CTL --socket /tmp/e2e/b.sock status | grep -qE 'a +active'" &&
		pass "A is back and active (${WAITED_MS} ms)" || fail "A back" "$($CTL --socket /tmp/e2e/b.sock status 2>&1)"
	sleep 5 # 5 deadtimes: with auto_failback on A would have it by now
	check "B still holds the group" holds dir2 $VIP
	check_not "A did not take it back" holds dir $VIP
	assert_match "A knows B holds it" "$($CTL --socket /tmp/e2e/a.sock status 2>&1)" "10.0.0.100/24/eth0 +released"
	wait_until 10000 served && pass "client served through B" || fail "client" ""
}

test_standby_moves_it_home() {
	check "standby on B" $CTL --socket /tmp/e2e/b.sock standby
	if wait_until 15000 holds dir $VIP; then pass "standby moved the group to A (${WAITED_MS} ms)"; else fail "standby" "$(tail -n 20 /tmp/e2e/ha-b/ha.log)"; fi
	wait_until 10000 sh -c "! ip -n dir2 addr show | grep -q 'inet $VIP/'" && pass "B released it" || fail "B release" ""
	wait_until 10000 served && pass "client served through A" || fail "client" ""
}
