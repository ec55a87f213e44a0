# SIGHUP re-reads the configuration, as heartbeat's does, and never stops
# the daemon. A holds the group of a directord pair. A good reload on A:
# the new keepalive is on the wire (timed at B), the held group's
# ldirectord.cf is reloaded (a new weight in the kernel), a changed
# haresources is logged as needing a restart and not applied. A broken
# ha.cf: logged with file:line, A still runs and holds the VIP, the timers
# stay. New authkeys on both: the pair stays as it is; then B alone goes
# back to the old key and takes over, so A really signs with the new one.

CTL=$BUILD/directorctl
A=/tmp/e2e/ha-a
R1=$(rsip 1)

pair_up 2
ha_conf a 10.0.0.3 10.0.1.3
ha_conf b 10.0.0.2 10.0.1.2

# statuses NS SRC SECONDS: how many status heartbeats of SRC reach NS's eth0.
statuses() {
	ip netns exec "$1" "$E2E_DIR/tools/hbgaps.py" eth0 "$2" "$3" 100000 | sed -nE '1s/^status=([0-9]+).*/\1/p'
}

hup_a() { kill -HUP "$(bg_pid dda)"; }

test_pair_up() {
	dd_start a dir; dd_start b dir2
	if wait_until 30000 holds dir $VIP; then pass "A holds the VIP"; else fail "A holds the VIP" "$(tail -n 20 $A/ha.log)"; fi
	wait_weight $VIP:80 $R1:80 1 20000 >/dev/null || fail "A's director serves $R1" "$(ipvs_dump)"
	local n
	n=$(statuses dir2 10.0.0.2 4)
	log "A's status heartbeats at B in 4 s, keepalive 200 ms: $n"
}

test_good_reload() {
	sed -i 's/^keepalive 200ms/keepalive 500ms/; s/^deadtime 1$/deadtime 3/; s/^warntime .*/warntime 1500ms/' $A/ha.cf
	sed -i "s|real=$R1:80 masq|real=$R1:80 masq 5|" $A/ldirectord.cf
	echo "a $VIP/24/eth0 $DIP/16/eth1 10.0.0.101/24/eth0 ldirectord::ldirectord.cf" > $A/haresources
	hup_a
	if wait_until 5000 grep -q "configuration reloaded" $A/ha.log; then pass "A logged the reload"; else fail "A logged the reload" "$(tail -n 10 $A/ha.log)"; fi
	check "A still runs after SIGHUP" _alive "$(bg_pid dda)"
	check "and holds the VIP" holds dir $VIP
	assert_match "the new timers are in force" "$(grep 'timers now' $A/ha.log)" "keepalive 500ms, deadtime 3s"
	local n
	n=$(statuses dir2 10.0.0.2 4)
	# 500 ms: 8 in 4 s (7..9 with the edges); 200 ms would give 20.
	if [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 6 ] && [ "$n" -le 10 ]; then pass "A's heartbeats at B: $n in 4 s (keepalive 500 ms)"; else fail "keepalive 500 ms on the wire" "$n status messages in 4 s"; fi
	if wait_weight $VIP:80 $R1:80 5 10000 >/dev/null; then pass "the held group's ldirectord.cf reloaded: weight 5 in the kernel"; else fail "ldirectord.cf reloaded" "weight $(weight_of $VIP:80 $R1:80)"; fi
	assert_match "a new resource is logged as needing a restart" "$(grep 'needs a restart' $A/ha.log)" "haresources: resource groups changed: needs a restart"
	check_not "and not applied: 10.0.0.101 not added" holds dir 10.0.0.101
	check_not "B did not take over" holds dir2 $VIP
}

test_broken_reload() {
	cp $A/ha.cf $A/ha.cf.good
	echo "keepalive fast" >> $A/ha.cf
	local line
	line=$(wc -l < $A/ha.cf)
	hup_a
	if wait_until 5000 grep -q "kept as it was" $A/ha.log; then pass "broken ha.cf: configuration kept"; else fail "broken ha.cf logged" "$(tail -n 10 $A/ha.log)"; fi
	assert_match "the error names the file and line" "$(grep 'kept as it was' $A/ha.log | tail -n1)" "$A/ha.cf:$line"
	sleep 1
	check "A still runs" _alive "$(bg_pid dda)"
	check "and holds the VIP" holds dir $VIP
	local n
	n=$(statuses dir2 10.0.0.2 4)
	if [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 6 ] && [ "$n" -le 10 ]; then pass "keepalive still 500 ms: $n in 4 s"; else fail "keepalive kept" "$n status messages in 4 s"; fi
	check_not "B did not take over" holds dir2 $VIP
	cp $A/ha.cf.good $A/ha.cf
}

test_authkeys_reload() {
	local d
	for d in $A /tmp/e2e/ha-b; do printf 'auth 1\n1 sha1 e2e-other-secret\n' > $d/authkeys; done
	kill -HUP "$(bg_pid ddb)" "$(bg_pid dda)"
	wait_until 5000 grep -q "authkeys reloaded" /tmp/e2e/ha-b/ha.log || fail "B reloaded authkeys" "$(tail -n 5 /tmp/e2e/ha-b/ha.log)"
	wait_until 5000 grep -q "authkeys reloaded" $A/ha.log || fail "A reloaded authkeys" "$(tail -n 5 $A/ha.log)"
	sleep 5 # more than either deadtime
	check "both on the new key: A holds the VIP" holds dir $VIP
	check_not "and B does not" holds dir2 $VIP
	check_not "B never saw A dead" grep -q "node status.*node=a.*status=dead" /tmp/e2e/ha-b/ha.log
	# B back on the old key: A's packets (new key) no longer verify there.
	printf 'auth 1\n1 sha1 e2e-secret\n' > /tmp/e2e/ha-b/authkeys
	kill -HUP "$(bg_pid ddb)"
	if wait_until 15000 holds dir2 $VIP; then pass "B on the old key takes over: A signs with the new key"; else fail "B takes over" "$(tail -n 10 /tmp/e2e/ha-b/ha.log)"; fi
	check "both still run" sh -c "kill -0 $(bg_pid dda) && kill -0 $(bg_pid ddb)"
}
