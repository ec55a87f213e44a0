# Resource scripts that fail or hang on stop: the group stays held by the
# node that could not stop it (the peer never takes it meanwhile: no two
# holders), the stop is retried, directorctl status reports it, and once
# the script stops cleanly the group moves. Holders are read from the
# kernel's address events (tools/pairfaults.sh).
# e2e-timeout: 420
. "$E2E_DIR/tools/pairfaults.sh"
CTL=$BUILD/directorctl
pf_setup

# haresources: a resource script "stuck" between the DIP and the director,
# so a stop runs ldirectord's, then stuck's. stuck fails its stop while
# HADIR/stuck.fail exists and hangs in it while HADIR/stuck.hang exists.
for n in a b; do
	d=/tmp/e2e/ha-$n
	mkdir -p $d/resource.d
	cat > $d/resource.d/stuck <<-EOF
		#!/bin/sh
		d=$d
		case "\$1" in
		start) touch \$d/stuck.running ;;
		stop)
		    [ -e \$d/stuck.hang ] && sleep 3600
		    [ -e \$d/stuck.fail ] && { echo "stuck: cannot stop" >&2; exit 1; }
		    rm -f \$d/stuck.running ;;
		status) [ -e \$d/stuck.running ] && echo running || echo stopped ;;
		esac
		exit 0
	EOF
	chmod 755 $d/resource.d/stuck
	rm -f $d/stuck.*
	echo "a $VIP/24/eth0 $DIP/16/eth1 stuck ldirectord::ldirectord.cf" > $d/haresources
	printf '[heartbeat]\nscript_timeout = "3s"\n' > $d/settings.toml
done

status_of() { $CTL --socket /tmp/e2e/$1.sock status 2>&1; }

# stuck_handover FROM(a|b) NS_FROM NS_TO MODE(fail|hang) HOW(standby|term):
# FROM holds the group, its stuck script starts to fail (or hang) on stop,
# and FROM is asked to hand the group over. For STUCK_SECS the other node
# must not hold the VIP; then the script is healed and the group must move.
STUCK_SECS=12
stuck_handover() {
	local from=$1 nsf=$2 nst=$3 mode=$4 how=$5 to=a
	[ "$from" = a ] && to=b
	local d=/tmp/e2e/ha-$from
	pf_mon_start
	local t0 th t1
	t0=$(now_ms)
	touch $d/stuck.$mode
	if [ "$how" = term ]; then
		kill -TERM "$(bg_pid dd$from)"
	else
		check "$from: standby asked" $CTL --socket /tmp/e2e/$from.sock standby
	fi
	if wait_until 40000 sh -c "$CTL --socket /tmp/e2e/$from.sock status 2>&1 | grep -q 'STOP FAILED'"; then
		pass "$from reports the failing stop ($mode, ${WAITED_MS} ms)"
		log "$(status_of $from | grep -A1 'held here' | head -n 2)"
	else
		fail "$from reports the failing stop ($mode)" "$(status_of $from; tail -n 15 $d/ha.log)"
	fi
	assert_match "$from: the group is still held there" "$(status_of $from)" "$VIP/24/eth0 +held here"
	sleep $STUCK_SECS
	if [ "$mode" = fail ]; then
		# 1.2 s a try, then 1 s, 2 s, 4 s... between tries: several in 12 s.
		assert_match "$from retried the stop" "$(status_of $from | grep 'STOP FAILED')" "STOP FAILED ([2-9]|[1-9][0-9]+) times"
	fi
	check_not "$to does not hold the VIP while $from's stop fails" holds $nst $VIP
	if [ "$how" = term ]; then
		check "$from's directord keeps running while its stop fails" pf_running dd$from
	fi
	th=$(now_ms)
	rm -f $d/stuck.$mode
	if wait_until 45000 holds $nst $VIP; then
		pass "$to took the group once $from's stop succeeded ($((WAITED_MS)) ms after the heal)"
	else
		fail "$to took the group after the heal" "$(status_of $from; tail -n 15 $d/ha.log)"
	fi
	sleep 1
	t1=$(now_ms)
	pf_mon_stop
	local fig
	fig=$(pf_holders "$t0" "$t1")
	log "holders: $fig"
	assert_eq "never two holders ($mode, $how)" "$(pf_fig "$fig" double_ms)" 0
	assert_eq "final holder" "$(pf_fig "$fig" final)" $to
	check_not "$from no longer holds the VIP" holds $nsf $VIP
	check_not "$from no longer holds the DIP" holds $nsf $DIP
	if [ "$how" != term ]; then
		check_not "$from: no failing stop reported any more" sh -c "$CTL --socket /tmp/e2e/$from.sock status 2>&1 | grep -q 'STOP FAILED'"
	fi
	return 0
}

test_failing_stop_on_standby() {
	dd_start a dir --settings /tmp/e2e/ha-a/settings.toml
	dd_start b dir2 --settings /tmp/e2e/ha-b/settings.toml
	pf_pair_steady || { fail "pair steady" ""; return 0; }
	stuck_handover a dir dir2 fail standby
}

# B holds the group now (standby moved it, auto_failback does not bring it
# back while A runs). B's stop hangs: each run is cut at script_timeout.
test_hanging_stop_on_standby() {
	holds dir2 $VIP || { fail "B holds the group" "$(ip -n dir2 addr)"; return 0; }
	stuck_handover b dir2 dir hang standby
	assert_match "B logged the cut script run" "$(grep -c 'resource stop failed' /tmp/e2e/ha-b/ha.log)" '^[1-9]'
}

# A graceful stop (SIGTERM) whose stop fails: directord does not exit, so
# the peer does not take a group that may still be up; it exits once the
# stop succeeds, and B takes over.
test_sigterm_with_failing_stop() {
	holds dir $VIP || { fail "A holds the group" "$(ip -n dir addr)"; return 0; }
	local pid
	pid=$(bg_pid dda)
	stuck_handover a dir dir2 fail term
	if wait_until 15000 eval "! _alive $pid"; then
		pass "A's directord exited after the stop succeeded (${WAITED_MS} ms)"
	else
		fail "A's directord exited" "$(tail -n 10 /tmp/e2e/ha-a/ha.log)"
	fi
	rm -f "$BG_DIR/dda.pid"
	wait "$pid" 2>/dev/null
	return 0
}
