# heartbeat's commands answered by directord: our cl_status, hb_standby and
# hb_takeover on a directord pair, in the states recorded from Debian's
# heartbeat 3.0.6 (failover/clstatus/testdata/heartbeat-3.0.6.txt): both up,
# a heartbeat link down, standby/takeover rounds (rscstatus all, local,
# foreign, none, transition), the peer dead, the ping node dead, the daemon
# not running. Every record (stdout, stderr, exit code) must be heartbeat's,
# normalised only for the log lines' time, host and pid and the scripts'
# own path ($0); the known differences are listed (KNOWN_DIFF) with why.
# E2E_HB_RECORD=1 runs the same steps against heartbeat instead and prints
# the records: that is how the testdata file was made.
# e2e-timeout: 600

B=$E2E_TMP/bin
mkdir -p $B
cp $BUILD/cl_status $B/ && ln -sf cl_status $B/hb_standby && ln -sf cl_status $B/hb_takeover ||
	die "no $BUILD/cl_status"
T=$E2E_TMP/cap
mkdir -p $T
pair_up 1
PING=10.0.0.50
ha_conf a 10.0.0.3 10.0.1.3 "ping $PING"
ha_conf b 10.0.0.2 10.0.1.2 "ping $PING"
for n in a b; do
	d=/tmp/e2e/ha-$n
	mkdir -p $d/resource.d
	cat > $d/resource.d/hbtest <<-'EOF'
	#!/bin/sh
	# hbtest NAME start|stop|status: a resource that is a file (start is slow
	# so that the transition can be seen).
	f=$(dirname "$0")/../held-$1
	case $2 in
	start) sleep 6; touch "$f" ;;
	stop) rm -f "$f" ;;
	status) if [ -e "$f" ]; then echo running; else echo stopped; fi ;;
	esac
	exit 0
	EOF
	chmod +x $d/resource.d/hbtest
	printf 'a hbtest::ga\nb hbtest::gb\n' > $d/haresources
done
ns_of() { [ $1 = a ] && echo dir || echo dir2; }
# x NODE CMD ARGS: run a heartbeat command (cl_status, hb_standby, hb_takeover) on NODE.
x() {
	local n=$1 c=$2; shift 2
	if [ $IMPL = hb ]; then
		local p; p=$(hb_master $(ns_of $n)) || { echo "no heartbeat on $n" >&2; return 99; }
		case $c in cl_status) c=/usr/bin/cl_status ;; *) c=/usr/share/heartbeat/$c ;; esac
		# -r -w: heartbeat's root too (the VM runs the host's tree chrooted;
		# the mount namespace alone lands in the initramfs).
		nsenter -t $p -m -u -n -r -w -- timeout 10 $c "$@"
	else
		DIRECTORD_SOCKET=/tmp/e2e/$n.sock ip netns exec $(ns_of $n) timeout 10 $B/$c "$@"
	fi
}
# rec NODE CMD ARGS...: one record, into $REC: "$ NODE CMD ARGS", then
# "> " stdout lines, "! " stderr lines, "= " exit status.
rec() {
	local n=$1
	x "$@" >$T/o 2>$T/e </dev/null
	local rc=$?
	shift
	{ echo "\$ $n $*"; sed 's/^/> /' $T/o; sed 's/^/! /' $T/e; echo "= $rc"; } >> $REC
}
cls() { local n=$1; shift; rec $n cl_status "$@"; }
rsc() { x $1 cl_status rscstatus 2>/dev/null; }
state() { echo "### $1" >> $REC; log "state $1"; }
start() {
	if [ $IMPL = hb ]; then hb_start $1 $(ns_of $1); else dd_start $1 $(ns_of $1); fi
}

# phase hb|dd: the states, each command recorded, against heartbeat or ours.
phase() {
IMPL=$1
REC=$E2E_TMP/records-$IMPL.txt
: > $REC
start a; start b
t0=$(now_ms)
wait_until 180000 eval '[ "$(rsc a)" = local ] && [ "$(rsc b)" = local ]' || fail "first start" "a: $(rsc a) b: $(rsc b)"
wait_until 30000 eval '[ "$(x a cl_status nodestatus $PING 2>/dev/null)" = ping ]' || fail "line $LINENO: state not reached" "a: $(rsc a) b: $(rsc b)"
wait_until 30000 eval '[ "$(x a cl_status hblinkstatus b eth1 2>/dev/null)" = up ] && [ "$(x b cl_status hblinkstatus a eth1 2>/dev/null)" = up ]' || fail "line $LINENO: state not reached" "a: $(rsc a) b: $(rsc b)"
log "stable after $(($(now_ms)-t0)) ms"
state both_up
for n in a b; do
	cls $n hbstatus; cls $n hbstatus -m; cls $n hbstatus -v; cls $n hbstatus -x
	cls $n listnodes; cls $n listnodes -n; cls $n listnodes -p; cls $n listnodes -m; cls $n listnodes -v; cls $n listnodes -p -n
	for y in a b $PING; do cls $n nodestatus $y; cls $n nodestatus -m $y; cls $n nodetype $y; cls $n nodetype -m $y; cls $n listhblinks $y; cls $n listhblinks -v $y; cls $n listhblinks -m $y; done
	for y in a b; do for l in eth0 eth1; do cls $n hblinkstatus $y $l; cls $n hblinkstatus -m $y $l; done; done
	cls $n hblinkstatus $PING $PING; cls $n hblinkstatus b nosuch; cls $n hblinkstatus nosuch eth0
	cls $n nodestatus nosuch; cls $n nodetype nosuch; cls $n listhblinks nosuch
	cls $n nodestatus; cls $n nodetype; cls $n listhblinks; cls $n hblinkstatus b
	cls $n rscstatus; cls $n rscstatus -m; cls $n nodestatus b -m
	cls $n bogus; cls $n nodestatus -x b; cls $n listnodes -x; cls $n listhblinks -x b
done
rec a cl_status
rec a cl_status -h
rec a hb_standby bogus
rec a hb_standby all local
rec a hb_standby --help
rec a hb_takeover bogus
rec a hb_takeover all local
rec a hb_takeover --help

state link_down
ip -n dir2 link set eth1 down
wait_until 20000 eval '[ "$(x a cl_status hblinkstatus b eth1 2>/dev/null)" = dead ]' || fail "line $LINENO: state not reached" "a: $(rsc a) b: $(rsc b)"
cls a hblinkstatus b eth1; cls a hblinkstatus -m b eth1; cls a hblinkstatus b eth0; cls a listhblinks -v b; cls a nodestatus b; cls a listnodes -v; cls a hblinkstatus a eth1
cls b hblinkstatus a eth1; cls b listhblinks -v a
ip -n dir2 link set eth1 up
wait_until 20000 eval '[ "$(x a cl_status hblinkstatus b eth1 2>/dev/null)" = up ]' || fail "line $LINENO: state not reached" "a: $(rsc a) b: $(rsc b)"
log "eth1 up again: $(x a cl_status hblinkstatus b eth1 2>&1)"

state standby_b_all
rec b hb_standby
seen=; for i in $(seq 1 60); do r=$(rsc a); ra=$(rsc b); log "poll a=$r b=$ra"; case "$r$ra" in *transition*) seen=1; break;; esac; sleep 0.1; done
[ -n "$seen" ] && { state transition; cls a rscstatus; cls b rscstatus; cls a rscstatus -m; }
wait_until 60000 eval '[ "$(rsc a)" = all ] && [ "$(rsc b)" = none ]' || fail "line $LINENO: state not reached" "a: $(rsc a) b: $(rsc b)"
state after_standby_b_all
cls a rscstatus; cls b rscstatus; cls b rscstatus -m; cls a rscstatus -m

state standby_a_local
sleep 2
rec a hb_standby local
wait_until 60000 eval '[ "$(rsc a)" = foreign ] && [ "$(rsc b)" = foreign ]' || fail "line $LINENO: state not reached" "a: $(rsc a) b: $(rsc b)"
cls a rscstatus; cls b rscstatus; cls a rscstatus -m

state takeover_a_all
sleep 2
rec a hb_takeover
wait_until 60000 eval '[ "$(rsc a)" = all ] && [ "$(rsc b)" = none ]' || fail "line $LINENO: state not reached" "a: $(rsc a) b: $(rsc b)"
cls a rscstatus; cls b rscstatus

state standby_a_failback
sleep 2
rec a hb_standby failback
wait_until 60000 eval '[ "$(rsc a)" = local ] && [ "$(rsc b)" = local ]' || fail "line $LINENO: state not reached" "a: $(rsc a) b: $(rsc b)"
cls a rscstatus; cls b rscstatus

state takeover_b_foreign
sleep 2
rec b hb_takeover foreign
wait_until 60000 eval '[ "$(rsc b)" = all ]' || fail "line $LINENO: state not reached" "a: $(rsc a) b: $(rsc b)"
cls a rscstatus; cls b rscstatus
state takeover_a_failback
sleep 2
rec a hb_takeover failback
wait_until 60000 eval '[ "$(rsc a)" = local ] || [ "$(rsc a)" = all ]' || fail "line $LINENO: state not reached" "a: $(rsc a) b: $(rsc b)"
cls a rscstatus; cls b rscstatus

state peer_dead
sleep 2
node_crash dir2
seen=; for i in $(seq 1 80); do r=$(rsc a); log "poll a=$r"; [ "$r" = transition ] && { seen=1; break; }; sleep 0.1; done
# (seen or not, depending on timing: a state of its own)
[ -n "$seen" ] && { state peer_dead_transition; cls a rscstatus; state peer_dead; }
wait_until 30000 eval '[ "$(x a cl_status nodestatus b 2>/dev/null)" = dead ]' || fail "line $LINENO: state not reached" "a: $(rsc a) b: $(rsc b)"
wait_until 60000 eval '[ "$(rsc a)" = all ]' || fail "line $LINENO: state not reached" "a: $(rsc a) b: $(rsc b)"
cls a nodestatus b; cls a nodestatus -m b; cls a listhblinks -v b; cls a hblinkstatus b eth0; cls a hblinkstatus b eth1; cls a listnodes -v; cls a rscstatus; cls a hbstatus -v
rec a hb_standby
sleep 3
cls a rscstatus

state ping_dead
ip -n cli link set eth0 down
wait_until 30000 eval '[ "$(x a cl_status nodestatus $PING 2>/dev/null)" = dead ]' || fail "line $LINENO: state not reached" "a: $(rsc a) b: $(rsc b)"
cls a nodestatus $PING; cls a nodetype $PING; cls a listhblinks -v $PING; cls a hblinkstatus $PING $PING
ip -n cli link set eth0 up

state not_running
d=/tmp/e2e/ha-a
if [ $IMPL = hb ]; then
	p=$(hb_master dir); kill -TERM $p; wait_until 60000 eval '! hb_master dir'
else
	bg_stop dda
fi
nr() {
	echo "\$ a $*" >> $REC
	if [ $IMPL = hb ]; then
		local c=$1; shift
		case $c in cl_status) c=/usr/bin/cl_status ;; *) c=/usr/share/heartbeat/$c ;; esac
		ip netns exec dir unshare -m -u sh -c "mount --make-rprivate /; mount --bind $d /etc/ha.d; mount --bind $d/lib /var/lib/heartbeat; mount -t tmpfs tmpfs /run; mkdir -p /run/heartbeat; exec timeout 5 \"\$@\"" sh $c "$@" >$T/o 2>$T/e </dev/null
	else
		local c=$1; shift
		DIRECTORD_SOCKET=/tmp/e2e/a.sock ip netns exec dir timeout 5 $B/$c "$@" >$T/o 2>$T/e </dev/null
	fi
	local rc=$?
	{ sed 's/^/> /' $T/o; sed 's/^/! /' $T/e; echo "= $rc"; } >> $REC
}
for c in "hbstatus" "hbstatus -v" "hbstatus -m" "listnodes" "nodestatus a" "nodestatus" "nodetype a" "listhblinks a" "hblinkstatus a eth0" "rscstatus" "bogus"; do nr cl_status $c; done
nr hb_standby
nr hb_takeover
nr hb_standby bogus
node_crash dir; node_crash dir2
bg_stop_all
rm -f /tmp/e2e/ha-a/held-* /tmp/e2e/ha-b/held-* /tmp/e2e/ha-*/ha.log
}

# records FILE: one line per record, "STATE NODE CMD ARGS<TAB>BODY" (a
# command run twice in a state gets " (2)"), normalised: cl_log's
# "Dec 03 17:18:20 HOST cl_status: [PID]: " prefix, hb_standby's log time
# and the scripts' directory go.
records() {
	sed -E -e 's/^! [A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} [^ ]+ cl_status: \[[0-9]+\]: /! cl_status: /' \
		-e 's/^! [A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} /! TIME /' \
		-e 's#[^ ]*/(hb_standby|hb_takeover)#\1#g' "$1" |
		awk -v OFS='\t' '
			/^### / { st = $2; next }
			/^\$ / { if (key != "") print key, body
				key = st " " substr($0, 3); if (seen[key]++) key = key " (" seen[key] ")"; body = ""; next }
			key != "" { l = $0; gsub(/\t/, "<TAB>", l); body = body l "|" }
			END { if (key != "") print key, body }' | LC_ALL=C sort
}

# Where ours differs: heartbeat's scripts write to its FIFO when it is not
# running (and hang: nobody reads it); ours say so and fail. After
# "hb_takeover failback" heartbeat 3.0.6 took all groups (the peer gave up
# its own too); directord takes back only its own (failback = local).
# With the peer dead, heartbeat's hb_standby left its groups in transition;
# directord refuses a standby nobody can take and keeps them.
KNOWN_DIFF='^(not_running a hb_|takeover_a_failback |peer_dead a cl_status rscstatus \(2\))'

compare() {
	local want=$1 got=$2 st n bad
	records "$want" > $T/want
	records "$got" > $T/got
	for st in $(cut -d' ' -f1 $T/want | uniq); do
		n=0 bad=
		while IFS=$'\t' read -r key body; do
			[[ $key == "$st "* ]] || continue
			[[ $key =~ $KNOWN_DIFF ]] && continue
			n=$((n + 1))
			ours=$(awk -F'\t' -v k="$key" '$1 == k { print $2; exit }' $T/got)
			if [ -z "$ours" ]; then
				bad+="
          $key: not run here"
			elif [ "$ours" != "$body" ]; then
				bad+="
          $key: heartbeat ${body//|/⏎} ours ${ours//|/⏎}"
			fi
		done < $T/want
		if [ -z "$bad" ]; then pass "$st: $n records as heartbeat 3.0.6's"; else fail "$st: as heartbeat 3.0.6" "$bad"; fi
	done
}

if [ "${E2E_HB_RECORD:-0}" = 1 ]; then
	phase hb
	echo "=====BEGIN records"
	cat $E2E_TMP/records-hb.txt
	echo "=====END records"
	pass "heartbeat's records printed"
else
	phase dd
	compare "$REPO/failover/clstatus/testdata/heartbeat-3.0.6.txt" $E2E_TMP/records-dd.txt
fi
