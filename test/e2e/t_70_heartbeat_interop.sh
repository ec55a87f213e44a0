# Interop with Debian's heartbeat 3.0.6: one director runs the real
# heartbeat (with Debian's ldirectord as its ldirectord::CFG resource), the
# other our directord, with the same /etc/ha.d files. Both directions:
#   1. A = heartbeat (preferred), B = ours: first start on A; SIGKILL of A
#      moves VIP, DIP and the table to ours; A back, auto_failback gives the
#      group back to heartbeat; heartbeat's graceful stop hands it to ours.
#   2. A = ours (preferred), B = heartbeat: first start on ours; ours dies,
#      heartbeat takes over; ours back takes the group home; our graceful
#      stop hands it to heartbeat at once.
# heartbeat's shell resource agents are slow under emulation: seen here,
# 6-14 s per address, 17 s for ResourceManager's status round and 20 s for
# Debian's ldirectord to start, so the limits on heartbeat's side are loose;
# the times are printed.
# e2e-timeout: 900

CTL=$BUILD/directorctl

pair_up 2
ha_conf a 10.0.0.3 10.0.1.3
ha_conf b 10.0.0.2 10.0.1.2

# logs_of NETNS: the last lines of that node's heartbeat and ldirectord logs.
logs_of() {
	local d=/tmp/e2e/ha-a
	[ $1 = dir2 ] && d=/tmp/e2e/ha-b
	echo "--- $d/ha.log"; tail -n 25 $d/ha.log
	echo "--- $d/ld.log"; tail -n 15 $d/ld.log
	echo "--- processes"; ps -o pid,etime,args -p "$(ip netns pids $1 | paste -sd,)" 2>/dev/null
}

# group_on NETNS WHO T0: VIP and DIP there, its IPVS table up, client served.
group_on() {
	local ns=$1 who=$2 t0=$3
	if wait_until 90000 holds $ns $VIP; then pass "$who holds the VIP $(($(now_ms) - t0)) ms after the event"; else fail "VIP on $who" "$(ip -n $ns addr show eth0; logs_of $ns)"; fi
	wait_until 60000 holds $ns $DIP && pass "$who holds the DIP" || fail "DIP on $who" "$(ip -n $ns addr show eth1)"
	wait_until 120000 ipvs_has $ns $(rsip 2) && pass "$who runs the IPVS table" || fail "IPVS on $who" "$(ip netns exec $ns ipvsadm -Ln; logs_of $ns)"
	wait_until 20000 served && pass "client served through $who" || fail "client via $who" "$(cli_get http://$VIP/ 2>&1)"
}

# released NETNS: neither address there, and the table cleaned (cleanstop).
released() {
	local ns=$1 who=$2
	wait_until 90000 sh -c "! ip -n $ns addr show | grep -q 'inet $VIP/'" && pass "$who released the VIP" || fail "$who release" "$(ip -n $ns addr show eth0)"
	check_not "$who released the DIP" holds $ns $DIP
	wait_until 60000 sh -c "! ip netns exec $ns ipvsadm -Ln | grep -q '$(rsip 1):80'" && pass "$who cleaned its IPVS table" || fail "$who table" "$(ip netns exec $ns ipvsadm -Ln)"
}

test_hb_a_ours_b_first_start() {
	local t0
	t0=$(now_ms)
	hb_start a dir
	dd_start b dir2
	group_on dir "heartbeat (A, preferred)" $t0
	check_not "ours (B) holds nothing" holds dir2 $VIP
	local st
	wait_until 10000 sh -c "$CTL --socket /tmp/e2e/b.sock status | grep -qE 'a +active'"
	st=$($CTL --socket /tmp/e2e/b.sock status 2>&1)
	printf '%s\n' "$st" | sed 's/^/      /'
	assert_match "ours sees heartbeat's node a active" "$st" "a +active"
	assert_match "ours sees both links to a up" "$st" "link eth0 up.*link eth1 up"
	assert_match "heartbeat sees ours (node b) active" "$(cat /tmp/e2e/ha-a/ha.log)" "Status update for node b: status active"
}

test_hb_dies_ours_takes_over() {
	local t0
	t0=$(now_ms)
	node_crash dir
	group_on dir2 "ours (B)" $t0
	assert_match "ours declared a dead" "$($CTL --socket /tmp/e2e/b.sock status 2>&1)" "a +dead"
}

test_hb_returns_and_gets_the_group_back() {
	local t0
	t0=$(now_ms)
	hb_start a dir
	group_on dir "heartbeat (A), auto_failback," $t0
	released dir2 "ours (B)"
}

test_hb_graceful_stop_hands_over_to_ours() {
	local t0 pid
	pid=$(hb_master dir) || { fail "heartbeat master" "not found in dir"; return; }
	t0=$(now_ms)
	kill -TERM $pid
	group_on dir2 "ours (B), after heartbeat's graceful stop," $t0
	# Taken on heartbeat's shutdone, not by dead-peer detection (which the
	# times above allow under emulation, with deadtime 1 s).
	grep -q "a shut down gracefully: taking over now" /tmp/e2e/ha-b/ha.log &&
		pass "ours took over on heartbeat's shutdone" || fail "ours took over on heartbeat's shutdone" "$(tail -n 30 /tmp/e2e/ha-b/ha.log)"
	wait_until 60000 eval '! hb_master dir' && pass "heartbeat exited" || fail "heartbeat exit" "$(tail -n 20 /tmp/e2e/ha-a/ha.log)"
	released dir "heartbeat (A)"
	bg_stop ddb
	node_crash dir
	node_crash dir2
}

test_ours_a_hb_b_first_start() {
	local t0
	rm -f /tmp/e2e/ha-a/ha.log /tmp/e2e/ha-b/ha.log
	t0=$(now_ms)
	dd_start a dir
	hb_start b dir2
	group_on dir "ours (A, preferred)" $t0
	check_not "heartbeat (B) holds nothing" holds dir2 $VIP
	wait_until 30000 grep -q "Status update for node a: status active" /tmp/e2e/ha-b/ha.log &&
		pass "heartbeat sees ours (node a) active" || fail "hb sees a" "$(tail -n 20 /tmp/e2e/ha-b/ha.log)"
	wait_until 10000 sh -c "$CTL --socket /tmp/e2e/a.sock status | grep -qE 'b +active'" &&
		pass "ours sees heartbeat's node b active" || fail "ours sees b" "$($CTL --socket /tmp/e2e/a.sock status 2>&1)"
}

test_ours_dies_hb_takes_over() {
	local t0
	t0=$(now_ms)
	rm -f "$BG_DIR/dda.pid"
	node_crash dir
	group_on dir2 "heartbeat (B)" $t0
}

test_ours_returns_and_gets_the_group_back() {
	local t0
	t0=$(now_ms)
	dd_start a dir
	group_on dir "ours (A), auto_failback," $t0
	released dir2 "heartbeat (B)"
}

test_our_graceful_stop_hands_over_to_hb() {
	local t0
	t0=$(now_ms)
	bg_stop dda
	group_on dir2 "heartbeat (B), after our graceful stop," $t0
	# heartbeat took it on our shutdone, not by dead-peer detection.
	grep -q "Received shutdown notice from 'a'" /tmp/e2e/ha-b/ha.log &&
		pass "heartbeat took over on our shutdone" || fail "heartbeat took over on our shutdone" "$(tail -n 40 /tmp/e2e/ha-b/ha.log)"
	released dir "ours (A)"
}
