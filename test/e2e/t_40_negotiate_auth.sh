# Negotiate checks against real servers (3/4): ftp (vsftpd, anonymous and
# a local user), ldap and ldaps (slapd, anonymous and with a bind DN),
# radius (freeradius), sip over UDP and TCP (kamailio). Our ldirectord
# runs in the foreground with checkinterval=1 and quiescent=yes; every real
# goes to its weight, to 0 when its server stops or answers wrong, and back.
# e2e-timeout: 300

source "$(dirname "$0")/servers.sh"
srv_need vsftpd slapd slapadd freeradius kamailio useradd chpasswd openssl

CFG=$E2E_TMP/ld.cf
R1=$(rsip 1)
VIP2=10.0.0.101

srv_reset
farm_up 1
vip_add
vip_add $VIP2
srv_ftp_start || die "vsftpd did not start"
srv_ldap_start || die "slapd did not start"
srv_radius_start || die "freeradius did not start"
srv_sip_start || die "kamailio did not start"

cat > "$CFG" <<EOF
checktimeout=3
negotiatetimeout=5
checkinterval=1
failurecount=1
quiescent=yes

virtual=$VIP:21
	real=$R1:21 masq 2
	service=ftp
	checktype=negotiate
	request="test.txt"
	receive="^ftp anonymous ok"
	scheduler=rr

virtual=$VIP2:21
	real=$R1:21 masq 3
	service=ftp
	checktype=negotiate
	login="$SRV_USER"
	passwd="$SRV_PASS"
	request="test.txt"
	receive="^ftp $SRV_USER ok"
	scheduler=rr

virtual=$VIP:389
	real=$R1:389 masq 4
	service=ldap
	checktype=negotiate
	request="$SRV_LDAP_BASE"
	receive="^dc=e2e"
	scheduler=rr

virtual=$VIP:636
	real=$R1:636 masq 5
	service=ldaps
	checktype=negotiate
	login="$SRV_LDAP_ADMIN"
	passwd="$SRV_PASS"
	request="ou=people,$SRV_LDAP_BASE"
	receive="^ou=people,"
	scheduler=rr

virtual=$VIP:1812
	protocol=udp
	real=$R1:1812 masq 6
	service=radius
	checktype=negotiate
	login="$SRV_USER"
	passwd="$SRV_PASS"
	secret="$SRV_SECRET"
	scheduler=rr

virtual=$VIP:5060
	protocol=udp
	real=$R1:5060 masq 7
	service=sip
	checktype=negotiate
	scheduler=rr

virtual=$VIP:5060
	protocol=tcp
	real=$R1:5060 masq 8
	service=sip
	checktype=negotiate
	scheduler=rr
EOF

ld_run "$CFG"

test_ftp() {
	expect_weight "ftp local user: up" $VIP2:21 $R1:21 3 20000
	srv_cycle "ftp anonymous" $VIP:21 $R1:21 2 srv_ftp_stop srv_ftp_start
	srv_cycle "ftp local user, file gone" $VIP2:21 $R1:21 3 "rm $SRV_FTP/home/test.txt" "echo 'ftp $SRV_USER ok' > $SRV_FTP/home/test.txt"
	srv_cycle "ftp anonymous, file answers wrong" $VIP:21 $R1:21 2 "echo broken > $SRV_FTP/anon/test.txt" "echo 'ftp anonymous ok' > $SRV_FTP/anon/test.txt"
}

test_ldap() {
	expect_weight "ldaps (bind DN): up" $VIP:636 $R1:636 5 20000
	srv_cycle "ldap (anonymous)" $VIP:389 $R1:389 4 srv_ldap_stop srv_ldap_start
	srv_cycle "ldaps (bind DN)" $VIP:636 $R1:636 5 srv_ldap_stop srv_ldap_start
	# The bind DN's password changes: ldaps (bind) down, ldap (anonymous) up.
	srv_ldap_stop
	SRV_PASS=not-the-password srv_ldap_start
	expect_weight "ldap (anonymous): up with another bind password" $VIP:389 $R1:389 4 20000
	expect_weight "ldaps (bind DN): down when the bind is refused" $VIP:636 $R1:636 0 15000
	srv_ldap_stop
	srv_ldap_start
	expect_weight "ldaps (bind DN): up when the bind works again" $VIP:636 $R1:636 5 20000
}

test_radius() {
	srv_cycle "radius" udp:$VIP:1812 $R1:1812 6 srv_radius_stop srv_radius_start
	# The user's password changes (freeradius reads its users file at
	# start): Access-Reject is down.
	srv_cycle "radius, password refused" udp:$VIP:1812 $R1:1812 6 \
		"srv_radius_stop; SRV_PASS=not-the-password srv_radius_start" "srv_radius_stop; srv_radius_start"
}

test_sip() {
	expect_weight "sip over tcp: up" $VIP:5060 $R1:5060 8 20000
	srv_cycle "sip over udp" udp:$VIP:5060 $R1:5060 7 srv_sip_stop srv_sip_start
	srv_cycle "sip over tcp" $VIP:5060 $R1:5060 8 srv_sip_stop srv_sip_start
	# kamailio answers OPTIONS "503 Service Unavailable": both down.
	srv_sip_stop
	SRV_SIP_REPLY="503 Service Unavailable" srv_sip_start
	expect_weight "sip over udp: down on 503" udp:$VIP:5060 $R1:5060 0 15000
	expect_weight "sip over tcp: down on 503" $VIP:5060 $R1:5060 0 15000
	srv_sip_stop
	srv_sip_start
	expect_weight "sip over udp: up on 200 again" udp:$VIP:5060 $R1:5060 7 20000
	expect_weight "sip over tcp: up on 200 again" $VIP:5060 $R1:5060 8 20000
}
