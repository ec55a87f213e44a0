#!/usr/bin/env bash
# Measure (make bench, issue 10): established connections that survive a
# SIGKILL takeover, out of N (1,000) concurrent keep-alive HTTP sessions
# through the VIP (build/connhold in the client namespace, one request per
# session every SYNC_INTERVAL), side by side in one VM run:
#   keepalived + lvs_sync_daemon  VRRPv3 advert_int 0.3 (master down after
#                                 ~1 s, as deadtime 1), both directors keep
#                                 the virtual_server; the anchor
#   heartbeat 3.0.6 + ldirectord  Debian's, keepalive 200ms / deadtime 1
#                                 (no sync daemon: 0 expected)
#   ours, no sync                 directord, the same ha.cf / haresources
#   ours, [sync]                  directord with a [sync] table: run only
#                                 when directord accepts one
# NAT: VIP on eth0 and DIP (the reals' gateway) on eth1 move together; the
# sync daemons talk over a link of their own (eth2, 192.168.50.0/24, IPv6
# off) whose counters then count sync traffic only: packets and bytes per
# second at SYNC_RATE (1,000) new connections per second are printed for
# the systems that sync.
# The "node" dies whole: every process in its namespace SIGKILLed, its
# addresses, IPVS table and sync daemons gone (node_gone). takeover ms: the
# kernel's timestamp of the VIP on the other director, from the kill.
# Sysctls on both directors, as keepalived operators set them:
#   net.ipv4.vs.conntrack=1 (pair_up), expire_nodest_conn=1, sync_version=1,
#   sync_threshold and sync_refresh_period left at the kernel's defaults
#   ("3 50", 0): a connection is synced once it has had 3 packets, then
#   every 50 (a probe below shows it on the backup).
# Prints figures only; software emulation: compare rows, not absolute times.
# e2e-timeout: 900
set -u
CH=$BUILD/connhold
DD=$BUILD/directord
W=/tmp/bench-sync
N=${SYNC_N:-1000}
INTERVAL=${SYNC_INTERVAL:-1s}
STALL_MS=${SYNC_STALL_MS:-3000}
RATE=${SYNC_RATE:-1000}
RATE_SECS=${SYNC_RATE_SECS:-10}
SYNC_ID=51
ROWS=$W/rows
TRAFFIC=$W/traffic

[ -x "$CH" ] || die "$CH missing (make build)"

# farm: the pair (dir = A, preferred; dir2 = B), two reals, a sync link,
# nginx keeping idle sessions (keepalive_timeout 5 s in lib.sh would end
# sessions waiting out a slow takeover; keepalive_requests would end long
# ones), the sysctls.
farm() {
	pair_up 2
	ip -batch - <<-EOF || die "sync link failed"
		link add sbr type bridge
		link set sbr up
		link add s0 type veth peer name eth2 netns dir
		link set s0 master sbr up
		link add s1 type veth peer name eth2 netns dir2
		link set s1 master sbr up
	EOF
	local ns a=2
	for ns in dir dir2; do
		ip netns exec $ns sysctl -qw net.ipv6.conf.eth2.disable_ipv6=1
		ip -n $ns addr add 192.168.50.$a/24 dev eth2 && ip -n $ns link set eth2 up
		a=3
		ip netns exec $ns sysctl -qw net.ipv4.vs.expire_nodest_conn=1 net.ipv4.vs.sync_version=1 ||
			die "sysctls on $ns"
	done
	sed -i 's/keepalive_timeout 5;/keepalive_timeout 300; keepalive_requests 1000000;/' $FARM_TMP/nginx.conf
	grep -q 'keepalive_requests 1000000' $FARM_TMP/nginx.conf || die "nginx.conf: keepalive line not found"
	kill -HUP "$(cat $FARM_TMP/nginx.pid)"
	sleep 1
	ha_conf a 10.0.0.3 10.0.1.3
	ha_conf b 10.0.0.2 10.0.1.2
	# Checks that outlast the emulated box under 1,000 sessions: in the
	# first run negotiatetimeout=2 failed, ldirectord's default quiescent=no
	# removed the real and expire_nodest_conn=1 reset its sessions before
	# any takeover. quiescent=yes only sets the weight to 0.
	sed -i 's/^negotiatetimeout=2$/negotiatetimeout=10\nquiescent=yes/' /tmp/e2e/ha-a/ldirectord.cf /tmp/e2e/ha-b/ldirectord.cf
	grep -q '^quiescent=yes' /tmp/e2e/ha-a/ldirectord.cf || die "ldirectord.cf: negotiatetimeout line not found"
}

# node_gone NETNS: the box is off: processes, addresses, table, sync daemons.
node_gone() {
	local pids
	pids=$(ip netns pids $1)
	[ -z "$pids" ] || kill -9 $pids 2>/dev/null
	ip -n $1 addr del $VIP/24 dev eth0 2>/dev/null
	ip -n $1 addr del $DIP/16 dev eth1 2>/dev/null
	ip netns exec $1 ipvsadm -C
	ip netns exec $1 ipvsadm --stop-daemon master 2>/dev/null
	ip netns exec $1 ipvsadm --stop-daemon backup 2>/dev/null
}

# established NETNS: IPVS connection entries in state ESTABLISHED there.
established() { ip netns exec $1 ipvsadm -Lnc 2>/dev/null | grep -c ESTABLISHED; }

# up_on_a WHO TIMEOUT_MS: A holds VIP and DIP, its table has both reals and
# the client is served.
up_on_a() {
	wait_until $2 holds dir $VIP || { log "$1: VIP never came up on A"; return 1; }
	wait_until 60000 holds dir $DIP || { log "$1: DIP never came up on A"; return 1; }
	wait_until 120000 sh -c "ip netns exec dir ipvsadm -Ln | grep -q '$(rsip 2):80'" || { log "$1: no table on A"; return 1; }
	wait_until 20000 served || { log "$1: client not served"; return 1; }
	log "$1: up on A"
}

# traffic NAME: SYNC_RATE new connections a second for SYNC_RATE_SECS
# through the VIP; the sync link's counters on A (sent) and B (received).
traffic() {
	local name=$1 tx0 txb0 rx0 t0 t1 out tx txb rx secs
	read -r tx0 txb0 < <(ip netns exec dir cat /sys/class/net/eth2/statistics/tx_packets /sys/class/net/eth2/statistics/tx_bytes | paste -sd' ')
	rx0=$(ip netns exec dir2 cat /sys/class/net/eth2/statistics/rx_packets)
	t0=$(now_ms)
	out=$(ip netns exec cli $CH rate -addr $VIP:80 -rate $RATE -duration ${RATE_SECS}s 2>&1)
	sleep 3 # the sync daemon sends what it has queued (within 2 s)
	t1=$(now_ms)
	read -r tx txb < <(ip netns exec dir cat /sys/class/net/eth2/statistics/tx_packets /sys/class/net/eth2/statistics/tx_bytes | paste -sd' ')
	rx=$(ip netns exec dir2 cat /sys/class/net/eth2/statistics/rx_packets)
	secs=$(( (t1 - t0) ))
	log "$name rate: $out"
	log "$name sync link over $((secs / 1000)).$((secs % 1000 / 100)) s: A sent $((tx - tx0)) packets, $((txb - txb0)) bytes; B received $((rx - rx0)) packets; B's ESTABLISHED entries now $(established dir2)"
	awk -v n="$name" -v p=$((tx - tx0)) -v b=$((txb - txb0)) -v ms=$secs -v o="$out" 'BEGIN {
		split(o, kv, " "); for (i in kv) if (kv[i] ~ /^[a-z_]+=/ && split(kv[i], f, "=") == 2 && !(f[1] in v)) v[f[1]] = f[2]
		s = v["secs"] + 0; if (s <= 0) s = ms / 1000; c = v["ok"] + 0
		printf "%-34s %9.0f %11.0f %12.0f %10s\n", n, p / s, b / s, (c ? b / c : 0), v["ok_per_sec"] }' >> $TRAFFIC
}

# hold NAME TAKEOVER_LIMIT_MS: N sessions, SIGKILL of A, the count.
hold() {
	local name=$1 limit=$2 t0 at ms res ready before_a before_b
	bg_start connhold ip netns exec cli $CH hold -addr $VIP:80 -n $N -interval $INTERVAL -stall ${STALL_MS}ms -ramp 200
	if ! wait_until 180000 grep -q '^ready' $E2E_TMP/connhold.log; then
		log "$name: sessions not ready after 180 s"
	fi
	ready=$(grep '^ready' $E2E_TMP/connhold.log)
	log "$name: $ready"
	sleep 3 # steady state; the backup gets the sessions' sync entries
	# ...until its count stops growing (10 s at most).
	local i prev=-1
	for ((i = 0; i < 10; i++)); do
		before_b=$(established dir2)
		[ "$before_b" != "$prev" ] || break
		prev=$before_b
		sleep 1
	done
	before_a=$(established dir)
	ip netns exec dir ipvsadm -Ln | sed 's/^/      A| /'
	log "$name: ESTABLISHED entries before the kill: A $before_a, B $before_b"
	ip -n dir2 -ts monitor address > $W/mon.out 2>&1 &
	local mon=$!
	sleep 0.3
	kill -USR1 "$(bg_pid connhold)"
	t0=$(now_ms)
	node_gone dir
	if wait_until $limit holds dir2 $VIP; then
		sleep 0.2
		at=$(sed -nE "s/^\[([0-9T:.-]+)\] .*inet $VIP\/.*/\1/p" $W/mon.out | head -n 1)
		if [ -n "$at" ]; then
			ms=$(($(date -d "${at/T/ }" +%s%3N) - t0))
		else
			ms="~$WAITED_MS" # the monitor missed it: the poll's time
		fi
	else
		ms=timeout
	fi
	kill $mon 2>/dev/null; wait $mon 2>/dev/null
	# Past the stall limit and some retransmissions after the takeover.
	sleep $((STALL_MS / 1000 + 4))
	log "$name: B after the takeover: $(established dir2) ESTABLISHED entries"
	kill -TERM "$(bg_pid connhold)"
	wait_until 20000 grep -q '^n=' $E2E_TMP/connhold.log
	res=$(grep '^n=' $E2E_TMP/connhold.log | tail -n 1)
	log "$name: $res"
	bg_stop connhold
	awk -v n="$name" -v ms="$ms" -v b="$before_b" -v o="$res" 'BEGIN {
		split(o, kv, " "); for (i in kv) if (kv[i] ~ /^[a-z_]+=/ && split(kv[i], f, "=") == 2 && !(f[1] in v)) v[f[1]] = f[2]
		printf "%-34s %9s %6s %5s %8s %6s %5s %9s %9s %10s\n", n, v["survived"] "/" v["n"], v["reset"], v["eof"],
			v["stalled"], v["other"], v["lost_before_mark"], v["longest_stall_ms"], ms, b }' >> $ROWS
}

row_skipped() { printf '%-34s %s\n' "$1" "skipped: $2" >> $ROWS; }

# ---------------------------------------------------------------- keepalived

ka_conf() { # NODE PRIO
	mkdir -p $W/ka-$1
	cat > $W/ka-$1/k.conf <<EOF
global_defs {
  router_id $1
  vrrp_version 3
  vrrp_garp_master_delay 0
  vrrp_garp_master_repeat 1
  lvs_sync_daemon eth2 VI_1 id $SYNC_ID
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority $2
  advert_int 0.3
  nopreempt
  virtual_ipaddress {
    $VIP/24 dev eth0
    $DIP/16 dev eth1
  }
}
virtual_server $VIP 80 {
  delay_loop 1
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server $(rsip 1) 80 {
    weight 1
    inhibit_on_failure
    TCP_CHECK {
      connect_timeout 10
    }
  }
  real_server $(rsip 2) 80 {
    weight 1
    inhibit_on_failure
    TCP_CHECK {
      connect_timeout 10
    }
  }
}
EOF
}
ka_start() { # NODE NETNS
	ip netns exec $2 keepalived -n -l -D -f $W/ka-$1/k.conf -p $W/ka-$1/pid -r $W/ka-$1/vrrp.pid \
		-c $W/ka-$1/chk.pid > $W/ka-$1/out 2>&1 &
}

# sync_probe: one connection that only did the handshake (2 packets from
# the client) is not on the backup yet; after one request it is.
sync_probe() {
	local b0 b1 b2
	b0=$(established dir2)
	ip netns exec cli bash -c "exec 3<>/dev/tcp/$VIP/80; sleep 3; printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' >&3; sleep 4" &
	local p=$!
	sleep 2.5
	b1=$(established dir2)
	sleep 3.5
	b2=$(established dir2)
	wait $p
	log "sync_threshold probe: B's ESTABLISHED entries: $b0 before, $b1 after the handshake only, $b2 after one request"
	echo "sync_threshold 3 50 (default): B's entries for one connection: after the handshake only +$((b1 - b0)), after its first request +$((b2 - b0))" >> $W/notes
}

keepalived_run() {
	command -v keepalived >/dev/null || { row_skipped "keepalived + lvs_sync_daemon" "keepalived not installed"; return; }
	farm
	ka_conf dir 150; ka_conf dir2 100
	ka_start dir dir
	up_on_a keepalived 30000 || { row_skipped "keepalived + lvs_sync_daemon" "did not come up"; farm_down; return; }
	ka_start dir2 dir2
	wait_until 20000 sh -c "ip netns exec dir2 ipvsadm -Ln | grep -q '$(rsip 2):80'"
	sleep 2
	log "keepalived daemons: A: $(ip netns exec dir ipvsadm -Ln --daemon | paste -sd';') B: $(ip netns exec dir2 ipvsadm -Ln --daemon | paste -sd';')"
	sync_probe
	traffic "keepalived + lvs_sync_daemon"
	hold "keepalived + lvs_sync_daemon" 30000
	farm_down
}

# ----------------------------------------------------------------- heartbeat

heartbeat_run() {
	[ -x /usr/libexec/heartbeat/heartbeat ] || { row_skipped "heartbeat 3.0.6 + ldirectord" "heartbeat not installed"; return; }
	farm
	hb_start a dir
	hb_start b dir2
	up_on_a heartbeat 120000 || { row_skipped "heartbeat 3.0.6 + ldirectord" "did not come up"; farm_down; return; }
	wait_until 60000 grep -q "Status update for node b: status active" /tmp/e2e/ha-a/ha.log || log "heartbeat: A does not see B active"
	sleep 2
	hold "heartbeat 3.0.6 + ldirectord" 120000
	farm_down
}

# ---------------------------------------------------------------------- ours

ours_run() { # NAME [SETTINGS]
	local name=$1 settings=${2:-} n args=()
	farm
	for n in a b; do
		args=()
		if [ -n "$settings" ]; then
			printf '%s\n' "$settings" > /tmp/e2e/ha-$n/settings.toml
			args=(--settings /tmp/e2e/ha-$n/settings.toml)
		fi
		if [ $n = a ]; then dd_start a dir "${args[@]}"; else dd_start b dir2 "${args[@]}"; fi
	done
	sleep 1.5
	if [ -n "$settings" ] && ! _alive "$(bg_pid dda)"; then
		log "$name: directord: $(head -n 1 $E2E_TMP/dda.log)"
		if grep -q 'unknown key sync' $E2E_TMP/dda.log; then
			echo "skipped: directord has no [sync]"
			row_skipped "$name" "directord has no [sync]"
		else
			row_skipped "$name" "directord refused the settings: $(head -n 1 $E2E_TMP/dda.log)"
		fi
		farm_down
		return
	fi
	up_on_a "$name" 30000 || { row_skipped "$name" "did not come up"; farm_down; return; }
	wait_until 10000 sh -c "$BUILD/directorctl --socket /tmp/e2e/b.sock status | grep -qE '^  a +active'"
	sleep 1
	if [ -n "$settings" ]; then
		log "$name daemons: A: $(ip netns exec dir ipvsadm -Ln --daemon | paste -sd';') B: $(ip netns exec dir2 ipvsadm -Ln --daemon | paste -sd';')"
		traffic "$name"
	fi
	hold "$name" 30000
	farm_down
}

# ---------------------------------------------------------------------- main

rm -rf $W; mkdir -p $W
: > $ROWS; : > $TRAFFIC; : > $W/notes
echo "== connection sync: $N keep-alive sessions (a request every $INTERVAL each), SIGKILL of the active director"
t_all=$(now_ms)
keepalived_run
heartbeat_run
ours_run "ours, no sync"
ours_run "ours, [sync]" "[sync]
enabled = true
interface = \"eth2\"
sync_id = $SYNC_ID"

echo
printf '%-34s %9s %6s %5s %8s %6s %5s %9s %9s %10s\n' system survived reset eof stalled other lost stall_ms takeover_ms B_entries
cat $ROWS
echo "  survived: answered after the takeover with no request waiting over ${STALL_MS} ms; other: other errors after the"
echo "  kill; lost: sessions failed before it; stall_ms: longest request wait after the kill among sessions no error ended;"
echo "  takeover: ms from SIGKILL to the VIP on B; B_entries: ESTABLISHED entries on B just before the kill"
if [ -s $TRAFFIC ]; then
	echo
	echo "== sync traffic at $RATE new connections/s for $RATE_SECS s (A's eth2, sync link only)"
	printf '%-34s %9s %11s %12s %10s\n' system "pkts/s" "bytes/s" "bytes/conn" "conns/s"
	cat $TRAFFIC
fi
[ ! -s $W/notes ] || { echo; cat $W/notes; }
echo "bench_sync took $(( ($(now_ms) - t_all) / 1000 )) s"
rm -rf $W
