#!/usr/bin/env bash
# Measure (make bench): program 10,000 destinations (100 virtuals x 100
# reals, checktype=on so every real is up at once) from one ldirectord.cf,
# beside ipvsadm -R restoring the same table, in the same VM run. Prints
# figures; asserts nothing about speed.
set -u
. "$(dirname "$0")/lib.sh"
LD=$BUILD/ldirectord
NV=${BENCH_VIRTUALS:-100}
NR=${BENCH_REALS:-100}
mkdir -p /tmp/bench
ip netns add bench
ip -n bench link set lo up  # without a local table every IPv4 destination add fails (EINVAL)
{
	echo "checkinterval=10"
	echo 'logfile="/tmp/bench/ld.log"'
	for ((v = 1; v <= NV; v++)); do
		echo "virtual=10.10.$((v / 250)).$((v % 250 + 1)):80"
		echo "	real=10.20.$v.1->10.20.$v.$NR:80 masq 1"
		echo "	checktype=on"
		echo "	scheduler=wlc"
	done
} > /tmp/bench/ld.cf
total=$((NV * NR))
count() { ip netns exec bench ipvsadm -Ln | grep -c -- '->.*Masq'; }

echo "== $NV virtuals x $NR reals = $total destinations"
t0=$(now_ms)
ip netns exec bench $LD -d /tmp/bench/ld.cf start > /tmp/bench/ld.out 2>&1 &
pid=$!
wait_until 120000 sh -c "[ \$(ip netns exec bench ipvsadm -Ln | grep -c Masq) -ge $total ]"
t1=$(now_ms)
echo "ours: start to $total destinations in the kernel: $((t1 - t0)) ms (includes process start, parse, table read)"
grep -o 'ipvs apply ops=[0-9]* took=[^ ]*' /tmp/bench/ld.out | head -1 | sed 's/^/ours: /'
echo "ours: RSS $(ps -o rss= -p $pid) KiB"
kill $pid; wait $pid 2>/dev/null
echo "ours: cleanstop left $(ip netns exec bench ipvsadm -Ln | grep -c Masq) destinations"

# The same table through ipvsadm -R.
{
	for ((v = 1; v <= NV; v++)); do
		s="10.10.$((v / 250)).$((v % 250 + 1)):80"
		echo "-A -t $s -s wlc"
		for ((r = 1; r <= NR; r++)); do echo "-a -t $s -r 10.20.$v.$r:80 -m -w 1"; done
	done
} > /tmp/bench/rules
t0=$(now_ms)
ip netns exec bench ipvsadm -R < /tmp/bench/rules
t1=$(now_ms)
echo "ipvsadm -R: $total destinations: $((t1 - t0)) ms; now $(count) in the table"
ip netns exec bench ipvsadm -C

# Restart over a full table: nothing to do but read it.
ip netns exec bench ipvsadm -R < /tmp/bench/rules
t0=$(now_ms)
ip netns exec bench $LD -d /tmp/bench/ld.cf start > /tmp/bench/ld2.out 2>&1 &
pid=$!
wait_until 60000 grep -q 'Starting' /tmp/bench/ld2.out
sleep 2
grep -c 'ipvs apply' /tmp/bench/ld2.out | sed 's/^/ours over an identical table: apply batches: /'
kill $pid; wait $pid 2>/dev/null
ip netns del bench
