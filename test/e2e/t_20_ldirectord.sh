# ldirectord replacement on a NAT farm of 3 nginx real servers: the table
# after start, quiescent and non-quiescent failure and recovery, fallback,
# a client through the VIP, reload (broken, add/remove, autoreload), the
# LSB command line, cleanstop, and a restart that adopts the table (no
# write to the kernel, no real re-created, a connection kept). Runs our
# daemon in daemon mode.

LD=$BUILD/ldirectord
CFG=/tmp/e2e/ld.cf
SVC=$VIP:80
R1=$(rsip 1) R2=$(rsip 2) R3=$(rsip 3)

write_cfg() { # $1: extra global lines, $2: extra virtuals
	mkdir -p /tmp/e2e
	cat > $CFG.new <<EOF
checktimeout=2
negotiatetimeout=2
checkinterval=1
failurecount=1
logfile="/tmp/e2e/ld.log"
fallback=127.0.0.1:80 gate
$1
virtual=$VIP:80
	real=$R1:80 masq 1
	real=$R2:80 masq 2
	real=$R3:80 masq 3
	service=http
	request="test.html"
	receive="ok"
	scheduler=rr
	quiescent=yes
$2
EOF
	mv $CFG.new $CFG
}

farm_up 3
vip_add
vip_add 10.0.0.101
# The fallback: a "sorry" server on the director itself.
mkdir -p /tmp/e2e/sorry && echo sorry > /tmp/e2e/sorry/index.html
in_dir busybox httpd -p 80 -h /tmp/e2e/sorry
# A virtual service nobody configured: must never be touched.
in_dir ipvsadm -A -t 10.0.0.200:443 -s wlc
in_dir ipvsadm -a -t 10.0.0.200:443 -r 10.0.1.99:443 -m -w 7
# A fallbackcommand that starts a "sorry" helper in the background, its
# stdout not redirected, as many do: it is done when the shell is.
cat > /tmp/e2e/fb.sh <<'EOF'
#!/bin/sh
echo "$*" >> /tmp/e2e/fb.log
if [ "$1" = start ]; then sleep 60 & echo $! >> /tmp/e2e/fb.pids; fi
exit 0
EOF
chmod 755 /tmp/e2e/fb.sh
rm -f /tmp/e2e/fb.log /tmp/e2e/fb.pids
write_cfg "autoreload=no" "	fallbackcommand=/tmp/e2e/fb.sh"

test_start_and_status() {
	check "start exits 0" in_dir $LD $CFG start
	assert_eq "status: running" "$(in_dir $LD $CFG status >/dev/null 2>&1; echo $?)" 0
	assert_match "status says running on stdout" "$(in_dir $LD $CFG status 2>/dev/null)" "running with pid"
	assert_eq "second start is a no-op (exit 0)" "$(in_dir $LD $CFG start >/dev/null 2>&1; echo $?)" 0
	# First checks are spread over the first second, in no fixed order.
	wait_weight $SVC $R1:80 1 20000 >/dev/null && pass "real 1 up at weight 1" || fail "real 1 weight" "$(weight_of $SVC $R1:80)"
	wait_weight $SVC $R2:80 2 5000 >/dev/null && pass "real 2 up at weight 2" || fail "real 2 weight" "$(weight_of $SVC $R2:80)"
	wait_weight $SVC $R3:80 3 5000 >/dev/null && pass "real 3 up at weight 3" || fail "real 3 weight" "$(weight_of $SVC $R3:80)"
	wait_weight $SVC 127.0.0.1:80 absent 5000 >/dev/null
	assert_eq "no fallback while reals are up" "$(weight_of $SVC 127.0.0.1:80)" absent
	assert_match "scheduler rr" "$(ipvs_dump -t $SVC)" "TCP  $SVC rr"
	ipvs_dump
}

test_quiescent_failure_and_client() {
	rs_fail $R1
	local ms
	ms=$(wait_weight $SVC $R1:80 0 10000) && pass "failed real quiesced (weight 0) in ${ms} ms" || fail "quiesce" "weight $(weight_of $SVC $R1:80)"
	local tally
	tally=$(cli_tally 12 http://$VIP/)
	log "client tally with $R1 down: $(echo $tally)"
	case $tally in *"$R1"*) fail "client avoids the failed real" "$tally" ;; *) pass "client avoids the failed real" ;; esac
	assert_match "client reaches the healthy reals" "$tally" "hello from $R2"
	rs_heal $R1
	ms=$(wait_weight $SVC $R1:80 1 10000) && pass "healed real back to weight 1 in ${ms} ms" || fail "heal" "weight $(weight_of $SVC $R1:80)"
	tally=$(cli_tally 12 http://$VIP/)
	assert_match "client reaches the healed real" "$tally" "hello from $R1"
}

test_all_down_fallback() {
	rs_fail $R1; rs_fail $R2; rs_fail $R3
	wait_weight $SVC 127.0.0.1:80 1 10000 >/dev/null && pass "fallback in when all reals are down" || fail "fallback in" "$(ipvs_dump -t $SVC)"
	ipvs_dump -t $SVC
	assert_eq "client gets the sorry page" "$(cli_get http://$VIP/)" sorry
	wait_until 10000 sh -c "tail -n1 /tmp/e2e/fb.log | grep -q '^start $SVC tcp'" && pass "fallbackcommand start ran" || fail "fallbackcommand start" "$(cat /tmp/e2e/fb.log)"
	# Its "sleep 60 &" holds the shell's stdout for a minute; the director
	# must go on at once (checkinterval 1: a healed real is in within
	# seconds, where waiting for the child would take 60).
	rs_heal $R2
	wait_weight $SVC $R2:80 2 10000 >/dev/null && pass "healed real in while the fallbackcommand's background child runs" || fail "real in" "$(ipvs_dump -t $SVC)"
	local bg
	bg=$(tail -n1 /tmp/e2e/fb.pids 2>/dev/null)
	[ -n "$bg" ] && kill -0 "$bg" 2>/dev/null && pass "fallbackcommand's background child left running" || fail "background child" "pid '$bg' gone"
	wait_until 10000 sh -c "tail -n1 /tmp/e2e/fb.log | grep -q '^stop $SVC tcp'" && pass "fallbackcommand stop ran" || fail "fallbackcommand stop" "$(cat /tmp/e2e/fb.log)"
	kill $(cat /tmp/e2e/fb.pids) 2>/dev/null
	wait_weight $SVC 127.0.0.1:80 absent 5000 >/dev/null && pass "fallback out once a real is up" || fail "fallback out" "$(ipvs_dump -t $SVC)"
	assert_eq "client reaches the only healthy real" "$(cli_tally 6 http://$VIP/)" "6 hello from $R2"
	rs_heal $R1; rs_heal $R3
	# Every real back at its weight: the next test snapshots the table.
	wait_weight $SVC $R1:80 1 10000 >/dev/null || fail "real 1 healed" "$(ipvs_dump -t $SVC)"
	wait_weight $SVC $R3:80 3 10000 >/dev/null || fail "real 3 healed" "$(ipvs_dump -t $SVC)"
}

test_reload_broken_keeps_table() {
	local before after
	# A settled table: all three reals at their configured weights.
	wait_weight $SVC $R1:80 1 10000 >/dev/null
	wait_weight $SVC $R2:80 2 10000 >/dev/null
	wait_weight $SVC $R3:80 3 10000 >/dev/null
	before=$(ipvs_table)
	cp $CFG /tmp/e2e/good.cf
	printf 'checkinterval=1\nvirtual=%s:80\n\treal=%s:80 masq\n\tscheduler=nonsense\n' $VIP $R1 > $CFG
	# ldirectord parses before acting: reload of a broken file exits 2.
	assert_eq "reload with a broken file exits 2" "$(in_dir $LD $CFG reload >/dev/null 2>&1; echo $?)" 2
	# Send the HUP ourselves as heartbeat or an admin would.
	kill -HUP "$(cat /var/run/ldirectord.ld.cf.pid)"
	sleep 3
	after=$(ipvs_table)
	assert_eq "table unchanged after a broken reload" "$after" "$before"
	assert_match "error logged with file and line" "$(cat /tmp/e2e/ld.log)" "reading file $CFG at line 4"
	cp /tmp/e2e/good.cf $CFG
	assert_eq "daemon still running" "$(in_dir $LD $CFG status >/dev/null 2>&1; echo $?)" 0
}

test_reload_add_remove() {
	# Add a virtual, remove none yet.
	write_cfg "autoreload=no" "virtual=10.0.0.101:8080
	real=$R1:8080 masq 5
	service=http
	request=\"test.html\"
	receive=\"ok\"
	quiescent=no"
	check "reload" in_dir $LD $CFG reload
	wait_weight 10.0.0.101:8080 $R1:8080 5 10000 >/dev/null && pass "added virtual appears" || fail "added virtual" "$(ipvs_dump)"
	assert_eq "client through the new VIP" "$(cli_get http://10.0.0.101:8080/)" "hello from $R1"
	# quiescent=no: a failed real is removed, then comes back.
	rs_fail $R1
	wait_weight 10.0.0.101:8080 $R1:8080 absent 10000 >/dev/null && pass "quiescent=no removes the failed real" || fail "remove" "$(ipvs_dump)"
	rs_heal $R1
	wait_weight 10.0.0.101:8080 $R1:8080 5 10000 >/dev/null && pass "and re-adds it when healed" || fail "re-add" "$(ipvs_dump)"
	# Remove the first virtual: autoreload picks up the edit by itself.
	cat > $CFG.new <<EOF
checkinterval=1
autoreload=yes
logfile="/tmp/e2e/ld.log"
virtual=10.0.0.101:8080
	real=$R1:8080 masq 5
	real=$R2:8080 masq 6
	service=http
	request="test.html"
	receive="ok"
EOF
	mv $CFG.new $CFG
	check "reload to switch autoreload on" in_dir $LD $CFG reload
	wait_until 10000 sh -c "! ip netns exec dir ipvsadm -Ln -t $SVC" && pass "removed virtual goes" || fail "removed virtual" "$(ipvs_dump)"
	wait_weight 10.0.0.101:8080 $R2:8080 6 10000 >/dev/null && pass "real added by the reload" || fail "real added" "$(ipvs_dump)"
	sed -i "s/real=$R2:8080 masq 6/real=$R2:8080 masq 9/" $CFG
	wait_weight 10.0.0.101:8080 $R2:8080 9 10000 >/dev/null && pass "autoreload applies an edited weight" || fail "autoreload" "$(ipvs_dump)"
	assert_eq "foreign service untouched" "$(weight_of 10.0.0.200:443 10.0.1.99:443)" 7
}

test_stop_cleanstop() {
	check "stop exits 0" in_dir $LD $CFG stop
	assert_eq "managed virtual removed (cleanstop)" "$(in_dir ipvsadm -Ln -t 10.0.0.101:8080 >/dev/null 2>&1; echo $?)" 1
	assert_eq "foreign service still there" "$(weight_of 10.0.0.200:443 10.0.1.99:443)" 7
	assert_eq "status after stop exits 3" "$(in_dir $LD $CFG status >/dev/null 2>&1; echo $?)" 3
	assert_eq "pid file removed" "$(test -e /var/run/ldirectord.ld.cf.pid && echo present || echo gone)" gone
	ipvs_dump
}

# conns: each destination of our virtuals with its total connection count.
# A destination the daemon deleted and re-added starts again from 0.
conns() {
	local svc
	for svc in $SVC $VIP:9000; do
		ipvs_dump --stats -t "$svc" | awk -v s="$svc" '$1 == "->" && $2 ~ /:[0-9]+$/ { print s, $2, $3 }'
	done
}

# conns_total N: true when the counters of conns add up to N. The kernel
# publishes the per-CPU counters only when its estimator runs (every 2 s),
# so a dump just after the traffic can lag behind it.
conns_total() {
	[ "$(conns | awk '{ n += $3 } END { print n + 0 }')" = "$1" ]
}

test_cleanstop_no_keeps_table() {
	command -v socat >/dev/null || skip "socat not installed"
	# An echo service on real 3 for a connection that lives across the
	# restart (nginx closes idle keep-alive connections after 5 s).
	bg_start echo ip netns exec rs socat TCP-LISTEN:9000,bind=$R3,reuseaddr,fork EXEC:cat
	local echo9000="virtual=$VIP:9000
	real=$R3:9000 masq 4
	checktype=connect
	quiescent=no"
	write_cfg "cleanstop=no" "$echo9000"
	check "start" in_dir $LD $CFG start
	wait_weight $SVC $R1:80 1 20000 >/dev/null || fail "real 1 up" "$(ipvs_dump)"
	wait_weight $SVC $R2:80 2 10000 >/dev/null || fail "real 2 up" "$(ipvs_dump)"
	wait_weight $SVC $R3:80 3 10000 >/dev/null || fail "real 3 up" "$(ipvs_dump)"
	wait_weight $VIP:9000 $R3:9000 4 10000 >/dev/null || fail "echo real up" "$(ipvs_dump)"
	# Connections on every real, and one that stays open.
	cli_tally 6 http://$VIP/ >/dev/null
	mkfifo "$E2E_TMP/conn.in"
	bg_start conn sh -c "exec ip netns exec cli socat -T 600 - TCP:$VIP:9000 < $E2E_TMP/conn.in"
	exec 7> "$E2E_TMP/conn.in"
	echo before-restart >&7
	wait_until 5000 grep -q before-restart "$E2E_TMP/conn.log" || fail "long-lived connection through the VIP" "$(bg_log conn)"
	local table0 conns0 n0 new writes
	# 6 HTTP connections and the echo one, once the kernel has counted them.
	wait_until 10000 conns_total 7 || fail "the kernel counted 7 connections" "$(conns)"
	table0=$(ipvs_table)
	conns0=$(conns)
	log "connections per real before the restart: $(echo $conns0)"
	check "stop" in_dir $LD $CFG stop
	assert_eq "cleanstop=no leaves the table as it was" "$(ipvs_table)" "$table0"
	# A restart adopts the table without disturbing serving reals: nothing
	# is written to the kernel, no real re-created, no connection broken.
	write_cfg "" "$echo9000"
	n0=$(wc -l < /tmp/e2e/ld.log)
	check "start again" in_dir $LD $CFG start
	# Let every check report (checkinterval 1): a result that disagreed
	# with the adopted table would show as a write.
	sleep 5
	new=$(tail -n +$((n0 + 1)) /tmp/e2e/ld.log)
	assert_match "the restarted daemon logs to the same file" "$new" "Starting Linux Director"
	writes=$(printf '%s\n' "$new" | grep -E '(Added|Updated|Removed|Deleted|Quiescent|Restored|Purged) (real|virtual|fallback) server')
	assert_eq "restart wrote nothing to the kernel (no op logged)" "$writes" ""
	assert_eq "restart left the table as it was" "$(ipvs_table)" "$table0"
	assert_eq "connection counters kept (no real re-created)" "$(conns)" "$conns0"
	echo after-restart >&7
	wait_until 5000 grep -q after-restart "$E2E_TMP/conn.log" && pass "a connection through the VIP survives the restart" ||
		fail "a connection through the VIP survives the restart" "$(bg_log conn)"
	exec 7>&-
	bg_stop conn
	bg_stop echo
	check "final stop" in_dir $LD $CFG stop
}
