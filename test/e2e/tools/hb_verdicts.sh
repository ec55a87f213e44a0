#!/usr/bin/env bash
# hb_verdicts.sh TSV: heartbeat 3.0.6's verdict on each case of TSV
# (failover/haconf/testdata/hacf_verdicts.tsv), and how heartbeat's IPaddr
# wrapper reads the fields of its argument. Run as root inside the test VM
# (Debian's heartbeat is installed there), e.g. from a scratch test file:
#
#   mkdir /work/dbg-x && printf '%s\n' 'bash $REPO/test/e2e/tools/hb_verdicts.sh \
#     $REPO/failover/haconf/testdata/hacf_verdicts.tsv; pass done' > /work/dbg-x/t_99_v.sh
#   vmlock make e2e E2E_TESTS_DIR=/work/dbg-x E2E_FILTER=t_99
#
# then copy the printed rows back into the tables with
#   python3 test/e2e/tools/hb_verdicts_merge.py build/e2e.log
#
# Each case is a fresh /etc/ha.d (the base ha.cf below plus the case's
# lines; authkeys sha1 0600; an empty haresources) given to
# `heartbeat -f` as node "a", in network, mount and UTS namespaces of its
# own (like lib.sh's hb_start) with a dummy eth0 10.9.0.1/24. Verdict:
# "starts" when heartbeat logs "Local status now set to: 'up'", "refuses"
# when it exits first. The message is the first ERROR (refuses) or
# WARN/ERROR (starts) line the base config does not print, or what
# heartbeat wrote to stderr without a log prefix.
# Output lines: VERDICT<TAB>id<TAB>verdict<TAB>message and
# IPADDR<TAB>argument<TAB>rc<TAB>addresses on eth0 after start<TAB>message.
set -u
TSV=$1
W=/tmp/hbv
PAR=${HBV_PAR:-4}
rm -rf $W
mkdir -p $W

base_cf() {
	cat <<-EOF
		logfile $1/ha.log
		use_logd no
		keepalive 1
		deadtime 10
		warntime 5
		initdead 12
		udpport 694
		realtime off
		ucast eth0 10.9.0.2
		auto_failback on
		node a
		node b
		crm off
	EOF
}

# setup ID LINES: the case's /etc/ha.d in $W/ID.
setup() {
	local id=$1 lines=$2 d=$W/$1 l k
	mkdir -p $d/lib
	cp -r /etc/ha.d/resource.d /etc/ha.d/rc.d /etc/ha.d/shellfuncs /etc/ha.d/harc $d/
	base_cf $d > $d/ha.cf
	printf 'auth 1\n1 sha1 verdict-secret\n' > $d/authkeys
	chmod 600 $d/authkeys
	: > $d/haresources
	[ "$lines" = - ] && return 0
	printf '%b\n' "$lines" | while IFS= read -r l; do
		case $l in
		-*) k=${l#-}; sed -i "/^$k\( \|\$\)/d" $d/ha.cf ;;
		@authkeys-missing) rm -f $d/authkeys ;;
		@authkeys-mode=*) chmod ${l#@authkeys-mode=} $d/authkeys ;;
		@haresources-missing) rm -f $d/haresources ;;
		@haresources=*) printf '%s\n' "${l#@haresources=}" > $d/haresources ;;
		*) printf '%s\n' "$l" >> $d/ha.cf ;;
		esac
	done
}

# run ID: start heartbeat on the case, wait for a verdict, clean up.
run() {
	local id=$1 d=$W/$1 ns=hbv$2 i verdict=timeout
	ip netns add $ns
	ip -n $ns link set lo up
	ip -n $ns link add eth0 type dummy
	ip -n $ns addr add 10.9.0.1/24 dev eth0
	ip -n $ns link set eth0 up
	ip netns exec $ns unshare -m -u sh -c "
		hostname a
		mount --make-rprivate /
		mount --bind $d /etc/ha.d
		mount --bind $d/lib /var/lib/heartbeat
		mount -t tmpfs tmpfs /run
		mkdir -p /run/heartbeat/rsctmp /run/heartbeat/ccm /run/resource-agents /run/lock
		chown -R hacluster:haclient /run/heartbeat $d/lib
		exec /usr/libexec/heartbeat/heartbeat -f" > $d/out 2>&1 < /dev/null &
	local pid=$!
	for ((i = 0; i < 120; i++)); do
		if grep -qs "Local status now set to: 'up'" $d/out $d/ha.log; then verdict=starts; break; fi
		if ! kill -0 $pid 2>/dev/null; then verdict=refuses; break; fi
		sleep 0.5
	done
	# Still running without the line: it logs elsewhere (syslog, logd).
	[ $verdict = timeout ] && kill -0 $pid 2>/dev/null && verdict=starts
	local p
	for p in $(ip netns pids $ns); do kill -9 $p 2>/dev/null; done
	wait $pid 2>/dev/null
	ip netns del $ns
	echo $verdict > $d/verdict
}

# messages ID: the case's log lines, without heartbeat's prefix, one per
# line; the stderr lines heartbeat prints without a newline are split.
messages() {
	local d=$W/$1
	{ cat $d/out; [ -f $d/ha.log ] && cat $d/ha.log; } |
		sed -e 's/heartbeat: udpport setting must precede media statements//g' \
			-e 's/heartbeat: baudrate setting must precede media statements//g' \
			-e 's/^heartbeat\[[0-9]*\]: [0-9/_:]* //' -e 's/^[A-Za-z]\{3\} [0-9 ]* [0-9:]* [^ ]* heartbeat: \[[0-9]*\]: //' |
		grep -v '^\s*$' | awk '!seen[$0]++'
}

generic='Heartbeat not started: configuration error|Configuration error, heartbeat not started|Authentication configuration error'
# Printed on every start in the VM (no core directory, a fresh generation).
noise='Cannot chdir to \[/var/lib/heartbeat/cores\]|No Previous generation'

verdict_of() {
	local id=$1 v msg
	v=$(cat $W/$id/verdict)
	if [ $v = refuses ]; then
		msg=$(messages $id | grep -E '^ERROR: ' | grep -vE "$generic|$noise" | head -n 1)
		[ -n "$msg" ] || msg=$(messages $id | grep -vE '^(info|debug|WARN|ERROR|notice): ' | head -n 1)
		[ -n "$msg" ] || msg=$(messages $id | grep -E "$generic" | head -n 1)
	else
		# nice_failback's first line is always the same: its reading follows.
		msg=$(messages $id | grep -E '^(WARN|ERROR): ' | grep -vE "$noise|nice_failback flag is obsolete" |
			grep -vxF -f $W/base.msgs | head -n 1)
	fi
	printf 'VERDICT\t%s\t%s\t%s\n' "$id" "$v" "${msg:--}"
}

ids=()
declare -A lines
while IFS=$'\t' read -r id dir l rest; do
	case $id in '#'*|'') continue ;; esac
	ids+=("$id")
	lines[$id]=$l
done < "$TSV"

setup base -
run base 0
messages base | grep -E '^(WARN|ERROR): ' > $W/base.msgs
echo "hb_verdicts: base config: $(cat $W/base/verdict); its warnings:"
sed 's/^/    /' $W/base.msgs

n=0
for id in "${ids[@]}"; do
	[ $id = base ] && continue
	setup "$id" "${lines[$id]}"
	run "$id" $((n % PAR + 1)) &
	n=$((n + 1))
	if ((n % PAR == 0)); then wait; fi
done
wait
for id in "${ids[@]}"; do verdict_of "$id"; done

# IPaddr: the wrapper's reading of empty fields.
ip netns add hbvip
ip -n hbvip link set lo up
ip -n hbvip link add eth0 type dummy
ip -n hbvip addr add 10.9.0.1/24 dev eth0
ip -n hbvip link set eth0 up
mkdir -p /run/resource-agents /run/heartbeat/rsctmp
for a in 10.9.0.100 10.9.0.100/24 10.9.0.100//eth0 10.9.0.100/24// 10.9.0.100///10.9.0.255 \
	10.9.0.100/24//10.9.0.255 10.9.0.100/24/eth0// 10.9.0.100/24/eth0/10.9.0.255 \
	10.9.0.100/24/10.9.0.255 10.9.0.100//eth0/10.9.0.255 10.9.0.100/255.255.255.0/eth0; do
	out=$(ip netns exec hbvip /etc/ha.d/resource.d/IPaddr "$a" start 2>&1)
	rc=$?
	addrs=$(ip -n hbvip -o -4 addr show | awk '$4 != "10.9.0.1/24" {print $2, $4, ($5 == "brd" ? $6 : "")}' | paste -sd, -)
	msg=$(printf '%s\n' "$out" | grep -iE 'error|invalid|warn' | head -n 1)
	printf 'IPADDR\t%s\t%s\t%s\t%s\n' "$a" "$rc" "${addrs:--}" "${msg:--}"
	ip netns exec hbvip /etc/ha.d/resource.d/IPaddr "$a" stop > /dev/null 2>&1
	for x in $(ip -n hbvip -o -4 addr show | awk '$4 != "10.9.0.1/24" {print $2 "=" $4}'); do
		ip -n hbvip addr del ${x#*=} dev ${x%%=*}
	done
done
ip netns del hbvip
