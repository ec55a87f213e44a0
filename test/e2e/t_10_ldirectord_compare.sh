# The reference: Debian's real ldirectord 4.12 and ours run one after the
# e2e-timeout: 600
# other on the same farm and config; the IPVS tables they settle on must be
# identical (ipvsadm -Sn, sorted). Every config has a known number of
# destinations in its settled table, which is what we wait for.

LD=$BUILD/ldirectord
REF=/usr/sbin/ldirectord
mkdir -p /tmp/e2e

# settle N: wait until the table has N destinations and stays the same for
# 3 s (checkinterval is 1). Prints the table.
settle() {
	local want=$1 prev= cur n=0 t0
	t0=$(now_ms)
	while [ $(($(now_ms) - t0)) -lt 60000 ]; do
		cur=$(ipvs_table)
		if [ "$(printf '%s\n' "$cur" | grep -c '^-a')" = "$want" ] && [ "$cur" = "$prev" ]; then
			n=$((n + 1))
			[ $n -ge 3 ] && { printf '%s\n' "$cur"; return 0; }
		else
			n=0
		fi
		prev=$cur
		sleep 1
	done
	printf '%s\n' "$cur"
	return 1
}

# term NAME: SIGTERM and give it 30 s to clean up (bg_stop kills after 5).
term() {
	local pid
	pid=$(bg_pid "$1") && kill -TERM "$pid" 2>/dev/null && wait_until 30000 eval "! _alive $pid"
	bg_stop "$1"
}

# compare NAME CFG N: run the reference, then ours, compare settled tables.
# Each must settle on N destinations and leave nothing behind when stopped
# (cleanstop=yes by default): both are assertions.
compare() {
	local name=$1 cfg=$2 n=$3 ref ours refok=1 oursok=1
	in_dir ipvsadm -C
	bg_start ref ip netns exec dir $REF -d "$cfg" start
	if ref=$(settle "$n"); then
		pass "$name: the reference settles on $n destinations"
	else
		refok=
		fail "$name: the reference settles on $n destinations" "got $(printf '%s\n' "$ref" | grep -c '^-a')"
	fi
	term ref
	assert_eq "$name: the reference cleans up on stop" "$(ipvs_table)" ""
	in_dir ipvsadm -C
	bg_start ours ip netns exec dir $LD -d "$cfg" start
	if ours=$(settle "$n"); then
		pass "$name: ours settles on $n destinations"
	else
		oursok=
		fail "$name: ours settles on $n destinations" "got $(printf '%s\n' "$ours" | grep -c '^-a')"
	fi
	term ours
	assert_eq "$name: ours cleans up on stop" "$(ipvs_table)" ""
	in_dir ipvsadm -C
	if [ -n "$refok" ] && [ -n "$oursok" ] && [ "$ref" = "$ours" ]; then
		pass "$name: same table as ldirectord"
		printf '%s\n' "$ours" | sed 's/^/      /'
	else
		fail "$name: same table as ldirectord" "see diff"
		printf '%s\n' "$ref" > "$E2E_TMP/ref.table"
		printf '%s\n' "$ours" > "$E2E_TMP/ours.table"
		diff -u "$E2E_TMP/ref.table" "$E2E_TMP/ours.table" | sed 's/^/      /'
		bg_log ours | tail -n 20 | sed 's/^/      ours| /'
	fi
}

farm_up 4
vip_add
R1=$(rsip 1) R2=$(rsip 2) R3=$(rsip 3) R4=$(rsip 4)

test_nat_http_persistence_thresholds() {
	cat > /tmp/e2e/c1.cf <<EOF
checktimeout=2
negotiatetimeout=3
checkinterval=1
logfile="/tmp/e2e/c1.log"
virtual=$VIP:80
	real=$R1:80 masq 3
	real=$R2 masq 2 l:10 u:100
	real=$R3:8080 masq 0
	service=http
	request="test.html"
	receive="ok"
	scheduler=wlc
	persistent=300
	netmask=255.255.255.0
EOF
	compare "NAT, http negotiate, persistence+netmask, thresholds, weight 0" /tmp/e2e/c1.cf 3
}

test_dr_tunnel_ranges_fwmark_udp() {
	cat > /tmp/e2e/c2.cf <<EOF
checktimeout=2
checkinterval=1
logfile="/tmp/e2e/c2.log"
virtual=$VIP:80
	real=$R1->$R3:8080 gate 4
	real=$R4 ipip
	checktype=connect
	scheduler=sh
	schedflags=sh-port
virtual=7
	real=$R1:80 masq
	real=$R2 gate 2
	checktype=connect
	checkport=80
	scheduler=rr
virtual=$VIP:53
	real=$R1:53 masq
	real=$R2:53 masq
	protocol=udp
	checktype=on
	scheduler=lc
	ops=yes
EOF
	compare "DR/tunnel port mapping, ranges, fwmark, udp+ops, sched flags" /tmp/e2e/c2.cf 8
}

test_down_reals_quiescent_and_fallback() {
	cat > /tmp/e2e/c3.cf <<EOF
checktimeout=2
negotiatetimeout=2
checkinterval=1
logfile="/tmp/e2e/c3.log"
fallback=127.0.0.1:80 gate
virtual=$VIP:80
	real=10.0.1.201:80 masq
	real=10.0.1.202:80 masq 5
	request="test.html"
	receive="ok"
	quiescent=yes
virtual=$VIP:8080
	real=10.0.1.203:8080 masq
	real=$R1:8080 masq
	request="test.html"
	receive="ok"
	quiescent=no
	fallback=127.0.0.1:8000
EOF
	# 2 quiescent dead reals (weight 0) + fallback on :80; on :8080 there
	# is no default service for the port, so service=none: both reals are
	# "up" without any check, as in ldirectord (reference A7).
	compare "dead reals: quiescent weight 0, fallback; service none on :8080" /tmp/e2e/c3.cf 5
}
