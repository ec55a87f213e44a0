# One directord per node: with A holding the group, a second directord
# started as A on A's node refuses at once with a clear error (the lock
# next to the control socket, pid of the first), bumps no generation and
# leaves the control socket alone; the first keeps the VIP and its peer.

CTL=$BUILD/directorctl

pair_up 2
ha_conf a 10.0.0.3 10.0.1.3
ha_conf b 10.0.0.2 10.0.1.2

# a_alone MS: for MS ms, A holds the VIP and B does not.
a_alone() {
	local t0
	t0=$(now_ms)
	while [ $(($(now_ms) - t0)) -lt "$1" ]; do
		holds dir $VIP || { echo "A lost the VIP after $(($(now_ms) - t0)) ms"; return 1; }
		! holds dir2 $VIP || { echo "B holds the VIP too after $(($(now_ms) - t0)) ms"; return 1; }
		sleep 0.1
	done
}

test_second_directord_refused() {
	dd_start a dir; dd_start b dir2
	if wait_until 20000 holds dir $VIP; then pass "A holds the VIP (${WAITED_MS} ms)"; else fail "VIP on A" "$(ip -n dir addr)"; return; fi
	wait_until 10000 sh -c "$CTL --socket /tmp/e2e/b.sock status | grep -q 'a *active'" || fail "B sees A" "$($CTL --socket /tmp/e2e/b.sock status 2>&1)"
	local pid gen sock out rc t0
	pid=$(bg_pid dda)
	gen=$(cat /tmp/e2e/ha-a/state/hb_generation)
	sock=$(stat -c %i /tmp/e2e/a.sock)

	t0=$(now_ms)
	out=$(timeout -k 5 20 ip netns exec dir $BUILD/directord --node a --hadir /tmp/e2e/ha-a \
		--statedir /tmp/e2e/ha-a/state --socket /tmp/e2e/a.sock 2>&1); rc=$?
	printf '%s\n' "$out" | sed 's/^/      /'
	assert_eq "the second directord exits 1" "$rc" 1
	[ $(($(now_ms) - t0)) -lt 5000 ] && pass "it refused at once ($(($(now_ms) - t0)) ms)" || fail "refusal time" "$(($(now_ms) - t0)) ms"
	assert_eq "its error names the lock and the first's pid" "$out" \
		"directord: not starting: /tmp/e2e/a.sock.lock is held by pid $pid: another instance is running"
	assert_eq "the generation was not bumped" "$(cat /tmp/e2e/ha-a/state/hb_generation)" "$gen"
	assert_eq "the control socket is the first's" "$(stat -c %i /tmp/e2e/a.sock 2>&1)" "$sock"
	check "the first still answers on it" $CTL --socket /tmp/e2e/a.sock status
	check "the first is alive" _alive "$pid"

	# 3 s is 3 deadtimes: long enough for a stolen heartbeat port to show.
	check "A keeps the VIP and B holds nothing for 3 s" a_alone 3000
	check "B still sees A active" sh -c "$CTL --socket /tmp/e2e/b.sock status | grep -q 'a *active'"
	check "A's log shows no second start" sh -c "[ \$(grep -c 'directord starting' /tmp/e2e/ha-a/ha.log) -eq 1 ]"
}
