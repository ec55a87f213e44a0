# The command line and bad input: exit codes as ldirectord's, parse errors
# naming file and line, a missing config, an unreachable or garbage real.

LD=$BUILD/ldirectord
mkdir -p /tmp/e2e

test_exit_codes() {
	assert_eq "no command: usage, 255" "$($LD >/dev/null 2>&1; echo $?)" 255
	assert_eq "unknown command: 255" "$($LD /tmp/e2e/x.cf frobnicate >/dev/null 2>&1; echo $?)" 255
	assert_eq "missing config: 1" "$($LD /tmp/e2e/nope.cf status >/dev/null 2>&1; echo $?)" 1
	printf 'checkinterval=1\nvirtual=10.0.0.100:80\n\treal=10.0.1.11:80 route\n' > /tmp/e2e/bad.cf
	assert_eq "broken config: 2" "$($LD /tmp/e2e/bad.cf start >/dev/null 2>&1; echo $?)" 2
	assert_match "error names file and line" "$($LD /tmp/e2e/bad.cf start 2>&1)" "reading file /tmp/e2e/bad.cf at line 3"
	printf 'checkinterval=1\nvirtual=10.0.0.100:80\n\treal=10.0.1.11:80 masq\n' > /tmp/e2e/ok.cf
	assert_eq "status when stopped: 3" "$($LD /tmp/e2e/ok.cf status >/dev/null 2>&1; echo $?)" 3
	assert_eq "reload when stopped: 1" "$($LD /tmp/e2e/ok.cf reload >/dev/null 2>&1; echo $?)" 1
	assert_eq "stop when stopped: 0" "$($LD /tmp/e2e/ok.cf stop >/dev/null 2>&1; echo $?)" 0
	echo 99999 > /var/run/ldirectord.ok.cf.pid
	assert_eq "stale pid file: 1" "$($LD /tmp/e2e/ok.cf status >/dev/null 2>&1; echo $?)" 1
	rm -f /var/run/ldirectord.ok.cf.pid
	assert_eq "-v exits 0" "$($LD -v >/dev/null 2>&1; echo $?)" 0
}

test_config_lookup_in_etc_ha_d() {
	mkdir -p /etc/ha.d
	printf 'checkinterval=1\nvirtual=10.0.0.100:80\n\treal=10.0.1.11:80 masq\n' > /etc/ha.d/ldirectord.cf
	assert_match "one-argument form reads /etc/ha.d/ldirectord.cf" "$($LD status 2>&1)" "stopped for /etc/ha.d/ldirectord.cf"
	rm -f /etc/ha.d/ldirectord.cf
}

test_garbage_and_hung_reals() {
	farm_up 1
	vip_add
	# A real that answers garbage and one that accepts and never answers.
	in_rs ip addr add 10.0.1.20/16 dev eth0
	in_rs ip addr add 10.0.1.21/16 dev eth0
	in_rs busybox nc -lk -p 80 -s 10.0.1.20 -e sh -c 'printf "\001\002garbage\r\n\r\n"' >/dev/null 2>&1 &
	in_rs sh -c 'while :; do busybox nc -l -p 80 -s 10.0.1.21 -e sleep 3600; done' >/dev/null 2>&1 &
	cat > /tmp/e2e/g.cf <<EOF
checkinterval=1
negotiatetimeout=2
quiescent=yes
logfile="/tmp/e2e/g.log"
virtual=$VIP:80
	real=10.0.1.11:80 masq
	real=10.0.1.20:80 masq
	real=10.0.1.21:80 masq
	request="test.html"
	receive="ok"
EOF
	bg_start ld ip netns exec dir $LD -d /tmp/e2e/g.cf start
	wait_weight $VIP:80 10.0.1.11:80 1 20000 >/dev/null && pass "healthy real up next to bad ones" || fail "healthy real" "$(ipvs_dump)"
	sleep 4
	assert_eq "garbage-answering real stays down" "$(weight_of $VIP:80 10.0.1.20:80)" 0
	assert_eq "never-answering real stays down" "$(weight_of $VIP:80 10.0.1.21:80)" 0
	assert_eq "healthy real still up" "$(weight_of $VIP:80 10.0.1.11:80)" 1
	bg_stop ld
	assert_eq "SIGTERM with cleanstop empties our virtual" "$(in_dir ipvsadm -Ln -t $VIP:80 >/dev/null 2>&1; echo $?)" 1
	farm_down
}

# daemons CF: how many ldirectord daemons serve CF (the start parents have
# exited by then; the bracket keeps this grep from counting itself).
daemons() {
	local p
	for p in /proc/[0-9]*; do
		tr '\0' ' ' < "$p/cmdline" 2>/dev/null
		echo
	done | grep -c "ldirector[d] $1 start"
}

test_stale_pid_file_never_kills_a_lookalike() {
	printf 'checkinterval=1\nlogfile="/tmp/e2e/p.log"\nvirtual=10.0.0.100:80\n\treal=10.0.1.11:80 masq\n' > /tmp/e2e/p.cf
	touch /tmp/e2e/ldirectord.log
	tail -f /tmp/e2e/ldirectord.log >/dev/null 2>&1 &
	local tailpid=$! pf=/var/run/ldirectord.p.cf.pid
	# A crashed daemon's pid file, its pid since reused by the tail.
	echo $tailpid > $pf
	assert_match "the lookalike's command line says ldirectord" "$(tr '\0' ' ' < /proc/$tailpid/cmdline)" "ldirectord"
	assert_eq "status: stale pid file, exit 1" "$($LD /tmp/e2e/p.cf status >/dev/null 2>&1; echo $?)" 1
	assert_eq "reload: not running, exit 1" "$($LD /tmp/e2e/p.cf reload >/dev/null 2>&1; echo $?)" 1
	assert_eq "stop: nothing to stop, exit 0" "$($LD /tmp/e2e/p.cf stop >/dev/null 2>&1; echo $?)" 0
	sleep 0.5
	check "the unrelated tail -f lives on" _alive $tailpid
	# A start takes the stale file over, and stop stops only the daemon.
	check "start over the stale pid file" $LD /tmp/e2e/p.cf start
	local dpid
	dpid=$(cat $pf)
	assert_match "status names the daemon" "$($LD /tmp/e2e/p.cf status 2>/dev/null)" "running with pid: $dpid\$"
	check_not "the daemon is not the tail" test "$dpid" = "$tailpid"
	check "stop" $LD /tmp/e2e/p.cf stop
	wait_until 3000 eval "! _alive $dpid" && pass "the daemon is gone" || fail "the daemon is gone" "pid $dpid"
	check "the tail -f still lives" _alive $tailpid
	kill $tailpid
}

test_two_starts_at_once_one_daemon() {
	local cf=/tmp/e2e/two.cf round rcs out
	printf 'checkinterval=1\nlogfile="/tmp/e2e/two.log"\nvirtual=10.0.0.100:80\n\treal=10.0.1.11:80 masq\n' > $cf
	for round in 1 2 3; do
		rm -f "$E2E_TMP"/start.*
		$LD $cf start > "$E2E_TMP/start.1" 2>&1 & local p1=$!
		$LD $cf start > "$E2E_TMP/start.2" 2>&1 & local p2=$!
		wait $p1; rcs="$?"
		wait $p2; rcs="$rcs $?"
		out=$(cat "$E2E_TMP"/start.*)
		log "round $round: exit codes $rcs; $(echo $out)"
		assert_eq "round $round: one daemon" "$(daemons $cf)" 1
		# The loser either saw the daemon (ldirectord's "Exiting", 0) or
		# lost the lock race: exit 1 saying so.
		case "$rcs" in
		"0 0") assert_match "round $round: the second start saw the first" "$out" "Exiting from ldirectord start" ;;
		"0 1" | "1 0") assert_match "round $round: the loser says why" "$out" "already running with pid [0-9]+" ;;
		*) fail "round $round: exit codes" "$rcs: $out" ;;
		esac
		check "round $round: stop" $LD $cf stop
		assert_eq "round $round: no daemon left" "$(daemons $cf)" 0
	done
}

test_execute_cycle_refused() {
	printf 'execute=/tmp/e2e/cyc2.cf\nvirtual=10.0.0.100:80\n\treal=10.0.1.11:80 masq\n' > /tmp/e2e/cyc1.cf
	printf '# two\nexecute=/tmp/e2e/cyc1.cf\nvirtual=10.0.0.101:80\n\treal=10.0.1.11:80 masq\n' > /tmp/e2e/cyc2.cf
	local out rc
	out=$(timeout 20 $LD /tmp/e2e/cyc1.cf status 2>&1); rc=$?
	assert_eq "execute= cycle: status exits 2" "$rc" 2
	assert_match "the cycle is named at its line" "$out" "reading file /tmp/e2e/cyc2.cf at line 2: .*cycle"
	assert_eq "no ldirectord left running" "$(for p in /proc/[0-9]*; do tr '\0' ' ' < $p/cmdline 2>/dev/null; echo; done | grep -c 'ldirector[d] /tmp/e2e/cyc')" 0
}
