# Connection sync (issue 10): two directors (NAT, the pair of t_60) with
# [sync] on run the kernel's sync daemons, backup on both from the start,
# master on the holder. A client holds rate-limited downloads and
# keep-alive HTTP sessions through the VIP; SIGKILL of the active director
# with its links taken down (as a dead box) moves them to the other one
# without a reset (curl exit 0, full size; every keep-alive request
# answered on the same connection); the same over the restarted
# director's settle-then-failback, a standby/takeover round trip and a
# graceful stop of the holder; with sync off the same SIGKILL kills every
# one of them. ipvsadm -L --daemon on each director shows the roles after
# each step.
# e2e-timeout: 660
#
# The failback runs with clients, and asserts they survive, only with
# T68_FAILBACK_STRICT=1 (VM_PASS_ENV=T68_FAILBACK_STRICT): not reliable yet.
# A stall of 10 s ends a download and counts as lost. Every client is
# checked to be still running when the fault comes. For the failback, the
# test prints when A's backup first listed each of B's connections and
# the sync messages A received (tools/syncsniff.py): the master sends its
# buffer about every 3 s, and a paced download can go unsent for 10 s,
# which is what settle_quiet has to cover (settings default 10 s, 8 s here).

CTL=$BUILD/directorctl
KA=$E2E_DIR/tools/keepalive.py
RATE=100k # bytes/s per download: 1 MiB lasts ~10 s
SYNC=/tmp/e2e/sync.toml
LOGS=${E2E_TMP:-/tmp} # bg_start logs

pair_up 2
ha_conf a 10.0.0.3 10.0.1.3
ha_conf b 10.0.0.2 10.0.1.2
for i in 1 2; do
	head -c 1048576 /dev/zero > "$WWW/$(rsip $i)/big1.bin"
	head -c 2621440 /dev/zero > "$WWW/$(rsip $i)/big3.bin"
	head -c 6291456 /dev/zero > "$WWW/$(rsip $i)/big6.bin"
done
# A small receive buffer in the client: the rate limit then paces the
# server (and the director) instead of a few MiB landing in the client's
# socket buffer at once, so a download really flows through the takeover.
ip netns exec cli sysctl -qw net.ipv4.tcp_rmem="4096 16384 32768" || die "cli tcp_rmem"
# The sync daemons speak multicast on the private bridge; without an IGMP
# querier there, snooping could age their group out.
ip link set priv type bridge mcast_snooping 0
# sync_threshold "3 10": a connection is sent again every 10 packets (the
# kernel's 50 leaves a slow keep-alive session unsent for many seconds).
cat > $SYNC <<-EOF
	[sync]
	enabled = true
	interface = "eth1"
	sync_id = 7
	settle_min = "5s"
	settle_quiet = "8s"
	settle_max = "30s"
	timeout_tcp = "900s"
	[sync.sysctl]
	sync_threshold = "3 10"
	sync_version = 1
EOF

# daemons NS: the sync daemons there, as ipvsadm lists them, on one line.
daemons() { ip netns exec "$1" ipvsadm -L --daemon 2>&1 | sed -E 's/ sync daemon \(mcast=([^,]*), syncid=([0-9]+).*/:\1:\2/' | sort | tr '\n' ' ' | sed 's/ $//'; }

# expect_daemons NS WHAT WANT: ipvsadm -L --daemon in NS shows WANT
# ("backup:eth1:7 master:eth1:7", "backup:eth1:7" or "").
_daemons_are() { [ "$(daemons "$1")" = "$2" ]; }
expect_daemons() {
	if wait_until 5000 _daemons_are "$1" "$3"; then
		pass "$2: ipvsadm -L --daemon in $1: ${3:-none}"
	else
		fail "$2: ipvsadm -L --daemon in $1" "got '$(daemons "$1")', want '$3': $(ip netns exec "$1" ipvsadm -L --daemon 2>&1)"
	fi
}

# clients_start TAG FILE N: N downloads of FILE (rate-limited) and N
# keep-alive sessions of SECS seconds through the VIP.
clients_start() {
	local tag=$1 file=$2 n=$3 secs=$4 i
	for ((i = 1; i <= n; i++)); do
		# A stall of 10 s (under 1 kB/s) ends the download (curl exit 28):
		# a connection that hangs has not survived either.
		bg_start dl$tag$i ip netns exec cli sh -c "curl -sS --limit-rate $RATE --speed-time 10 --speed-limit 1000 -w 'took %{time_total} s\\n' -o /tmp/e2e/dl$tag$i http://$VIP/$file; echo rc=\$?"
		bg_start ka$tag$i ip netns exec cli python3 $KA $VIP "$secs"
	done
	sleep 3 # established (and, with sync, sent to the backup) before anything moves (python starts slowly under emulation)
}

# clients_done TAG N: every client of TAG has finished.
clients_done() {
	local i
	for ((i = 1; i <= $2; i++)); do
		grep -q '^rc=' "$LOGS/dl$1$i.log" 2>/dev/null || return 1
		grep -qE '^(ok|FAIL)' "$LOGS/ka$1$i.log" 2>/dev/null || return 1
	done
}

# clients_survived TAG FILE N: prints how many of the 2N connections
# completed intact (download exit 0 with the full size, keep-alive ok).
clients_survived() {
	local i ok=0 size
	size=$(stat -c %s "$WWW/$(rsip 1)/$2")
	for ((i = 1; i <= $3; i++)); do
		grep -q '^rc=0$' "$LOGS/dl$1$i.log" && [ "$(stat -c %s /tmp/e2e/dl$1$i 2>/dev/null)" = "$size" ] && ok=$((ok + 1))
		grep -q '^ok ' "$LOGS/ka$1$i.log" && ok=$((ok + 1))
	done
	echo $ok
}

# verdict TAG FILE N WHAT WANT: once TAG's clients are done, their outcome
# in the log and how many of the 2N connections survived WHAT (WANT).
verdict() {
	wait_until 70000 clients_done "$1" "$3" || fail "$4: clients did not finish" ""
	show "$1" "$3"
	assert_eq "connections intact across $4 (of $((2 * $3)))" "$(clients_survived "$1" "$2" "$3")" "$5"
}

# show TAG N: the clients' outcome, for the log.
show() {
	local i
	for ((i = 1; i <= $2; i++)); do
		log "download $i: $(tr '\n' ' ' < "$LOGS/dl$1$i.log") $(stat -c %s /tmp/e2e/dl$1$i 2>/dev/null) bytes; keep-alive $i: $(cat "$LOGS/ka$1$i.log")"
	done
}

# rsts: TCP resets sent by each namespace's stack (who reset?).
rsts() {
	local ns out=
	for ns in cli rs dir dir2; do
		out+="$ns=$(ip netns exec $ns nstat -az TcpOutRsts 2>/dev/null | awk '/TcpOutRsts/ {print $2}') "
	done
	echo "$out"
}

# diag WHAT: connection entries on both directors and the neighbours, for the log.
diag() {
	log "$1: resets sent: $(rsts)"
	log "$1: A: $(ip netns exec dir ipvsadm -Lnc | grep -c ESTABLISHED) established, B: $(ip netns exec dir2 ipvsadm -Lnc | grep -c ESTABLISHED) established"
	ip netns exec dir ipvsadm -Lnc | grep ESTABLISHED | sed 's/^/      A| /'
	ip netns exec dir2 ipvsadm -Lnc | grep ESTABLISHED | sed 's/^/      B| /'
	ip -n rs neigh | sed 's/^/      rs neigh| /'
	ip -n cli neigh | sed 's/^/      cli neigh| /'
}

# watch_start / watch_stop: every 0.5 s, the client ports of the
# ESTABLISHED entries for the VIP on each director, one line per sample
# ("MS a|b PORT PORT ..."), to tell afterwards when a connection reached
# the other director's table (or that it never did).
watch_start() {
	( while :; do
		for n in dir:a dir2:b; do
			echo "$(now_ms) ${n#*:} $(ip netns exec ${n%:*} ipvsadm -Lnc 2>/dev/null |
				awk -v v=$VIP:80 '$3 == "ESTABLISHED" && $5 == v { split($4, a, ":"); printf "%s ", a[2] }')"
		done
		sleep 0.5
	done ) > /tmp/e2e/watch.log 2>&1 &
	WATCH=$!
}
watch_stop() { kill $WATCH 2>/dev/null; wait $WATCH 2>/dev/null; }

# watch_report T: for every connection B had at T (ms), when A's table
# first listed it (ms from T, negative: before), or "never".
watch_report() {
	awk -v t="$1" '
		$2 == "b" && $1 <= t { delete bs; for (i = 3; i <= NF; i++) bs[$i] = 1 }
		$2 == "a" { for (i = 3; i <= NF; i++) if (!($i in first)) first[$i] = $1 }
		END { for (p in bs) printf "port %s on A: %s\n", p, (p in first) ? (first[p] - t) " ms" : "never" }
	' /tmp/e2e/watch.log | sort
}

# running TAG N: none of TAG's clients has finished yet (so each one
# crosses what comes next).
running() {
	local i
	for ((i = 1; i <= $2; i++)); do
		grep -qE '^(rc=|ok|FAIL)' "$LOGS/dl$1$i.log" "$LOGS/ka$1$i.log" 2>/dev/null && return 1
	done
	return 0
}

# synced FROM TO: every live ESTABLISHED connection FROM's table has for
# the VIP (a packet in the last 30 s: its timer, timeout_tcp 900 s, above
# 14:30; older entries are the dead clients of earlier steps) is
# ESTABLISHED in TO's (the backup) too.
est() {
	ip netns exec "$1" ipvsadm -Lnc | awk -v v=$VIP:80 -v fresh="${2:-0}" '
		$3 == "ESTABLISHED" && $5 == v { split($2, t, ":"); if (t[1] * 60 + t[2] >= fresh) print $4 }' | sort -u
}
synced() { [ -z "$(comm -23 <(est "$1" 870) <(est "$2"))" ]; }

# crash_a: A dies as a box does: SIGKILL of its directord and its links
# down, so nothing reaches or leaves it any more. (Removing its addresses
# and table is not enough: its kernel's connection entries would go on
# forwarding the replies of the reals, whose neighbour entry for the DIP
# still points at A, and connections would survive without sync.) The
# kernel's sync daemons stay, as after a crash of directord alone.
crash_a() {
	kill -9 "$(bg_pid dda)"
	ip -n dir link set eth0 down
	ip -n dir link set eth1 down
	ip -n dir addr del $VIP/24 dev eth0 2>/dev/null
	ip -n dir addr del $DIP/16 dev eth1 2>/dev/null
	ip netns exec dir ipvsadm -C
}

# kill_a TAG N PREFIX: with TAG's N clients running, A crashes; B takes the
# VIP. Both tables are logged before and after.
kill_a() {
	local t0
	diag "${3}before the kill"
	check "${3}every client still running at the kill" running "$1" "$2"
	t0=$(now_ms)
	crash_a
	wait_until 10000 holds dir2 $VIP && pass "${3}B took the VIP $(($(now_ms) - t0)) ms after SIGKILL of A" || fail "takeover" "$(ip -n dir2 addr)"
	sleep 2
	diag "${3}after the kill"
}

# revive_a: A's links come back (its directord is started by the caller).
revive_a() {
	ip -n dir link set eth0 up
	ip -n dir link set eth1 up
}

pair_ready() {
	wait_until 20000 holds dir $VIP || die "A did not take the group: $(tail -n 20 /tmp/e2e/ha-a/ha.log)"
	wait_until 15000 sh -c "$CTL --socket /tmp/e2e/b.sock status | grep -qE '^  a +active'" || die "B does not see A active"
	wait_until 20000 sh -c "$CTL --socket /tmp/e2e/a.sock status | grep -q '$(rsip 2):80 *weight 1 *up'" || die "A's director not up"
	wait_until 10000 served || die "client not served through the VIP"
}

test_sync_off_connections_die() {
	local n=3
	dd_start a dir; dd_start b dir2
	pair_ready
	expect_daemons dir "sync off, A holds" ""
	clients_start off big3.bin $n 12
	kill_a off $n "sync off: "
	verdict off big3.bin $n "the takeover with sync off (they die)" 0
	wait_until 5000 served && pass "sync off: new connections are served by B" || fail "served by B" ""
	bg_stop ddb
	ip netns exec dir2 ipvsadm -C
	revive_a
}

test_sync_on_sigkill() {
	local n=3 st
	dd_start a dir --settings $SYNC; dd_start b dir2 --settings $SYNC
	pair_ready
	expect_daemons dir "A holds the group" "backup:eth1:7 master:eth1:7"
	expect_daemons dir2 "B stands by" "backup:eth1:7"
	# Linux hooks IPVS in only while a service exists: the standby keeps
	# an anchor (fwmark, no reals) so its synced connections are used at once.
	check "B, holding nothing, keeps the anchor service (fwm 1280725809)" sh -c "ip netns exec dir2 ipvsadm -Ln | grep -q 'FWM  1280725809'"
	assert_eq "A set net.ipv4.vs.sync_threshold from [sync.sysctl]" "$(ip netns exec dir sysctl -n net.ipv4.vs.sync_threshold | tr -s '\t ' ' ')" "3 10"
	check "A logged the sync sysctls" grep -q 'sysctl" name=net.ipv4.vs.conntrack value=1' /tmp/e2e/ha-a/ha.log
	st=$($CTL --socket /tmp/e2e/a.sock status 2>&1)
	printf '%s\n' "$st" | sed -n '/connection sync/,/^[a-zA-Z]/p' | sed 's/^/      /'
	assert_match "directorctl status shows the sync" "$st" "connection sync: eth1 syncid 7"
	assert_match "directorctl status shows the master" "$st" "master +running +interface eth1 syncid 7"
	clients_start kill big3.bin $n 24
	wait_until 5000 sh -c "[ \$(ip netns exec dir2 ipvsadm -Lnc | grep -c '$VIP:80') -ge $((2 * n)) ]" &&
		pass "B's backup has A's $((2 * n)) connections before the kill ($(ip netns exec dir2 ipvsadm -Lnc | grep -c "$VIP:80") entries, $(ip netns exec dir2 ipvsadm -Lnc | grep -c ESTABLISHED) established)" ||
		fail "B's backup has A's connections" "$(ip netns exec dir2 ipvsadm -Lnc)"
	kill_a kill $n ""
	expect_daemons dir2 "B took over" "backup:eth1:7 master:eth1:7"
	verdict kill big3.bin $n "the SIGKILL takeover" $((2 * n))
}

test_restart_settles_then_fails_back() {
	local n=3 t0 st took
	# A's directord comes back while B holds the group and the clients'
	# connections: A's backup must have them before the group returns.
	# A's kernel kept both daemons when directord died. The backup goes (as
	# on a reboot: A must learn the connections anew); the master stays, to
	# show that the new run stops a master it finds before holding a group.
	expect_daemons dir "A's directord killed: the kernel kept its daemons" "backup:eth1:7 master:eth1:7"
	ip netns exec dir ipvsadm --stop-daemon backup
	revive_a
	# With clients only when their survival is asserted (see the end).
	local strict=${T68_FAILBACK_STRICT:-}
	if [ -n "$strict" ]; then
		clients_start back big6.bin $n 40
		watch_start
		bg_start sniff ip netns exec dir python3 $E2E_DIR/tools/syncsniff.py eth1
	fi
	t0=$(now_ms)
	dd_start a dir --settings $SYNC
	expect_daemons dir "A restarted, not holding (the crashed run's master stopped)" "backup:eth1:7"
	if wait_until 45000 holds dir $VIP; then took=$(($(now_ms) - t0)); pass "auto_failback after settle: A holds the VIP $took ms after its start"; else fail "failback" "$(tail -n 20 /tmp/e2e/ha-a/ha.log)"; fi
	local tfb=$(now_ms)
	[ -z "$strict" ] || check "every client still running at the failback" running back $n
	check "A waited for its backup to settle" grep -q 'connection sync: backup settled' /tmp/e2e/ha-a/ha.log
	grep 'backup settled' /tmp/e2e/ha-a/ha.log | tail -n 1 | sed 's/^/      /'
	[ "${took:-0}" -ge 5000 ] && pass "the failback waited at least settle_min (5 s): $took ms" || fail "failback before settle_min" "$took ms"
	wait_until 10000 sh -c "! ip -n dir2 addr show | grep -q 'inet $VIP/'" && pass "B released the VIP" || fail "B release" ""
	sleep 2
	diag "after failback"
	expect_daemons dir "A holds again" "backup:eth1:7 master:eth1:7"
	expect_daemons dir2 "B released" "backup:eth1:7"
	# Connections across the failback are not yet reliable, so the suite
	# runs it without clients: in 3 of 6 runs one download was in no sync
	# message A received before the failback, which reset it (README,
	# Connection sync). T68_FAILBACK_STRICT=1 runs and asserts them.
	[ -n "$strict" ] || return 0
	watch_stop
	log "B's connections at the failback, and when A's backup had them (A started $((tfb - t0)) ms before the failback):"
	watch_report "$tfb" | sed 's/^/      /'
	bg_stop sniff
	log "sync messages A received while B was master (tools/syncsniff.py):"
	head -n 5 "$LOGS/sniff.log" | sed 's/^/      /'
	echo "      ..."
	awk -v t=$tfb '$1 <= t + 1000' "$LOGS/sniff.log" | tail -n 30 | sed 's/^/      /'
	verdict back big6.bin $n "the failback" $((2 * n))
}

test_standby_takeover_round_trip() {
	local n=3 i
	clients_start rt big3.bin $n 24
	diag "before standby"
	check "every client still running at the standby" running rt $n
	# A planned hand-over stops the master, and the kernel then drops what
	# it had not sent yet (it sends every ~3 s): connections younger than
	# that are not on the peer. Not fixed yet (README); wait for them here.
	wait_until 10000 synced dir dir2 && pass "B's backup has A's connections before the standby (${WAITED_MS} ms)" ||
		fail "B's backup has A's connections" "A: $(est dir 870 | tr '\n' ' ') B: $(est dir2 | tr '\n' ' ')"
	check "standby on A" $CTL --socket /tmp/e2e/a.sock standby
	wait_until 15000 holds dir2 $VIP && pass "standby: B holds the VIP" || fail "standby" "$(tail -n 20 /tmp/e2e/ha-a/ha.log)"
	sleep 2
	diag "after standby"
	for ((i = 1; i <= n; i++)); do log "keep-alive $i so far: $(cat "$LOGS/kart$i.log")"; done
	expect_daemons dir2 "after standby, B holds" "backup:eth1:7 master:eth1:7"
	expect_daemons dir "after standby, A" "backup:eth1:7"
	sleep 3 # B's master sends the connections back to A
	check "takeover on A" $CTL --socket /tmp/e2e/a.sock takeover
	wait_until 15000 holds dir $VIP && pass "takeover: A holds the VIP" || fail "takeover" "$(tail -n 20 /tmp/e2e/ha-a/ha.log)"
	expect_daemons dir "after takeover, A holds" "backup:eth1:7 master:eth1:7"
	expect_daemons dir2 "after takeover, B" "backup:eth1:7"
	verdict rt big3.bin $n "standby and takeover" $((2 * n))
}

# A graceful stop (SIGTERM) of the holder: it releases the group and
# stops its daemons, B takes over with the connections its backup has.
test_graceful_stop_keeps_connections() {
	local n=3 t0
	holds dir $VIP || { fail "A holds the group" ""; return 0; }
	clients_start gs big3.bin $n 24
	check "every client still running at the stop" running gs $n
	wait_until 10000 synced dir dir2 && pass "B's backup has A's connections before the stop (${WAITED_MS} ms)" ||
		fail "B's backup has A's connections" "A: $(est dir 870 | tr '\n' ' ') B: $(est dir2 | tr '\n' ' ')"
	t0=$(now_ms)
	bg_stop dda
	wait_until 15000 holds dir2 $VIP && pass "B took the VIP $(($(now_ms) - t0)) ms after SIGTERM of A" || fail "takeover after SIGTERM" "$(tail -n 20 /tmp/e2e/ha-b/ha.log)"
	expect_daemons dir "A's directord stopped: its daemons with it" ""
	expect_daemons dir2 "B holds after A's stop" "backup:eth1:7 master:eth1:7"
	verdict gs big3.bin $n "a graceful stop of the holder" $((2 * n))
}

test_stop_ends_the_daemons() {
	bg_stop ddb
	expect_daemons dir2 "B's directord stopped" ""
}
