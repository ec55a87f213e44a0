#!/usr/bin/env bash
# Measure (make bench): Debian's ldirectord and ours, one after the other, on
# the same farm of N nginx reals (default 200) and the same config
# (checkinterval 1, http negotiate): time until every real is up after
# start, CPU in steady state, time from a real failing to weight 0 and from
# healing to its weight back, RSS. Prints figures; asserts nothing on speed.
# e2e-timeout: 1500
set -u
. "$(dirname "$0")/lib.sh"
N=${BENCH_REALS:-200}
LIMIT_MS=${BENCH_LIMIT_MS:-120000}
SVC=$VIP:80
mkdir -p /tmp/bench

farm_up "$N"
vip_add
{
	echo "checktimeout=2"; echo "negotiatetimeout=2"; echo "checkinterval=1"; echo "quiescent=yes"
	echo 'logfile="/tmp/bench/ld.log"'
	echo "virtual=$VIP:80"
	for ((i = 1; i <= N; i++)); do echo "	real=$(rsip $i):80 masq"; done
	echo '	service=http'; echo '	request="test.html"'; echo '	receive="ok"'; echo '	scheduler=wlc'
} > /tmp/bench/ld.cf

ticks() { awk '{print $14+$15}' /proc/$1/stat 2>/dev/null || echo 0; }
ups() { ip netns exec dir ipvsadm -Ln -t $SVC 2>/dev/null | awk '$1=="->" && $4>0' | wc -l; }

measure() { # NAME BINARY
	local name=$1 bin=$2 pid t0 c0 c1 s0 s1 ms victim
	in_dir ipvsadm -C
	t0=$(now_ms)
	ip netns exec dir "$bin" -d /tmp/bench/ld.cf start > /tmp/bench/$name.out 2>&1 &
	pid=$!
	if wait_until "$LIMIT_MS" sh -c "[ \$(ip netns exec dir ipvsadm -Ln -t $SVC 2>/dev/null | awk '\$1==\"->\" && \$4>0' | wc -l) -ge $N ]"; then
		echo "$name: all $N reals up $(($(now_ms) - t0)) ms after start"
	else
		echo "$name: NOT all reals up within $((LIMIT_MS / 1000)) s ($(ups)/$N up)"
	fi
	sleep 3
	c0=$(ticks $pid); s0=$(now_ms); sleep 10; c1=$(ticks $pid); s1=$(now_ms)
	echo "$name: CPU $(( (c1 - c0) * 10 * 100 / (s1 - s0) ))% of one core in steady state"
	victim=$(rsip $((N / 2)))
	rs_fail "$victim"
	ms=$(wait_weight $SVC $victim:80 0 60000) && echo "$name: failed real to weight 0 in $ms ms" || echo "$name: failed real NOT at weight 0 after 60 s"
	rs_heal "$victim"
	ms=$(wait_weight $SVC $victim:80 1 60000) && echo "$name: healed real back to weight 1 in $ms ms" || echo "$name: healed real NOT back after 60 s"
	echo "$name: RSS $(ps -o rss= -p $pid | tr -d ' ') KiB"
	kill $pid; wait $pid 2>/dev/null
}

echo "== $N nginx reals, checkinterval 1, http negotiate, under software emulation (compare the two, not absolute times)"
measure ldirectord /usr/sbin/ldirectord
measure ours "$BUILD/ldirectord"
farm_down
