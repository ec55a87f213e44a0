# Serial media over a pty pair between the two directors (socat, in the
# root namespace, so node_crash leaves it; both director namespaces see
# /tmp/ttyA and /tmp/ttyB). One group, the VIP only (heartbeat's shell
# agents are slow under emulation).
#   1. ours + ours, ha.cf with only "serial": one holder, the link shown up;
#      SIGKILL of the holder: the other takes over by serial deadtime.
#   2. ours + ours, serial + ucast: the network links cut, the serial link
#      keeps the pair from split brain.
#   3. heartbeat 3.0.6 (A) + ours (B), serial only: each sees the other's
#      link up; heartbeat killed, ours takes over; then ours (A) +
#      heartbeat (B): ours killed, heartbeat takes over.
# e2e-timeout: 600

CTL=$BUILD/directorctl

pair_up 1

# serial_conf NODE TTY [ucast]: ha_conf's files with the VIP as the only
# resource and serial TTY as the medium (plus the ucast lines with "ucast").
serial_conf() {
	local d=/tmp/e2e/ha-$1 peer=10.0.0.3 peer1=10.0.1.3
	[ $1 = b ] && peer=10.0.0.2 peer1=10.0.1.2
	ha_conf $1 $peer $peer1 "serial $2"
	[ "${3:-}" = ucast ] || sed -i '/^[[:space:]]*ucast /d' $d/ha.cf
	sed -i 's/^[[:space:]]*baud .*//' $d/ha.cf
	sed -i '1i baud 19200' $d/ha.cf
	echo "a $VIP/24/eth0" > $d/haresources
}

# link_up: a fresh pty pair (the old one dies with a node's tty).
link_up() {
	bg_stop socat 2>/dev/null
	rm -f /tmp/ttyA /tmp/ttyB
	bg_start socat socat PTY,link=/tmp/ttyA,raw,echo=0 PTY,link=/tmp/ttyB,raw,echo=0
	wait_until 5000 sh -c '[ -e /tmp/ttyA ] && [ -e /tmp/ttyB ]' || die "socat: no pty pair: $(bg_log socat)"
}

# one_holder_for MS: never both holders during MS milliseconds.
one_holder_for() {
	local end=$(($(now_ms) + $1))
	while [ $(now_ms) -lt $end ]; do
		if holds dir $VIP && holds dir2 $VIP; then return 1; fi
		sleep 0.1
	done
}

takeover_to() {
	local ns=$1 who=$2 t0=$3
	if wait_until 60000 holds $ns $VIP; then pass "$who holds the VIP $(($(now_ms) - t0)) ms after the kill"; else fail "VIP on $who" "$(ip -n $ns addr show eth0)"; fi
}

stop_all() {
	bg_stop dda 2>/dev/null; bg_stop ddb 2>/dev/null
	node_crash dir; node_crash dir2
	bg_stop socat 2>/dev/null
}

test_serial_only_pair() {
	serial_conf a /tmp/ttyA
	serial_conf b /tmp/ttyB
	link_up
	dd_start a dir; dd_start b dir2
	if wait_until 30000 holds dir $VIP; then pass "A (preferred) holds the VIP over serial only (${WAITED_MS} ms)"; else fail "VIP on A" "$(tail -n 20 /tmp/e2e/ha-a/ha.log)"; fi
	wait_until 10000 sh -c "$CTL --socket /tmp/e2e/b.sock status | grep -q 'link /tmp/ttyB up'"
	local st
	st=$($CTL --socket /tmp/e2e/b.sock status 2>&1)
	printf '%s\n' "$st" | sed 's/^/      /'
	assert_match "B sees A active" "$st" "a +active"
	assert_match "B shows the serial link up" "$st" "link /tmp/ttyB up"
	one_holder_for 3000 && pass "one holder for 3 s" || fail "double holders" "$(ip -n dir2 addr show eth0)"
	local t0=$(now_ms)
	rm -f "$BG_DIR/dda.pid"
	node_crash dir
	takeover_to dir2 "B" $t0
	assert_match "B declared A dead" "$($CTL --socket /tmp/e2e/b.sock status 2>&1)" "a +dead"
	stop_all
}

test_serial_keeps_pair_without_network() {
	serial_conf a /tmp/ttyA ucast
	serial_conf b /tmp/ttyB ucast
	link_up
	dd_start a dir; dd_start b dir2
	wait_until 30000 holds dir $VIP && pass "A holds the VIP (serial + ucast)" || fail "VIP on A" "$(tail -n 20 /tmp/e2e/ha-a/ha.log)"
	wait_until 10000 sh -c "$CTL --socket /tmp/e2e/b.sock status | grep -q 'link eth0 up'"
	ip link set d2 down; ip link set d3 down
	wait_until 10000 sh -c "$CTL --socket /tmp/e2e/b.sock status | grep -q 'link eth0 dead'" &&
		pass "B sees the network links to A dead" || fail "links" "$($CTL --socket /tmp/e2e/b.sock status 2>&1)"
	one_holder_for 5000 && pass "no split brain with the network cut for 5 s (deadtime 1 s)" || fail "split brain" "$(tail -n 10 /tmp/e2e/ha-b/ha.log)"
	local st
	st=$($CTL --socket /tmp/e2e/b.sock status 2>&1)
	printf '%s\n' "$st" | sed 's/^/      /'
	assert_match "B still sees A active" "$st" "a +active"
	assert_match "over the serial link" "$st" "link /tmp/ttyB up"
	check "A keeps the VIP" holds dir $VIP
	ip link set d2 master pub up; ip link set d3 master priv up
	stop_all
}

test_heartbeat_a_ours_b() {
	serial_conf a /tmp/ttyA
	serial_conf b /tmp/ttyB
	link_up
	hb_start a dir
	dd_start b dir2
	if wait_until 90000 holds dir $VIP; then pass "heartbeat (A) holds the VIP (${WAITED_MS} ms)"; else fail "VIP on heartbeat" "$(tail -n 30 /tmp/e2e/ha-a/ha.log)"; fi
	wait_until 30000 grep -q "Link b:/tmp/ttyA up" /tmp/e2e/ha-a/ha.log &&
		pass "heartbeat logs the serial link to ours up" || fail "hb link" "$(grep -i 'link\|serial\|tty' /tmp/e2e/ha-a/ha.log | tail -n 20)"
	wait_until 30000 grep -q "Status update for node b: status active" /tmp/e2e/ha-a/ha.log &&
		pass "heartbeat sees ours active" || fail "hb sees b" "$(tail -n 20 /tmp/e2e/ha-a/ha.log)"
	wait_until 10000 sh -c "$CTL --socket /tmp/e2e/b.sock status | grep -q 'link /tmp/ttyB up'" &&
		pass "ours shows the serial link to heartbeat up" || fail "our link" "$($CTL --socket /tmp/e2e/b.sock status 2>&1)"
	one_holder_for 3000 && pass "one holder" || fail "double holders" ""
	local t0=$(now_ms)
	node_crash dir
	takeover_to dir2 "ours (B)" $t0
	stop_all
}

test_ours_a_heartbeat_b() {
	serial_conf a /tmp/ttyA
	serial_conf b /tmp/ttyB
	link_up
	dd_start a dir
	hb_start b dir2
	if wait_until 60000 holds dir $VIP; then pass "ours (A) holds the VIP (${WAITED_MS} ms)"; else fail "VIP on ours" "$(tail -n 30 /tmp/e2e/ha-a/ha.log)"; fi
	wait_until 60000 grep -q "Link a:/tmp/ttyB up" /tmp/e2e/ha-b/ha.log &&
		pass "heartbeat logs the serial link to ours up" || fail "hb link" "$(tail -n 30 /tmp/e2e/ha-b/ha.log)"
	wait_until 30000 sh -c "$CTL --socket /tmp/e2e/a.sock status | grep -qE 'b +active'" &&
		pass "ours sees heartbeat active" || fail "ours sees b" "$($CTL --socket /tmp/e2e/a.sock status 2>&1)"
	one_holder_for 3000 && pass "one holder" || fail "double holders" ""
	local t0=$(now_ms)
	rm -f "$BG_DIR/dda.pid"
	node_crash dir
	if wait_until 90000 holds dir2 $VIP; then pass "heartbeat (B) takes over $(($(now_ms) - t0)) ms after ours died"; else fail "VIP on heartbeat" "$(tail -n 30 /tmp/e2e/ha-b/ha.log)"; fi
	stop_all
}
