# Fault runs against a directord pair (sourced after lib.sh by
# t_85_pair_faults.sh, the short version in `make test`, and by
# faults_pair.sh, the long one in `make faults`).
#
# Who holds the VIP is read from the kernel: `ip -ts monitor address` in
# both directors' namespaces, analysed by tools/holders.py, so a slow shell
# does not blur a double holder or a gap. Each pf_* function prints one
# figure line and sets PF_* variables for the caller's assertions.
#
# Timers are ha_conf's: keepalive 200 ms, deadtime 1 s, initdead 3 s.

PF_KEEPALIVE_MS=200
PF_DEADTIME_MS=1000
PF_INITDEAD_MS=3000
PF_W=${E2E_TMP:-/tmp}/pf
HOLDERS="python3 $E2E_DIR/tools/holders.py"

pf_setup() {
	mkdir -p "$PF_W"
	pair_up 2
	ha_conf a 10.0.0.3 10.0.1.3
	ha_conf b 10.0.0.2 10.0.1.2
}

# pf_mon_start / pf_mon_stop: address monitors in both directors.
pf_mon_start() {
	PF_HELD_A=0 PF_HELD_B=0
	holds dir $VIP && PF_HELD_A=1
	holds dir2 $VIP && PF_HELD_B=1
	ip -n dir -ts monitor address > "$PF_W/a.mon" 2>&1 &
	PF_MON_A=$!
	ip -n dir2 -ts monitor address > "$PF_W/b.mon" 2>&1 &
	PF_MON_B=$!
	sleep 0.2
}
pf_mon_stop() {
	kill "$PF_MON_A" "$PF_MON_B" 2>/dev/null
	wait "$PF_MON_A" "$PF_MON_B" 2>/dev/null
}

# pf_holders T0 T1 [FROM]: the figures of the window (see holders.py);
# PF_SKEW=MS sets its --skew.
pf_holders() {
	$HOLDERS $VIP "$1" "$2" a=$PF_HELD_A:"$PF_W/a.mon" b=$PF_HELD_B:"$PF_W/b.mon" ${3:+--from "$3"} ${PF_SKEW:+--skew "$PF_SKEW"}
}

# pf_fig LINE KEY: one value out of a holders.py line.
pf_fig() { sed -nE "s/.*\\b$2=([^ ]+).*/\\1/p" <<< "$1"; }

# pf_clean: nothing runs and no director holds an address, whatever a run
# left behind (counted by the caller before this is called).
pf_clean() {
	bg_stop dda
	bg_stop ddb
	local ns
	for ns in dir dir2; do
		ip -n $ns addr del $VIP/24 dev eth0 2>/dev/null
		ip -n $ns addr del $DIP/16 dev eth1 2>/dev/null
		ip netns exec $ns ipvsadm -C
		tc -n $ns qdisc del dev eth0 root 2>/dev/null
		tc -n $ns qdisc del dev eth1 root 2>/dev/null
	done
	ip -n dir route del blackhole $PF_ROUTER/32 2>/dev/null
	return 0
}

# pf_simultaneous_start: both directors started at the same moment. Both
# come up unstable, so the preferred one takes its group when nobody has
# answered stable within heartbeat's RQSTDELAY (10 s) after comm came up:
# the window runs until 3 s after somebody first holds the VIP (or
# PF_START_BOUND_MS). Sets PF_DOUBLE (longest stretch with two holders,
# ms), PF_FIRST (ms to the first holder, -1: none within the bound),
# PF_LOST (ms without a holder after that), PF_FINAL, PF_LEFT (addresses
# left after both stopped gracefully).
PF_START_BOUND_MS=20000
pf_simultaneous_start() {
	pf_clean
	pf_mon_start
	local t0 t1
	t0=$(now_ms)
	dd_start a dir
	dd_start b dir2
	wait_until $PF_START_BOUND_MS eval 'holds dir $VIP || holds dir2 $VIP' && sleep 3
	t1=$(now_ms)
	pf_mon_stop
	local fig
	fig=$(pf_holders "$t0" "$t1")
	PF_DOUBLE=$(pf_fig "$fig" double_max_ms)
	PF_FIRST=$(pf_fig "$fig" first_ms)
	PF_LOST=$(pf_fig "$fig" lost_ms)
	PF_FINAL=$(pf_fig "$fig" final)
	bg_stop dda
	bg_stop ddb
	PF_LEFT=0
	holds dir $VIP && PF_LEFT=$((PF_LEFT + 1))
	holds dir2 $VIP && PF_LEFT=$((PF_LEFT + 1))
	echo "    start: $fig left_after_stop=$PF_LEFT"
}

# pf_cut NS... / pf_heal NS...: drop everything the directors send on
# both links (the heartbeat media), or stop dropping.
pf_cut() {
	local ns
	for ns in "$@"; do
		tc -n $ns qdisc replace dev eth0 root netem loss 100%
		tc -n $ns qdisc replace dev eth1 root netem loss 100%
	done
}
pf_heal() {
	local ns
	for ns in "$@"; do
		tc -n $ns qdisc del dev eth0 root 2>/dev/null
		tc -n $ns qdisc del dev eth1 root 2>/dev/null
	done
}

# pf_running NAME: the bg_start process NAME is alive (an empty pid would
# make _alive read /proc//stat, that is /proc/stat).
pf_running() {
	local p
	p=$(bg_pid "$1") && [ -n "$p" ] && _alive "$p"
}

# pf_pair_steady: A and B running, A holding the group (auto_failback on).
pf_pair_steady() {
	if ! pf_running dda || ! pf_running ddb; then
		pf_clean
		dd_start a dir
		dd_start b dir2
	fi
	wait_until 30000 holds dir $VIP && wait_until 10000 eval '! holds dir2 $VIP' && return 0
	echo "    pair not steady: A holds: $(holds dir $VIP && echo yes || echo no), B holds: $(holds dir2 $VIP && echo yes || echo no)"
	tail -n 8 /tmp/e2e/ha-a/ha.log /tmp/e2e/ha-b/ha.log | cut -c1-160 | sed 's/^/    | /'
	{ bg_log dda; bg_log ddb; ls -la /tmp/e2e/ha-a; } | tail -n 20 | sed "s/^/    dd: /"
	return 1
}

# pf_partition: every heartbeat link cut for 2 x deadtime, then healed.
# Sets PF_RESOLVE (ms with two holders after the heal), PF_NONE (ms with
# no holder over the whole run), PF_FINAL, PF_GARP (gratuitous ARPs the
# client saw for the VIP pointing at the loser after the heal resolved).
pf_partition() {
	PF_RESOLVE=0 PF_NONE=unknown PF_GARP=unknown
	pf_pair_steady || { echo "    partition: pair not steady"; PF_FINAL=unsteady; return 1; }
	local mac_b t0 th t1
	mac_b=$(ip -n dir2 -br link show eth0 | awk '{print $3}')
	ip netns exec cli ping -q -i 0.1 -W 1 $VIP > /dev/null 2>&1 &
	local ping=$!
	ip -n cli -ts monitor neigh > "$PF_W/cli.neigh" 2>&1 &
	local neigh=$!
	pf_mon_start
	t0=$(now_ms)
	pf_cut dir dir2
	sleep $((2 * PF_DEADTIME_MS / 1000))
	# The heal counts from its first command: tc is slow under emulation.
	th=$(now_ms)
	pf_heal dir dir2
	sleep 4
	t1=$(now_ms)
	pf_mon_stop
	kill $ping $neigh 2>/dev/null
	wait $ping $neigh 2>/dev/null
	local whole after
	whole=$(pf_holders "$t0" "$t1")
	after=$(pf_holders "$th" "$t1")
	PF_NONE=$(pf_fig "$whole" none_ms)
	PF_SPLIT=$(pf_fig "$whole" double_ms)
	PF_RESOLVE=$(pf_fig "$after" double_ms)
	PF_FINAL=$(pf_fig "$after" final)
	# A gratuitous ARP from B after the split resolved would point the
	# client's entry for the VIP at B again.
	PF_GARP=$(pf_arps_to "$PF_W/cli.neigh" "$mac_b" $((th + PF_RESOLVE + 200)))
	echo "    partition: split ${PF_SPLIT} ms, after heal: two holders for ${PF_RESOLVE} ms, final $PF_FINAL, no holder ${PF_NONE} ms, ARP to the loser after it resolved: $PF_GARP"
}

# pf_arps_to NEIGHLOG MAC T_MS: how many times the client's neighbour
# entry for the VIP was set to MAC at or after T_MS (`ip -ts monitor neigh`
# in cli): a gratuitous ARP from the node that owns MAC.
pf_arps_to() {
	python3 - "$1" "$VIP" "$2" "$3" <<-'EOF'
		import re, sys
		from datetime import datetime
		n = 0
		for line in open(sys.argv[1], errors="replace"):
		    m = re.match(r"^\[([0-9T:.-]+)\] (\S+) .*lladdr (\S+)", line)
		    if not m or m.group(2) != sys.argv[2] or m.group(3) != sys.argv[3]:
		        continue
		    if datetime.fromisoformat(m.group(1)).timestamp() * 1000 >= float(sys.argv[4]):
		        n += 1
		print(n)
	EOF
}

# pf_conf_ping: both directors get a ping node (the public side's router,
# PF_ROUTER, an address on the client) and heartbeat's ipfail line.
PF_ROUTER=10.0.0.254
PF_HANDSHAKE_SKEW_MS=20
pf_conf_ping() {
	ip -n cli addr add $PF_ROUTER/24 dev eth0 2>/dev/null
	local ipf="ping $PF_ROUTER
respawn hacluster /usr/lib/heartbeat/ipfail"
	ha_conf a 10.0.0.3 10.0.1.3 "$ipf"
	ha_conf b 10.0.0.2 10.0.1.2 "$ipf"
}

# pf_monitor_skew N: how far the two address monitors disagree about the
# order of events that are strictly ordered: N times a test address is
# added and deleted in dir, then (after the delete returned) added and
# deleted in dir2. Any overlap holders.py reports is the monitors' skew.
# Sets PF_SKEW_SEEN (longest overlap, ms) and PF_SKEW_EVENTS (events seen;
# 4 N when none was missed).
PF_SKEW_ADDR=10.0.0.199
pf_monitor_skew() {
	local n=$1 i fig t0 t1 ha hb
	ha=$PF_HELD_A hb=$PF_HELD_B
	ip -n dir -ts monitor address > "$PF_W/sa.mon" 2>&1 &
	local ma=$!
	ip -n dir2 -ts monitor address > "$PF_W/sb.mon" 2>&1 &
	local mb=$!
	sleep 0.2
	t0=$(now_ms)
	for ((i = 0; i < n; i++)); do
		ip -n dir addr add $PF_SKEW_ADDR/32 dev eth0
		ip -n dir addr del $PF_SKEW_ADDR/32 dev eth0
		ip -n dir2 addr add $PF_SKEW_ADDR/32 dev eth0
		ip -n dir2 addr del $PF_SKEW_ADDR/32 dev eth0
	done
	sleep 0.3
	t1=$(now_ms)
	kill $ma $mb 2>/dev/null
	wait $ma $mb 2>/dev/null
	fig=$($HOLDERS $PF_SKEW_ADDR "$t0" "$t1" a=0:"$PF_W/sa.mon" b=0:"$PF_W/sb.mon")
	PF_SKEW_SEEN=$(pf_fig "$fig" double_max_ms)
	PF_SKEW_EVENTS=$(pf_fig "$fig" changes)
	echo "    address monitors, $n strictly ordered hand-overs: longest apparent overlap ${PF_SKEW_SEEN} ms, $PF_SKEW_EVENTS events"
}

# pf_ping_partition: A, holding the group, loses its route to the ping node
# while every heartbeat link stays up (a one-sided uplink failure); after
# the hand-over it stays cut for 2 x deadtime, then the route comes back.
# Sets PF_HANDOVER (ms from the cut to B holding the VIP, or timeout),
# PF_RETURN (ms from the heal to A holding it alone again, or timeout),
# PF_DOUBLE_N and PF_DOUBLE (stretches / ms with two holders over the
# run; stretches of at most PF_HANDSHAKE_SKEW_MS are counted apart, in
# PF_DOUBLE_SKEW_N: both moves are handshakes, A's release done before B
# starts, and the monitors stamp events in user space), PF_NONE_MAX (longest stretch without a holder), PF_FINAL, PF_GARP
# (gratuitous ARPs pointing the client at B after A had it back).
pf_ping_partition() {
	PF_HANDOVER=timeout PF_RETURN=timeout PF_GARP=unknown PF_DOUBLE_N=unknown PF_DOUBLE=unknown PF_NONE_MAX=unknown PF_UNPROVEN=unknown
	pf_pair_steady || { echo "    ping partition: pair not steady"; PF_FINAL=unsteady; return 1; }
	# Both must see the ping node before the cut, or the counts say nothing.
	local n
	for n in a b; do
		wait_until 10000 sh -c "$BUILD/directorctl --socket /tmp/e2e/$n.sock status | grep -qE '$PF_ROUTER +ping'" ||
			{ echo "    ping partition: $n does not see the ping node"; PF_FINAL=unsteady; return 1; }
	done
	local mac_b t0 th tr t1
	mac_b=$(ip -n dir2 -br link show eth0 | awk '{print $3}')
	ip -n cli -ts monitor neigh > "$PF_W/cli.neigh" 2>&1 &
	local neigh=$!
	pf_mon_start
	t0=$(now_ms)
	ip -n dir route add blackhole $PF_ROUTER/32
	wait_until 20000 holds dir2 $VIP && PF_HANDOVER=$(($(now_ms) - t0))
	sleep $((2 * PF_DEADTIME_MS / 1000))
	th=$(now_ms)
	ip -n dir route del blackhole $PF_ROUTER/32
	wait_until 20000 eval 'holds dir $VIP && ! holds dir2 $VIP' && PF_RETURN=$(($(now_ms) - th))
	tr=$(now_ms)
	sleep 2
	t1=$(now_ms)
	pf_mon_stop
	kill $neigh 2>/dev/null
	wait $neigh 2>/dev/null
	local fig
	fig=$(PF_SKEW=$PF_HANDSHAKE_SKEW_MS pf_holders "$t0" "$t1")
	PF_DOUBLE_N=$(pf_fig "$fig" double_n)
	PF_DOUBLE_SKEW_N=$(pf_fig "$fig" double_skew_n)
	PF_DOUBLE=$(pf_fig "$fig" double_ms)
	PF_NONE_MAX=$(pf_fig "$fig" none_max_ms)
	PF_FINAL=$(pf_fig "$fig" final)
	PF_GARP=$(pf_arps_to "$PF_W/cli.neigh" "$mac_b" $((tr + 200)))
	# Any overlap the monitors show, within the skew allowance or not, is
	# checked against both directors' log lines (ms stamps, one clock):
	# PF_UNPROVEN counts those the logs do not order (release logged done
	# before the acquisition began); each is printed with its events.
	PF_UNPROVEN=0
	if [ "${PF_DOUBLE_N:-0}" != 0 ] || [ "${PF_DOUBLE_SKEW_N:-0}" != 0 ]; then
		local d
		d=$(python3 "$E2E_DIR/tools/doubles.py" $VIP a=$PF_HELD_A:"$PF_W/a.mon":/tmp/e2e/ha-a/ha.log b=$PF_HELD_B:"$PF_W/b.mon":/tmp/e2e/ha-b/ha.log 2>&1)
		head -n 80 <<< "$d" | sed 's/^/    | /'
		PF_UNPROVEN=$(pf_fig "$(tail -n 1 <<< "$d")" unproven)
		[ -n "$PF_UNPROVEN" ] || PF_UNPROVEN=unknown
	fi
	echo "    ping partition: hand-over ${PF_HANDOVER} ms, back ${PF_RETURN} ms after the heal; the monitors show two holders ${PF_DOUBLE_N} times, ${PF_DOUBLE_SKEW_N} more within their skew (${PF_DOUBLE} ms in all), of which the directors' logs do not order $PF_UNPROVEN; longest without a holder ${PF_NONE_MAX} ms, final $PF_FINAL, ARP to B after A had it back: $PF_GARP"
}

# pf_lossy PCT SECS: A holding, both links of both directors lose PCT % of
# their packets with 200 ms of jitter (so also reordered) for SECS; then A
# dies under the same loss. Sets PF_FALSE (takeovers by B while A was
# alive), PF_TAKEOVER (ms from A's death to B holding the VIP, or
# "timeout").
pf_lossy() {
	local pct=$1 secs=$2 ns
	PF_TAKEOVER=none
	pf_pair_steady || { echo "    loss $pct%: pair not steady"; PF_FALSE=unsteady; return 1; }
	pf_mon_start
	local t0 t1
	t0=$(now_ms)
	for ns in dir dir2; do
		tc -n $ns qdisc replace dev eth0 root netem loss "$pct%" delay 100ms 200ms
		tc -n $ns qdisc replace dev eth1 root netem loss "$pct%" delay 100ms 200ms
	done
	sleep "$secs"
	t1=$(now_ms)
	# additions of the VIP on B (not its deletions)
	PF_FALSE=$(grep "inet $VIP/" "$PF_W/b.mon" | grep -vc Deleted | tr -d ' ')
	local fig
	fig=$(pf_holders "$t0" "$t1")
	rm -f "$BG_DIR/dda.pid"
	local tk
	tk=$(now_ms)
	node_crash dir
	PF_TAKEOVER=timeout
	if wait_until 30000 holds dir2 $VIP; then
		local at
		sleep 0.2
		at=$(grep "inet $VIP/" "$PF_W/b.mon" | grep -v Deleted | tail -n 1 | sed -nE 's/^\[([0-9T:.-]+)\].*/\1/p')
		PF_TAKEOVER=$(($(date -d "${at/T/ }" +%s%3N) - tk))
	fi
	pf_mon_stop
	pf_heal dir dir2
	echo "    loss $pct% (jitter 200 ms) for ${secs} s: false takeovers $PF_FALSE ($fig); takeover after A died: $PF_TAKEOVER ms"
}
