# Negotiate checks against real servers (2/4): smtp and submission
# (exim4), pop, pops, imap and imaps with login (dovecot), nntp (INN 2).
# Our ldirectord runs in the foreground with checkinterval=1 and
# quiescent=yes; every real goes to its weight, to 0 when its server stops
# or refuses the login, and back. Also the mail sink the alert tests use.
# e2e-timeout: 300

source "$(dirname "$0")/servers.sh"
srv_need exim4 dovecot /usr/lib/news/bin/innd /usr/lib/news/bin/ctlinnd openssl curl

CFG=$E2E_TMP/ld.cf
R1=$(rsip 1) R2=$(rsip 2)

srv_reset
farm_up 2
vip_add
srv_smtp_start || die "exim4 did not start"
srv_mail_start || die "dovecot did not start"
srv_nntp_start || die "innd did not start"

# mailvirtual PORT SERVICE WEIGHT [LOGIN]: a virtual for one mail service.
mailvirtual() {
	printf 'virtual=%s:%s\n\treal=%s:%s masq %s\n\tservice=%s\n\tchecktype=negotiate\n\tscheduler=rr\n' \
		$VIP "$1" $R1 "$1" "$3" "$2"
	[ -z "${4:-}" ] || printf '\tlogin="%s"\n\tpasswd="%s"\n' "$SRV_USER" "$SRV_PASS"
	echo
}

{
	printf 'checktimeout=3\nnegotiatetimeout=5\ncheckinterval=1\nfailurecount=1\nquiescent=yes\n\n'
	mailvirtual 25 smtp 2
	mailvirtual 587 submission 3
	mailvirtual 110 pop 4 login
	mailvirtual 995 pops 5 login
	mailvirtual 143 imap 6 login
	mailvirtual 993 imaps 7 login
	mailvirtual 119 nntp 8
} > "$CFG"

ld_run "$CFG"

test_smtp_submission() {
	expect_weight "submission: up" $VIP:587 $R1:587 3 20000
	srv_cycle "smtp" $VIP:25 $R1:25 2 srv_smtp_stop srv_smtp_start
	expect_weight "submission: up after the restart" $VIP:587 $R1:587 3 20000
	# exim answers every connection "554 ..." instead of "220 ...".
	srv_smtp_stop
	SRV_SMTP_REFUSE="no service today (e2e)" srv_smtp_start
	expect_weight "smtp: down when the greeting is 554" $VIP:25 $R1:25 0 15000
	expect_weight "submission: down when the greeting is 554" $VIP:587 $R1:587 0 15000
	srv_smtp_stop
	srv_smtp_start
	expect_weight "smtp: up with a 220 greeting again" $VIP:25 $R1:25 2 20000
	expect_weight "submission: up with a 220 greeting again" $VIP:587 $R1:587 3 20000
}

test_pop_imap_login() {
	local p
	for p in 110:4 995:5 143:6 993:7; do
		expect_weight "pop/imap port ${p%:*}: up (login)" $VIP:${p%:*} $R1:${p%:*} ${p#*:} 20000
	done
	# Another password: every login fails, the servers still answer.
	srv_mail_passwd not-the-password
	for p in 110 995 143 993; do
		expect_weight "pop/imap port $p: down when the login is refused" $VIP:$p $R1:$p 0 15000
	done
	srv_mail_passwd "$SRV_PASS"
	for p in 110:4 995:5 143:6 993:7; do
		expect_weight "pop/imap port ${p%:*}: up when the login works again" $VIP:${p%:*} $R1:${p%:*} ${p#*:} 20000
	done
	srv_cycle "pop" $VIP:110 $R1:110 4 srv_mail_stop srv_mail_start
	for p in 995:5 143:6 993:7; do
		expect_weight "pop/imap port ${p%:*}: up after the restart" $VIP:${p%:*} $R1:${p%:*} ${p#*:} 20000
	done
}

test_nntp() {
	# A throttled innd answers readers "400 ..." instead of handing them
	# to nnrpd ("200 ... ready").
	srv_cycle "nntp throttled" $VIP:119 $R1:119 8 "srv_nntp_ctl throttle e2e" "srv_nntp_ctl go e2e"
	srv_cycle "nntp" $VIP:119 $R1:119 8 srv_nntp_stop srv_nntp_start
}

test_smtp_sink() {
	srv_smtp_sink rs $R2 || { fail "sink starts" "see srv-sink.log"; return; }
	printf 'From: alert@e2e.test\r\nTo: admin@e2e.test\r\nSubject: sink test\r\n\r\nbody line\r\n' > $E2E_TMP/msg
	check "curl sends a message to the sink" in_dir curl -sS --max-time 10 smtp://$R2 \
		--mail-from alert@e2e.test --mail-rcpt admin@e2e.test -T $E2E_TMP/msg
	srv_mbox_wait '^Subject: sink test' 10000 && pass "the sink delivered it to $(srv_mbox)" ||
		fail "sink delivery" "$(cat "$(srv_mbox)" 2>&1 | head -n 5)"
	assert_match "mbox has the envelope recipient" "$(cat "$(srv_mbox)")" "Envelope-to: admin@e2e.test"
	srv_smtp_sink_stop
}
