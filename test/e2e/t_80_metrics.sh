# Prometheus metrics. Our ldirectord with a settings file named by
# LVSDIRECTOR_SETTINGS serves 127.0.0.1:9773 in the director's namespace:
# every real is up, with the kernel's weight; a real whose check page goes
# is down and quiesced in the metrics as in the table; a broken settings
# file and a taken metrics port stop a start. Then two directord (--settings)
# on two directors: the holder says it holds the group and has the reals,
# the other says it does not, each sees its peer's state as directorctl
# does; a graceful stop moves the group, and the metrics follow.
# e2e-timeout: 420

LD=$BUILD/ldirectord
DD=$BUILD/directord
CTL=$BUILD/directorctl
CFG=/tmp/e2e/m-ld.cf
SETTINGS=/tmp/e2e/settings.toml
MADDR=127.0.0.1:9773
SVC=$VIP:80
R1=$(rsip 1) R2=$(rsip 2) R3=$(rsip 3)

# scrape NS: the metrics page of the daemon in namespace NS.
scrape() { ip netns exec "$1" curl -sS --fail --connect-timeout 2 -m 5 "http://$MADDR/metrics"; }

# metric NS SERIES: the value of SERIES (name{labels} as exposed, labels in
# name order), or "absent".
metric() {
	scrape "$1" 2>/dev/null | awk -v s="$2" '$1 == s { v = $2; f = 1 } END { print f ? v : "absent" }'
}
metric_is() { [ "$(metric "$1" "$2")" = "$3" ]; }

# wait_metric NAME NS SERIES WANT TIMEOUT_MS: records a pass when SERIES
# reaches WANT in time, else a failure with what it was.
wait_metric() {
	if wait_until "$5" metric_is "$2" "$3" "$4"; then
		pass "$1 (${WAITED_MS} ms)"
	else
		fail "$1" "$3 is $(metric "$2" "$3"), want $4"
	fi
}

# real_up R / real_weight R / virtual_series NAME: series names for $SVC.
real_up() { echo "lvs_real_up{real=\"$1:80\",virtual=\"tcp:$SVC\"}"; }
real_weight() { echo "lvs_real_weight{real=\"$1:80\",virtual=\"tcp:$SVC\"}"; }
virtual_series() { echo "$1{virtual=\"tcp:$SVC\"}"; }

# kernel_weight NAME NS R WANT: the kernel has real R of $SVC (in NS) at
# weight WANT, and lvs_real_weight says the same. ("absent" on both sides
# is not agreement: the real must be in the table.)
kernel_weight() {
	local kw mw
	kw=$(IPVS_NS=$2 weight_of $SVC "$3:80")
	mw=$(metric "$2" "$(real_weight "$3")")
	if [ "$kw" != "$4" ]; then
		fail "$1" "the kernel has $3 at weight '$kw', want $4 (metric: $mw)"
	elif [ "$mw" != "$kw" ]; then
		fail "$1" "lvs_real_weight of $3 is '$mw', the kernel's $kw"
	else
		pass "$1 ($kw)"
	fi
}

# node_state NS NODE: the state whose lvs_ha_node_state series is 1.
node_state() {
	scrape "$1" 2>/dev/null | awk -v p="lvs_ha_node_state{node=\"$2\",state=\"" \
		'index($1, p) == 1 && $2 == 1 { s = substr($1, length(p) + 1); sub(/"}$/, "", s); print s }'
}
node_state_is() { [ "$(node_state "$1" "$2")" = "$3" ]; }

farm_up 3
vip_add
mkdir -p /tmp/e2e
cat > $CFG <<EOF
checktimeout=2
negotiatetimeout=2
checkinterval=1
failurecount=1
logfile="/tmp/e2e/m-ld.log"
virtual=$VIP:80
	real=$R1:80 masq 1
	real=$R2:80 masq 2
	real=$R3:80 masq 3
	service=http
	request="test.html"
	receive="ok"
	scheduler=rr
	quiescent=yes
EOF
cat > $SETTINGS <<EOF
# metrics for the e2e test
[metrics]
listen = "$MADDR"
EOF

test_ldirectord_metrics() {
	check "start with LVSDIRECTOR_SETTINGS exits 0" in_dir env LVSDIRECTOR_SETTINGS=$SETTINGS $LD $CFG start
	local w=0 r
	for r in $R1 $R2 $R3; do
		w=$((w + 1))
		if wait_weight $SVC $r:80 $w 20000 >/dev/null; then pass "$r in the table at weight $w"; else fail "$r in the table at weight $w" "weight $(weight_of $SVC $r:80)"; fi
	done
	local page
	page=$(scrape dir 2>&1)
	check "metrics served on $MADDR in the director's namespace" scrape dir
	printf '%s\n' "$page" | grep '^lvs_' | sed 's/^/      /'
	w=0
	for r in $R1 $R2 $R3; do
		w=$((w + 1))
		wait_metric "lvs_real_up is 1 for $r" dir "$(real_up $r)" 1 10000
		kernel_weight "lvs_real_weight of $r is the kernel's weight" dir $r $w
	done
	assert_eq "lvs_virtual_reals counts the configured reals" "$(metric dir "$(virtual_series lvs_virtual_reals)")" 3
	assert_eq "lvs_virtual_reals_up: all up" "$(metric dir "$(virtual_series lvs_virtual_reals_up)")" 3
	assert_eq "no fallback configured, none active" "$(metric dir "$(virtual_series lvs_virtual_fallback_active)")" 0
	# Checks run every second: the counter grows.
	local c1 c2
	c1=$(metric dir lvs_checks_total)
	sleep 2.5
	c2=$(metric dir lvs_checks_total)
	if [[ $c1 =~ ^[0-9]+$ && $c2 =~ ^[0-9]+$ ]] && [ "$c2" -gt "$c1" ]; then
		pass "lvs_checks_total grows ($c1 -> $c2)"
	else
		fail "lvs_checks_total grows" "$c1 then $c2"
	fi
	assert_match "check lateness p99 exported" "$(metric dir 'lvs_check_lateness_seconds{quantile="0.99"}')" '^[0-9.e+-]+$'
	page=$(scrape dir 2>&1)
	assert_match "Go collector" "$page" $'\ngo_goroutines [0-9]+'
	assert_match "process collector" "$page" $'\nprocess_start_time_seconds [0-9.e+]+'
}

test_ldirectord_metrics_follow_a_failure() {
	rs_fail $R2
	wait_metric "failed real: lvs_real_up 0" dir "$(real_up $R2)" 0 10000
	wait_metric "failed real: lvs_real_weight 0 (quiescent)" dir "$(real_weight $R2)" 0 10000
	assert_eq "and the kernel has it at weight 0" "$(weight_of $SVC $R2:80)" 0
	assert_eq "lvs_virtual_reals_up drops to 2" "$(metric dir "$(virtual_series lvs_virtual_reals_up)")" 2
	assert_eq "the others stay up" "$(metric dir "$(real_up $R1)") $(metric dir "$(real_up $R3)")" "1 1"
	rs_heal $R2
	wait_metric "healed real: lvs_real_up 1" dir "$(real_up $R2)" 1 10000
	wait_metric "healed real: its weight is back" dir "$(real_weight $R2)" 2 10000
}

test_ldirectord_settings_errors() {
	local bad=/tmp/e2e/bad-settings.toml cf2=/tmp/e2e/m-ld2.cf out
	sed "s/$VIP:80/10.0.0.101:80/" $CFG > $cf2
	printf '[metrics]\nlisten = "%s"\nport = 9773\n' $MADDR > $bad
	out=$(in_dir env LVSDIRECTOR_SETTINGS=$bad $LD $cf2 start 2>&1)
	assert_eq "unknown key in the settings: start exits 2" "$?" 2
	assert_match "error names the settings file and line" "$out" "reading file $bad at line 3: unknown key metrics.port"
	out=$(in_dir env LVSDIRECTOR_SETTINGS=/tmp/e2e/none.toml $LD $cf2 start 2>&1)
	assert_eq "missing settings file named by LVSDIRECTOR_SETTINGS: exit 2" "$?" 2
	# The first daemon holds the metrics port: a second one cannot start.
	out=$(in_dir env LVSDIRECTOR_SETTINGS=$SETTINGS $LD $cf2 start 2>&1)
	assert_eq "metrics port taken: start exits 1" "$?" 1
	assert_match "and says why" "$out" "cannot listen on $MADDR"
	assert_eq "that daemon is not running" "$(in_dir $LD $cf2 status >/dev/null 2>&1; echo $?)" 3
	assert_eq "its virtual was never programmed" "$(weight_of 10.0.0.101:80 $R1:80)" absent
	check "the first daemon still serves metrics" scrape dir
}

test_ldirectord_stop_ends_metrics() {
	check "stop exits 0" in_dir $LD $CFG stop
	check_not "no metrics after stop" scrape dir
}

# ------------------------------------------------------- directord pair ---

GROUP="$VIP/24/eth0" # a group is named by its first resource

# ctl_state NODE PEER: the peer's state as directorctl status on NODE shows it.
ctl_state() {
	$CTL --socket /tmp/e2e/$1.sock status 2>/dev/null | awk -v p="$2" '$1 == p { print $2; exit }'
}

test_directord_pair_metrics() {
	# A fresh farm with two directors (the DIP becomes a resource), each
	# directord with its own settings file: 127.0.0.1:9773 in its namespace.
	pair_up 2
	ha_conf a 10.0.0.3 10.0.1.3
	ha_conf b 10.0.0.2 10.0.1.2
	# Dead time 8 s, so the graceful handover below cannot pass by dead-peer
	# detection (with 1 s the two look alike under emulation).
	sed -i 's/^deadtime 1$/deadtime 8/; s/^initdead 3$/initdead 8/' /tmp/e2e/ha-a/ha.cf /tmp/e2e/ha-b/ha.cf
	grep -q '^deadtime 8$' /tmp/e2e/ha-a/ha.cf && grep -q '^deadtime 8$' /tmp/e2e/ha-b/ha.cf || die "deadtime 8 not set"
	local n
	for n in a b; do
		printf '\tquiescent=yes\n' >> /tmp/e2e/ha-$n/ldirectord.cf
		printf '[metrics]\nlisten = "%s"\npath = "/metrics"\n' $MADDR > /tmp/e2e/ha-$n/settings.toml
	done
	dd_start a dir --settings /tmp/e2e/ha-a/settings.toml
	dd_start b dir2 --settings /tmp/e2e/ha-b/settings.toml

	if wait_until 30000 holds dir $VIP; then pass "A holds the group (${WAITED_MS} ms)"; else fail "A holds the group" "$(tail -n 20 /tmp/e2e/ha-a/ha.log)"; fi
	wait_metric "A: lvs_ha_group_held 1" dir "lvs_ha_group_held{group=\"$GROUP\"}" 1 10000
	wait_metric "B: lvs_ha_group_held 0" dir2 "lvs_ha_group_held{group=\"$GROUP\"}" 0 10000
	wait_metric "A: lvs_ha_comm_up 1" dir lvs_ha_comm_up 1 10000
	wait_metric "B: lvs_ha_comm_up 1" dir2 lvs_ha_comm_up 1 10000
	scrape dir 2>&1 | grep '^lvs_' | sed 's/^/      A /'
	scrape dir2 2>&1 | grep '^lvs_' | sed 's/^/      B /'

	# Each one's view of its peer, against directorctl's.
	if wait_until 10000 node_state_is dir b active; then pass "A sees b active"; else fail "A sees b active" "b is '$(node_state dir b)'"; fi
	assert_eq "A: lvs_ha_node_state of b is what directorctl says" "$(node_state dir b) $(ctl_state a b)" "active active"
	if wait_until 10000 node_state_is dir2 a active; then pass "B sees a active"; else fail "B sees a active" "a is '$(node_state dir2 a)'"; fi
	assert_eq "B: lvs_ha_node_state of a is what directorctl says" "$(node_state dir2 a) $(ctl_state b a)" "active active"
	assert_eq "A: link eth0 to b up" "$(metric dir 'lvs_ha_link_up{link="eth0",node="b"}')" 1
	assert_eq "A: link eth1 to b up" "$(metric dir 'lvs_ha_link_up{link="eth1",node="b"}')" 1
	assert_eq "A holds its local resources" "$(metric dir 'lvs_ha_resources{state="local"}')" 1

	# The director in-process: its reals on A only.
	local r
	for r in $R1 $R2; do
		wait_metric "A: lvs_real_up 1 for $r" dir "$(real_up $r)" 1 15000
	done
	kernel_weight "A: lvs_real_weight is the kernel's" dir $R1 1
	check "B serves metrics" scrape dir2
	assert_eq "B: no director metrics while it holds nothing" "$(metric dir2 "$(real_up $R1)")" absent

	# A real fails: A's metrics say so.
	rs_fail $R1
	wait_metric "A: failed real lvs_real_up 0" dir "$(real_up $R1)" 0 10000
	wait_metric "A: failed real quiesced" dir "$(real_weight $R1)" 0 10000
	rs_heal $R1

	# A stops gracefully: B takes the group, and the metrics follow.
	local t0 took
	t0=$(now_ms)
	kill -TERM "$(bg_pid dda)"
	wait_until 15000 holds dir2 $VIP
	took=$(($(now_ms) - t0))
	if holds dir2 $VIP && [ $took -lt 4000 ]; then pass "B took the group $took ms after A's TERM (dead time 8000 ms; bound 4000 ms)"; else
		fail "B took the group well inside the dead time" "after $took ms, B holds: $(holds dir2 $VIP && echo yes || echo no); $(tail -n 20 /tmp/e2e/ha-b/ha.log)"; fi
	bg_stop dda
	wait_metric "B: lvs_ha_group_held 1 after the handover" dir2 "lvs_ha_group_held{group=\"$GROUP\"}" 1 10000
	if wait_until 10000 node_state_is dir2 a dead; then pass "B: a is dead in lvs_ha_node_state"; else fail "B: a dead" "a is $(node_state dir2 a)"; fi
	assert_eq "B: lvs_ha_node_state{node=a,state=active} is 0" "$(metric dir2 'lvs_ha_node_state{node="a",state="active"}')" 0
	wait_metric "B: link eth0 to a dead" dir2 'lvs_ha_link_up{link="eth0",node="a"}' 0 20000
	wait_metric "B: the director's reals now on B" dir2 "$(real_up $R2)" 1 15000
	check_not "A's metrics are gone with A" scrape dir
	bg_stop ddb
}
