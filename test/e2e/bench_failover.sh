#!/usr/bin/env bash
# Measure (make bench): failover of a VIP between two directors, side by
# side in one VM run. The holder is killed with SIGKILL and its VIP removed
# (the node is gone); printed: the time until the other holds the VIP (the
# kernel's timestamp of the address, from ip monitor), and
# the longest gap between two answers of a client pinging it every 20 ms.
#   ours at keepalive 100ms / deadtime 350ms  vs  keepalived VRRPv3 advert_int 0.1
#   ours at keepalive 200ms / deadtime 1s     vs  Debian's heartbeat 3.0.6, the same
# Prints figures only; software emulation: compare rows, not absolute times.
# e2e-timeout: 600
set -u
. "$(dirname "$0")/lib.sh"
DD=$BUILD/directord
W=/tmp/bench-fo

net_up() {
	ip link add fpub type bridge && ip link set fpub up
	local ns i=2
	for ns in fa fb fcli; do
		ip netns add $ns && ip -n $ns link set lo up
		ip link add v$ns type veth peer name eth0 netns $ns && ip link set v$ns master fpub up
		ip -n $ns link set eth0 up
	done
	ip -n fa addr add 10.0.0.2/24 dev eth0
	ip -n fb addr add 10.0.0.3/24 dev eth0
	ip -n fcli addr add 10.0.0.50/24 dev eth0
}
net_down() {
	local ns
	for ns in fa fb fcli; do
		pids=$(ip netns pids $ns 2>/dev/null); [ -z "$pids" ] || kill -9 $pids 2>/dev/null
	done
	sleep 0.3
	for ns in fa fb fcli; do ip netns del $ns 2>/dev/null; done
	ip link del fpub 2>/dev/null
}
has_vip() { ip -n "$1" addr show dev eth0 | grep -q "inet $VIP/"; }

# measure NAME PID...: client pings, SIGKILL the PIDs (node A), wait for B,
# report.
measure() {
	local name=$1 t0 ms
	shift
	sleep 1
	ip netns exec fcli ping -D -i 0.02 -W 1 $VIP > $W/ping.out 2>&1 &
	local pp=$!
	sleep 1
	# The kernel's own timestamp of the address appearing on fb, not when a
	# poll (a fork every 100 ms, slow under emulation) happened to see it.
	ip -n fb -ts monitor address > $W/mon.out &
	local mon=$!
	sleep 0.3
	t0=$(now_ms)
	kill -9 "$@" 2>/dev/null
	ip -n fa addr del $VIP/24 dev eth0 2>/dev/null
	if wait_until 30000 has_vip fb; then
		sleep 0.2
		local at
		at=$(sed -nE "s/^\[([0-9T:.-]+)\] .*inet $VIP\/.*/\1/p" $W/mon.out | head -n 1)
		ms=$(( $(date -d "${at/T/ }" +%s%3N) - t0 ))
	else
		ms="timeout"
	fi
	kill $mon 2>/dev/null; wait $mon 2>/dev/null
	sleep 1.5
	kill -INT $pp; wait $pp 2>/dev/null
	awk -v n="$name" -v ms="$ms" '/icmp_seq/ { gsub(/[\[\]]/, "", $1); t = $1 * 1000; if (p && t - p > g) g = t - p; p = t }
		END { printf "%-44s takeover %6s ms   client gap %5d ms\n", n, ms, g }' $W/ping.out
}

ours() { # KEEPALIVE DEADTIME
	net_up
	local n peer
	for n in fa fb; do
		peer=10.0.0.3; [ $n = fb ] && peer=10.0.0.2
		mkdir -p $W/$n/state
		printf 'logfile %s/ha.log\nkeepalive %s\ndeadtime %s\ninitdead 2\nucast eth0 %s\nauto_failback off\nnode fa\nnode fb\n' \
			$W/$n "$1" "$2" $peer > $W/$n/ha.cf
		printf 'auth 1\n1 sha1 bench\n' > $W/$n/authkeys && chmod 600 $W/$n/authkeys
		echo "fa $VIP/24/eth0" > $W/$n/haresources
	done
	ip netns exec fa $DD --node fa --hadir $W/fa --statedir $W/fa/state --socket $W/fa.sock &
	local pa=$!
	ip netns exec fb $DD --node fb --hadir $W/fb --statedir $W/fb/state --socket $W/fb.sock &
	wait_until 30000 has_vip fa || echo "ours: VIP never came up on fa"
	measure "ours keepalive $1 deadtime $2" $pa
	net_down
}

keepalived_vrrp() { # ADVERT_INT
	command -v keepalived >/dev/null || { echo "keepalived not installed: skipped"; return; }
	net_up
	local n prio
	for n in fa fb; do
		prio=150; [ $n = fb ] && prio=100
		mkdir -p $W/ka$n
		cat > $W/ka$n/k.conf <<EOF
global_defs {
  router_id $n
  vrrp_version 3
  vrrp_garp_master_delay 0
  vrrp_garp_master_repeat 1
}
vrrp_instance VI {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority $prio
  advert_int $1
  nopreempt
  virtual_ipaddress {
    $VIP/24 dev eth0
  }
}
EOF
		ip netns exec $n keepalived -n -l -D -f $W/ka$n/k.conf -p $W/ka$n/pid -r $W/ka$n/vrrp.pid -c $W/ka$n/chk.pid > $W/ka$n/out 2>&1 &
		# nopreempt: whoever is master first stays so; fa must be it.
		[ $n = fb ] || wait_until 30000 has_vip fa || echo "keepalived: VIP never came up on fa"
	done
	sleep 1
	measure "keepalived VRRPv3 advert_int $1" $(cat $W/kafa/pid $W/kafa/vrrp.pid)
	net_down
}

heartbeat_pair() { # KEEPALIVE DEADTIME: Debian's heartbeat 3.0.6 on both
	command -v /usr/libexec/heartbeat/heartbeat >/dev/null || { echo "heartbeat not installed: skipped"; return; }
	net_up
	local n peer
	for n in fa fb; do
		peer=10.0.0.3; [ $n = fb ] && peer=10.0.0.2
		mkdir -p $W/hb$n
		printf 'logfile %s/ha.log\nuse_logd no\nrealtime off\nkeepalive %s\ndeadtime %s\ninitdead 2\nucast eth0 %s\nauto_failback off\nnode fa\nnode fb\ncrm off\n' \
			$W/hb$n "$1" "$2" $peer > $W/hb$n/ha.cf
		printf 'auth 1\n1 sha1 bench\n' > $W/hb$n/authkeys && chmod 600 $W/hb$n/authkeys
		echo "fa $VIP/24/eth0" > $W/hb$n/haresources
	done
	hb_start fa fa $W/hbfa
	hb_start fb fb $W/hbfb
	wait_until 60000 has_vip fa || echo "heartbeat: VIP never came up on fa"
	sleep 2
	measure "heartbeat 3.0.6 keepalive $1 deadtime $2" $(ip netns pids fa)
	net_down
}

mkdir -p $W
echo "== failover: SIGKILL of the VIP holder, client pinging every 20 ms"
ours 100ms 350ms
keepalived_vrrp 0.1
ours 200ms 1
heartbeat_pair 200ms 1
rm -rf $W
