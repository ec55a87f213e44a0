# Traffic figures: `directorctl status --stats` / `--rate` against
# `ipvsadm -Ln --stats|--rate --exact` of the same virtual in the same
# moment, and the kernel's counters in the metrics (node_exporter's IPVS
# names). One directord holds the group (its peer never starts).
# e2e-timeout: 180
. "$E2E_DIR/tools/procsample.sh"
CTL=$BUILD/directorctl

pair_up 2
ha_conf a 10.0.0.3 10.0.1.3
ha_conf b 10.0.0.2 10.0.1.2
ps_settings /tmp/e2e/ha-a/settings.toml

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
	local o k
	o=$(ours --stats) k=$(kernel --stats)
	log "ours:"
	printf '%s\n' "$o" | sed 's/^/      /'
	assert_eq "--stats: the same header as ipvsadm" "$(printf '%s\n' "$o" | sed -n 1,2p)" "$(printf '%s\n' "$k" | sed -n 2,3p)"
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
	assert_eq "--rate: the same header as ipvsadm" "$(printf '%s\n' "$o" | sed -n 1,2p)" "$(printf '%s\n' "$k" | sed -n 2,3p)"
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

# The peer, holding nothing, has no director running: no rows, exit 0.
test_stats_on_a_node_holding_nothing() {
	dd_start b dir2
	wait_until 15000 sh -c "$CTL --socket /tmp/e2e/b.sock status 2>/dev/null | grep -qE '^  a +active'" || fail "B sees A" ""
	local o
	o=$($CTL --socket /tmp/e2e/b.sock status --stats)
	assert_eq "B: status --stats exits 0" "$?" 0
	assert_eq "B: no rows" "$(rows <<< "$o")" ""
}
