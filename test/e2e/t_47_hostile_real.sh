# Hostile real servers beside healthy ones (issue 9 item 3): eight reals
# answer the http check with an endless status line, endless headers or an
# endless chunked body. Our ldirectord must keep the three nginx reals up,
# take every hostile one out with a reason in its log, and stay under
# RSS_MAX_KIB while it keeps checking them. (Unbounded, eight such reals
# took ldirectord to 6.9 GB RSS in 20 s.)

LD=$BUILD/ldirectord
CFG=/tmp/e2e/ld47.cf
SVC=$VIP:80
RSS_MAX_KIB=$((64 * 1024))
R1=$(rsip 1) R2=$(rsip 2) R3=$(rsip 3)
# port 8082: endless status line, 8083: endless headers, 8084: endless
# chunked body (tools/hostile_http.py)
HOSTILE="$(rsip 4):8082 $(rsip 5):8083 $(rsip 6):8084 $(rsip 7):8082 $(rsip 8):8083 $(rsip 9):8084 $R1:8082 $R2:8083"

farm_up 9
vip_add
bg_start hostile in_rs "$E2E_DIR/tools/hostile_http.py" 8082 8083 8084
wait_until 10000 in_rs sh -c "ss -Hltn 'sport = :8084' | grep -q ." || die "hostile server did not start"

mkdir -p /tmp/e2e
{
	printf '%s\n' checktimeout=2 negotiatetimeout=2 checkinterval=1 failurecount=1 \
		'logfile="/tmp/e2e/ld47.log"' "virtual=$SVC"
	for r in $R1:80 $R2:80 $R3:80 $HOSTILE; do printf '\treal=%s masq 1\n' "$r"; done
	printf '\t%s\n' service=http 'request="test.html"' 'receive="ok"' scheduler=rr quiescent=no
} > $CFG
# The hostile reals are in the table at weight 1 before the start, so
# ldirectord takes them as up and logs why each goes down.
in_dir ipvsadm -A -t $SVC -s rr
for r in $HOSTILE; do in_dir ipvsadm -a -t $SVC -r "$r" -m -w 1; done

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

test_hostile_reals_bounded() {
	local pid r ok=1 max=0 rss conns0 conns1 i
	check "start exits 0" in_dir $LD $CFG start
	pid=$(cat /var/run/ldirectord.ld47.cf.pid 2>/dev/null)
	[ -n "$pid" ] || { fail "pid file" "none"; return; }
	for r in $R1 $R2 $R3; do
		wait_weight $SVC $r:80 1 20000 >/dev/null && pass "healthy real $r up" || fail "healthy real $r" "weight $(weight_of $SVC $r:80)"
	done
	for r in $HOSTILE; do
		wait_weight $SVC "$r" absent 20000 >/dev/null || { ok=; fail "hostile real $r out" "weight $(weight_of $SVC "$r")"; }
	done
	[ -n "$ok" ] && pass "all 8 hostile reals taken out"
	# Every kind of hostility is named in the log.
	wait_until 5000 grep -q "status line longer than" /tmp/e2e/ld47.log &&
		pass "log: status line too long" || fail "log: status line" "$(grep -i 'down' /tmp/e2e/ld47.log | head -3)"
	grep -q "more than 128 header lines" /tmp/e2e/ld47.log &&
		pass "log: too many headers" || fail "log: too many headers" "$(grep ':8083.*down' /tmp/e2e/ld47.log | head -1)"
	grep -q ":8084.*does not match receive" /tmp/e2e/ld47.log &&
		pass "log: endless chunked body" || fail "log: endless chunked body" "$(grep ':8084.*down' /tmp/e2e/ld47.log | head -1)"
	# 20 s of checks against the hostile reals: RSS stays bounded.
	conns0=$(bg_log hostile | grep -c '^conn')
	for ((i = 0; i < 20; i++)); do
		rss=$(rss_kib "$pid")
		[ -n "$rss" ] || { fail "ldirectord alive" "pid $pid gone"; return; }
		[ "$rss" -gt "$max" ] && max=$rss
		sleep 1
	done
	conns1=$(bg_log hostile | grep -c '^conn')
	log "hostile connections in 20 s: $((conns1 - conns0)); ldirectord max RSS ${max} KiB"
	[ $((conns1 - conns0)) -ge 40 ] && pass "hostile reals kept being checked ($((conns1 - conns0)) connections in 20 s)" ||
		fail "hostile reals checked" "$((conns1 - conns0)) connections in 20 s"
	[ "$max" -le $RSS_MAX_KIB ] && pass "ldirectord RSS stayed under $((RSS_MAX_KIB / 1024)) MiB (max ${max} KiB)" ||
		fail "ldirectord RSS bound" "max ${max} KiB > ${RSS_MAX_KIB} KiB"
	for r in $R1 $R2 $R3; do
		assert_eq "healthy real $r still up" "$(weight_of $SVC $r:80)" 1
	done
	assert_match "a client is served through the VIP" "$(cli_get http://$VIP/)" "hello from"
	check "stop exits 0" in_dir $LD $CFG stop
}
