# Email alerts (emailalert, emailalertfreq, emailalertstatus, smtp) from our
# ldirectord to a real MTA (exim4 as a sink on a real server address): the
# quiesce and restore of a real, and the "Inaccessible" reminder every
# emailalertfreq while it stays down.
# e2e-timeout: 240

source "$(dirname "$0")/servers.sh"
srv_need exim4

LD=$BUILD/ldirectord
R1=$(rsip 1) R2=$(rsip 2)

srv_reset
farm_up 2
vip_add
srv_smtp_sink rs $R1 25 || die "exim4 sink did not start"
MBOX=$(srv_mbox)

cat > $E2E_TMP/ld.cf <<EOC
checkinterval=1
negotiatetimeout=2
quiescent=yes
logfile="$E2E_TMP/ld.log"
emailalert="ops@example.com"
emailalertfrom="director@example.com"
emailalertfreq=2
smtp=$R1
virtual=$VIP:80
	real=$R1:80 masq
	real=$R2:80 masq
	request="test.html"
	receive="ok"
	servicename=web farm
	emailalertstatus=running
EOC

mail_has() { grep -q "$1" "$MBOX" 2>/dev/null; }

test_alerts_reach_the_mta() {
	bg_start ld ip netns exec dir $LD -d $E2E_TMP/ld.cf start
	wait_weight $VIP:80 $R2:80 1 20000 >/dev/null || die "real 2 never came up"
	sleep 1
	rs_fail $R2
	if wait_until 15000 mail_has "Subject: \[web farm\] Quiescent real server: $R2:80 ($VIP:80)"; then
		pass "quiesce alert delivered (${WAITED_MS} ms)"
	else
		fail "quiesce alert" "$(tail -n 20 "$MBOX" 2>&1)"
	fi
	if wait_until 10000 mail_has "Subject: \[web farm\] Inaccessible real server: $R2:80"; then
		pass "inaccessible reminder after emailalertfreq"
	else
		fail "reminder" "$(grep Subject "$MBOX" 2>&1)"
	fi
	rs_heal $R2
	wait_until 15000 mail_has "Subject: \[web farm\] Restored real server: $R2:80" && pass "restore alert delivered" || fail "restore alert" "$(grep Subject "$MBOX" 2>&1)"
	assert_match "body names the daemon state" "$(cat "$MBOX")" "Daemon-Status: running"
	assert_match "sent to the configured address" "$(cat "$MBOX")" "ops@example.com"
	# emailalertstatus=running: nothing was mailed while starting.
	check_not "no alert in state starting" mail_has "Subject: \[web farm\] Added real server"
	grep '^Subject:' "$MBOX" | sed 's/^/      /'
	bg_stop ld
}
