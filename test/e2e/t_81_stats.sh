# Traffic figures: `directorctl status --stats` / `--rate` against
# `ipvsadm -Ln --stats|--rate --exact` of the same virtual in the same
# moment, and the kernel's counters in the metrics (node_exporter's IPVS
# names). Drain: `directorctl drain REAL --wait` sets the real to weight 0
# while a download through it goes on, new requests go elsewhere, the
# drain survives a reload (SIGHUP), --wait returns once the download is
# done, undrain gives the weight back. One directord holds the group.
# e2e-timeout: 300
. "$E2E_DIR/tools/procsample.sh"
CTL=$BUILD/directorctl

pair_up 2
ha_conf a 10.0.0.3 10.0.1.3
ha_conf b 10.0.0.2 10.0.1.2
ps_settings /tmp/e2e/ha-a/settings.toml
for i in 1 2; do head -c 3145728 /dev/zero > "$WWW/$(rsip $i)/big.bin"; done

# rows FILE: the service and real rows (not the titles), blanks squeezed.
rows() { grep -E '^(TCP|UDP|SCTP|FWM) |^  -> [0-9[]' | tr -s ' '; }
ours() { $CTL --socket /tmp/e2e/a.sock status "$@"; }
kernel() { ip netns exec dir ipvsadm -Ln "$@" --exact -t $VIP:80; }

test_stats_match_ipvsadm() {
	dd_start a dir --settings /tmp/e2e/ha-a/settings.toml
	wait_until 30000 holds dir $VIP || { fail "A holds the group" "$(tail -n 20 /tmp/e2e/ha-a/ha.log)"; return 0; }
	wait_weight $VIP:80 "$(rsip 1):80" 1 20000 > /dev/null && wait_weight $VIP:80 "$(rsip 2):80" 1 20000 > /dev/null ||
		fail "both reals up" "$(ipvs_dump)"
	local i
	for ((i = 0; i < 12; i++)); do cli_get -o /dev/null "http://$VIP/" ; done
	# The kernel folds its per-CPU counters into what both of us read
	# every 2 s (the estimator): wait for the 12, then read both within
	# one period.
	local o k
	wait_until 6000 sh -c "$CTL --socket /tmp/e2e/a.sock status --stats | grep -qE '^TCP +$VIP:80 +12 '" ||
		log "ours has not counted 12 connections after 6 s"
	for i in 1 2 3; do
		o=$(ours --stats) k=$(kernel --stats)
		[ "$(rows <<< "$o")" = "$(rows <<< "$k")" ] && break
	done
	log "ours:"
	printf '%s\n' "$o" | sed 's/^/      /'
	# ipvsadm -L -t VIP prints no version line: the titles are its lines 1-2.
	assert_eq "--stats: the same header as ipvsadm" "$(printf '%s\n' "$o" | sed -n 1,2p)" "$(printf '%s\n' "$k" | sed -n 1,2p)"
	assert_eq "--stats: the same rows as ipvsadm -Ln --stats --exact" "$(rows <<< "$o")" "$(rows <<< "$k")"
	assert_match "--stats: the service counted the 12 connections" "$(rows <<< "$o" | head -n 1)" "^TCP $VIP:80 12 "
	# Rates move every 2 s (the kernel's estimator): read both in one period.
	local same=
	for i in 1 2 3; do
		o=$(ours --rate) k=$(kernel --rate)
		[ "$(rows <<< "$o")" = "$(rows <<< "$k")" ] && { same=1; break; }
	done
	[ -n "$same" ] && pass "--rate: the same rows as ipvsadm -Ln --rate --exact" ||
		fail "--rate rows" "ours: $(rows <<< "$o") kernel: $(rows <<< "$k")"
	assert_eq "--rate: the same header as ipvsadm" "$(printf '%s\n' "$o" | sed -n 1,2p)" "$(printf '%s\n' "$k" | sed -n 1,2p)"
	local m
	m=$(ip netns exec dir curl -sS -m 5 "http://$PS_MADDR/metrics")
	assert_match "metrics: lvs_ipvs_connections_total of the virtual" "$m" \
		"lvs_ipvs_connections_total\\{local_address=\"$VIP\",local_mark=\"\",local_port=\"80\",proto=\"TCP\"\\} 12"
	local r1 conns
	r1=$(rsip 1)
	conns=$(kernel --stats | awk -v r="$r1:80" '$1 == "->" && $2 == r { print $3 }')
	assert_match "metrics: lvs_ipvs_backend_connections_total of a real as ipvsadm counts it ($conns)" "$m" \
		"lvs_ipvs_backend_connections_total\\{local_address=\"$VIP\",local_mark=\"\",local_port=\"80\",proto=\"TCP\",remote_address=\"$r1\",remote_port=\"80\"\\} $conns"
	assert_match "metrics: lvs_ipvs_backend_weight" "$m" \
		"lvs_ipvs_backend_weight\\{local_address=\"$VIP\",local_mark=\"\",local_port=\"80\",proto=\"TCP\",remote_address=\"$r1\",remote_port=\"80\"\\} 1"
}

test_drain() {
	holds dir $VIP || { fail "A holds the group" ""; return 0; }
	# A small receive buffer in the client: the rate limit then paces the
	# server, so the download stays established through the director for
	# its ~30 s instead of landing in the client's socket buffer at once.
	ip netns exec cli sysctl -qw net.ipv4.tcp_rmem="4096 16384 32768" || fail "cli tcp_rmem" ""
	bg_start dl ip netns exec cli sh -c "curl -sS --limit-rate 100k -o /tmp/e2e/dl.bin http://$VIP/big.bin; echo rc=\$?"
	local x= i
	for i in $(seq 1 50); do
		x=$(ip netns exec dir ipvsadm -Lnc | awk -v v="$VIP:80" '$3 == "ESTABLISHED" && $5 == v { print $6; exit }')
		[ -n "$x" ] && break
		sleep 0.1
	done
	[ -n "$x" ] || { fail "the download is established" "$(ip netns exec dir ipvsadm -Lnc)"; return 0; }
	local other=$(rsip 1)
	[ "${x%:*}" = "$other" ] && other=$(rsip 2)
	log "the download goes to $x"
	bg_start drainw sh -c "$CTL --socket /tmp/e2e/a.sock drain $x --wait --timeout 60s; echo rc=\$?"
	wait_weight $VIP:80 "$x" 0 5000 > /dev/null && pass "drain: $x at weight 0 in the kernel (${WAITED_MS} ms)" || fail "drain weight" "$(ipvs_dump)"
	local answers
	answers=$(for i in $(seq 1 8); do cli_get "http://$VIP/"; done | sort | uniq -c | tr -s ' ')
	assert_eq "drain: new requests all go to the other real" "$answers" " 8 hello from $other"
	assert_match "drain: status shows it" "$($CTL --socket /tmp/e2e/a.sock status)" "$x +weight 0 +up, drained"
	assert_match "drain: lvs_real_drained 1" "$(ip netns exec dir curl -sS -m 5 "http://$PS_MADDR/metrics")" \
		"lvs_real_drained\\{real=\"$x\",virtual=\"tcp:$VIP:80\"\\} 1"
	kill -HUP "$(bg_pid dda)"
	wait_until 10000 grep -q "Reloaded\|reload" /tmp/e2e/ha-a/ld.log || true
	sleep 2
	assert_eq "drain survives a reload (SIGHUP): weight" "$(weight_of $VIP:80 "$x")" 0
	check "drain --wait still waits while the download runs" sh -c "! grep -q '^rc=' ${E2E_TMP:-/tmp}/drainw.log"
	if wait_until 60000 grep -q '^rc=' "${E2E_TMP:-/tmp}/dl.log"; then
		local tdl
		tdl=$(now_ms)
		assert_eq "the download through the drained real completed" "$(grep '^rc=' "${E2E_TMP:-/tmp}/dl.log")/$(stat -c %s /tmp/e2e/dl.bin)" "rc=0/3145728"
		if wait_until 10000 grep -q '^rc=' "${E2E_TMP:-/tmp}/drainw.log"; then
			pass "drain --wait returned $(($(now_ms) - tdl)) ms after the download ended"
		else
			fail "drain --wait returned" "$(bg_log drainw)"
		fi
		assert_eq "drain --wait: exit 0" "$(grep '^rc=' "${E2E_TMP:-/tmp}/drainw.log")" "rc=0"
		assert_match "drain --wait said so" "$(bg_log drainw)" "$x drained"
		log "$(bg_log drainw | tr '\n' '|')"
	else
		fail "download finished" "$(bg_log dl)"
	fi
	check "undrain" $CTL --socket /tmp/e2e/a.sock undrain "$x"
	wait_weight $VIP:80 "$x" 1 5000 > /dev/null && pass "undrain: weight 1 again" || fail "undrain weight" "$(ipvs_dump)"
	answers=$(for i in $(seq 1 6); do cli_get "http://$VIP/"; done | sort -u | wc -l)
	assert_eq "undrain: both reals answer again" "$answers" 2
}

# The peer, holding nothing, has no director running: no rows, exit 0.
test_stats_on_a_node_holding_nothing() {
	dd_start b dir2
	wait_until 15000 sh -c "$CTL --socket /tmp/e2e/b.sock status 2>/dev/null | grep -qE '^  a +active'" || fail "B sees A" ""
	local o
	o=$($CTL --socket /tmp/e2e/b.sock status --stats)
	assert_eq "B: status --stats exits 0" "$?" 0
	assert_eq "B: no rows" "$(rows <<< "$o")" ""
}
