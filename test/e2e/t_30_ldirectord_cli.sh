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
