# Heartbeats keep their pace under status and metrics load during a slow
# takeover. A and B run directord (keepalive 200 ms, deadtime 1 s, warntime
# 600 ms); B's group has a virtual of NBIG reals (a table write that takes
# seconds under emulation) and a virtual whose only real is off, so its
# fallbackcommand (3 s) runs as the group starts. While directorctl status
# and metrics scrapes hammer B, A goes standby and B takes over; B's status
# heartbeats are timed on the wire at A (kernel receive stamps). Each gap
# must stay under keepalive + GAP_MARGIN_MS; A never logs a late status
# nor sees B dead.

CTL=$BUILD/directorctl
MADDR=127.0.0.1:9773
NBIG=${NBIG:-3000}
KEEPALIVE_MS=200
# Margin over keepalive: the daemon's loop ticks every 50 ms (a heartbeat
# is due on the first tick after keepalive), and the emulated VM (TCG, two
# vCPUs shared by two directors, the 3,000-op table write, the load and the
# capture) starves a process for 100 ms and more now and then. Measured
# with the fix: idle 209-219 ms, under load 243 and 323 ms. 250 ms keeps
# the limit (450 ms) under warntime (600 ms, where the peer starts to warn)
# and far under deadtime (1 s); the loop stuck behind the director (the
# fault) stalled 5106 ms.
GAP_MARGIN_MS=${GAP_MARGIN_MS:-250}
LIMIT_MS=$((KEEPALIVE_MS + GAP_MARGIN_MS))

pair_up 2
ha_conf a 10.0.0.3 10.0.1.3
ha_conf b 10.0.0.2 10.0.1.2
cat > /tmp/e2e/slowfb.sh <<'EOS'
#!/bin/sh
# fallbackcommand: slow on purpose (a sorry server that takes 3 s to start)
sleep 3
echo "$@" >> /tmp/e2e/slowfb.ran
EOS
chmod +x /tmp/e2e/slowfb.sh
for n in a b; do
	d=/tmp/e2e/ha-$n
	{
		printf '%s\n' "virtual=10.0.0.101:80" "	real=$(rsip 1):80 masq" "	checktype=off" \
			"	fallbackcommand=/tmp/e2e/slowfb.sh" "virtual=10.0.0.102:80" "	checktype=on" "	scheduler=rr"
		for ((i = 0; i < NBIG; i++)); do
			printf '\treal=10.9.%d.%d:80 masq\n' $((i / 250)) $((i % 250 + 1))
		done
	} >> $d/ldirectord.cf
	printf '[metrics]\nlisten = "%s"\n' $MADDR > $d/settings.toml
done

# big_in NS: B's big virtual is all in the kernel.
big_in() { [ "$(ip netns exec "$1" ipvsadm -Ln -t 10.0.0.102:80 2>/dev/null | grep -c -- '->.*Masq')" -eq "$NBIG" ]; }

# gaps NS SRC SECONDS NAME: time SRC's status heartbeats at NS's eth0 in
# the background (bg name NAME); the result is in bg_log NAME.
gaps() { bg_start "$4" ip netns exec "$1" "$E2E_DIR/tools/hbgaps.py" eth0 "$2" "$3" $LIMIT_MS; }

test_pair_up() {
	dd_start a dir --settings /tmp/e2e/ha-a/settings.toml
	dd_start b dir2 --settings /tmp/e2e/ha-b/settings.toml
	if wait_until 60000 big_in dir; then pass "A holds the group, $NBIG reals in its table"; else fail "A holds the group" "$(tail -n 20 /tmp/e2e/ha-a/ha.log)"; fi
	wait_until 20000 test -s /tmp/e2e/slowfb.ran || fail "A ran the fallbackcommand" "$(tail -n 5 /tmp/e2e/ha-a/ld.log)"
	wait_until 10000 sh -c "$CTL --socket /tmp/e2e/b.sock status | grep -q 'a *active'"
}

test_heartbeats_keep_pace_through_a_loaded_takeover() {
	# Baseline: B idle.
	gaps dir 10.0.0.3 5 base
	sleep 5
	wait_until 20000 sh -c "! kill -0 $(bg_pid base) 2>/dev/null"
	local base
	base=$(bg_log base | head -n1)
	log "baseline (B idle): $base"
	[[ $base =~ status=([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -ge 10 ] && pass "baseline capture saw ${BASH_REMATCH[1]} heartbeats of B" ||
		fail "baseline capture saw B's heartbeats" "$base"

	# Load on B: status over the control socket and metrics scrapes, each
	# in a tight loop; every answer is counted.
	rm -f /tmp/e2e/ctl.n /tmp/e2e/scrape.n
	bg_start ctl bash -c "while :; do $CTL --socket /tmp/e2e/b.sock status >/dev/null 2>&1 && echo >> /tmp/e2e/ctl.n; done"
	bg_start scrape ip netns exec dir2 bash -c "while :; do curl -sf -m 10 http://$MADDR/metrics >/dev/null && echo >> /tmp/e2e/scrape.n; done"
	rm -f /tmp/e2e/slowfb.ran
	local t0 took from
	from=$(wc -l < /tmp/e2e/ha-a/ha.log)
	gaps dir 10.0.0.3 25 load
	sleep 1
	t0=$(now_ms)
	check "standby on A" $CTL --socket /tmp/e2e/a.sock standby
	if wait_until 20000 big_in dir2; then pass "B took over: $NBIG reals in its table $(($(now_ms) - t0)) ms after standby"; else fail "B took over" "$(tail -n 20 /tmp/e2e/ha-b/ha.log)"; fi
	if wait_until 20000 test -s /tmp/e2e/slowfb.ran; then pass "B ran the slow fallbackcommand $(($(now_ms) - t0)) ms after standby"; else fail "B ran the fallbackcommand" "$(tail -n 5 /tmp/e2e/ha-b/ld.log)"; fi
	took=$(($(now_ms) - t0))
	check "the takeover ended inside the capture" _alive "$(bg_pid load)"
	wait_until 30000 sh -c "! kill -0 $(bg_pid load) 2>/dev/null"
	local nctl nscrape res
	nctl=$(wc -l < /tmp/e2e/ctl.n 2>/dev/null || echo 0)
	nscrape=$(wc -l < /tmp/e2e/scrape.n 2>/dev/null || echo 0)
	bg_stop ctl; bg_stop scrape
	res=$(bg_log load)
	printf '%s\n' "$res" | sed 's/^/      /'
	log "takeover took $took ms; load answered: $nctl status, $nscrape scrapes"
	[ "$nctl" -ge 20 ] && [ "$nscrape" -ge 10 ] && pass "the load ran ($nctl status, $nscrape scrapes)" ||
		fail "the load ran" "$nctl status, $nscrape scrapes answered"
	[[ $res =~ status=([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -ge 50 ] && pass "capture saw ${BASH_REMATCH[1]} status heartbeats of B" ||
		fail "capture saw B's heartbeats" "$res"
	assert_match "no heartbeat gap over keepalive + ${GAP_MARGIN_MS} ms = $LIMIT_MS ms" "$res" "gaps_over=0( |$)"
	local since
	since=$(tail -n +"$((from + 1))" /tmp/e2e/ha-a/ha.log)
	assert_eq "A logged no late status from b" "$(grep -c 'late status from b' <<< "$since")" 0
	assert_eq "A never saw b dead" "$(grep -c 'node status.*node=b.*status=dead' <<< "$since")" 0
	check "B holds the VIP" holds dir2 $VIP
	check_not "A does not" holds dir $VIP
}
