# shellcheck shell=bash
# Flapping reals against ldirectord (sourced after lib.sh by t_86_flap.sh,
# the short run in make test, and faults_flap.sh, the long one in make
# faults). Two virtuals share two healthy nginx reals; each also has one
# real whose health page flips every FLAP_PERIOD_MS on its own clock
# (tools/flapreal.py, which logs every health answer it gives):
#   VIP:80        healthy R1 R2, flapper R3:8081, failurecount=1
#   10.0.0.101:80 healthy R1 R2, flapper R4:8082, failurecount=3
# tools/flapjudge.py replays the logged answers with ldirectord's rule and
# compares the transitions it gives with the kernel writes ldirectord
# logged. RSS, goroutines and fds of ldirectord are sampled
# (tools/procsample.sh); a client fetches through both VIPs all along.
. "$E2E_DIR/tools/procsample.sh"

LD=$BUILD/ldirectord
FLAP_W=/tmp/e2e/flap
FLAP_CFG=$FLAP_W/flap.cf
FLAP_PERIOD_MS=${FLAP_PERIOD_MS:-300}
VIP2=10.0.0.101

flap_setup() {
	farm_up 4
	vip_add
	vip_add $VIP2
	rm -rf "$FLAP_W"
	mkdir -p "$FLAP_W"
	local r1 r2 r3 r4
	r1=$(rsip 1) r2=$(rsip 2) r3=$(rsip 3) r4=$(rsip 4)
	FLAP_R3=$r3:8081 FLAP_R4=$r4:8082
	printf '%s\n' checkinterval=1 checktimeout=2 negotiatetimeout=2 quiescent=yes "logfile=\"$FLAP_W/ld.log\"" \
		"virtual=$VIP:80" "	real=$r1:80 masq" "	real=$r2:80 masq" "	real=$FLAP_R3 masq" \
		'	request="test.html"' '	receive="ok"' '	scheduler=rr' '	failurecount=1' \
		"virtual=$VIP2:80" "	real=$r1:80 masq" "	real=$r2:80 masq" "	real=$FLAP_R4 masq" \
		'	request="test.html"' '	receive="ok"' '	scheduler=rr' '	failurecount=3' > "$FLAP_CFG"
	ps_settings "$FLAP_W/settings.toml"
}

# flap_client: fetch / through both VIPs every 200 ms; counts in
# $FLAP_W/client ("tries failures").
flap_client() {
	local n=0 bad=0 v
	while :; do
		for v in $VIP $VIP2; do
			n=$((n + 1))
			ip netns exec cli curl -sS -o /dev/null --fail --connect-timeout 2 -m 5 "http://$v/" 2>/dev/null || bad=$((bad + 1))
		done
		echo "$n $bad" > "$FLAP_W/client"
		sleep 0.2
	done
}

# flap_run SECS SAMPLE_SECS: the flappers run, ldirectord starts, SECS of
# flapping, ldirectord stops. Sets FLAP_FIG3 / FLAP_FIG4 (flapjudge lines
# for the failurecount=1 and =3 flappers), FLAP_HEALTHY_CHURN (kernel
# writes for the healthy reals after their first), FLAP_CLIENT ("tries
# failures"), FLAP_PERIOD (achieved mean period of the flapper's answers
# flipping, ms), and leaves the samples in $FLAP_W/samples.
flap_run() {
	local secs=$1 every=$2
	in_rs python3 "$E2E_DIR/tools/flapreal.py" "${FLAP_R3%:*}" "${FLAP_R3#*:}" "$FLAP_PERIOD_MS" "$FLAP_W/r3.log" &
	local f3=$!
	in_rs python3 "$E2E_DIR/tools/flapreal.py" "${FLAP_R4%:*}" "${FLAP_R4#*:}" "$FLAP_PERIOD_MS" "$FLAP_W/r4.log" &
	local f4=$!
	wait_until 10000 in_rs sh -c "ss -Hltn 'sport = :8082' | grep -q . && ss -Hltn 'sport = :8081' | grep -q ." ||
		fail "flapping reals listen" ""
	check "ldirectord starts" in_dir env LVSDIRECTOR_SETTINGS="$FLAP_W/settings.toml" "$LD" "$FLAP_CFG" start
	local pid
	pid=$(cat /var/run/ldirectord.flap.cf.pid 2>/dev/null)
	wait_weight $VIP:80 $(rsip 1):80 1 15000 > /dev/null || fail "healthy real up at start" "$(tail -n 5 $FLAP_W/ld.log)"
	flap_client &
	local cl=$!
	: > "$FLAP_W/samples"
	local t_end=$(($(date +%s) + secs)) next=0 now
	while now=$(date +%s) && [ "$now" -lt "$t_end" ]; do
		if [ "$now" -ge "$next" ]; then
			echo "$(( secs - (t_end - now) )) $(ps_sample dir "$pid")" >> "$FLAP_W/samples"
			next=$((now + every))
		fi
		sleep 1
	done
	echo "$secs $(ps_sample dir "$pid")" >> "$FLAP_W/samples"
	kill $cl 2>/dev/null
	wait $cl 2>/dev/null
	FLAP_CLIENT=$(cat "$FLAP_W/client" 2>/dev/null || echo "0 0")
	check "ldirectord stops" in_dir "$LD" "$FLAP_CFG" stop
	kill $f3 $f4 2>/dev/null
	wait $f3 $f4 2>/dev/null
	FLAP_FIG3=$(python3 "$E2E_DIR/tools/flapjudge.py" "$FLAP_W/r3.log" 1 "$FLAP_W/ld.log" "$FLAP_R3")
	FLAP_FIG4=$(python3 "$E2E_DIR/tools/flapjudge.py" "$FLAP_W/r4.log" 3 "$FLAP_W/ld.log" "$FLAP_R4")
	# A healthy real is written once when its first check brings it up
	# (added at weight 0, quiescent=yes, then restored): anything after
	# that first restore, per virtual, is churn.
	FLAP_HEALTHY_CHURN=$(grep -E "(Quiescent|Restored) real server: ($(rsip 1)|$(rsip 2)):80 " "$FLAP_W/ld.log" |
		sed -nE 's/.*(Quiescent|Restored) real server: ([^ ]+) \(([^)]*)\).*/\1 \2 \3/p' |
		awk '$1 == "Restored" && !seen[$2 " " $3]++ { next } { n++ } END { print n + 0 }')
	echo "    failurecount=1 flapper: $FLAP_FIG3"
	echo "    failurecount=3 flapper: $FLAP_FIG4"
	echo "    healthy reals: $FLAP_HEALTHY_CHURN kernel writes after they came up; client: $FLAP_CLIENT (tries failures)"
	echo "    samples (s RSS_KiB goroutines fds):"
	sed 's/^/      /' "$FLAP_W/samples"
}

# flap_fig LINE KEY
flap_fig() { sed -nE "s/.*\\b$2=([^ ]+).*/\\1/p" <<< "$1"; }

# flap_verdicts: the assertions both runs make.
flap_verdicts() {
	local f k got want
	for f in "1:$FLAP_FIG3" "3:$FLAP_FIG4"; do
		k=${f%%:*} f=${f#*:}
		[ "$(flap_fig "$f" checks)" -gt 0 ] && [ "$(flap_fig "$f" failed)" -gt 0 ] && [ "$(flap_fig "$f" ok)" -gt 0 ] &&
			pass "failurecount=$k: the flapper was checked and seen both up and down ($(flap_fig "$f" checks) checks)" ||
			fail "failurecount=$k: checks of the flapper" "$f"
		for dir in down up; do
			got=$(flap_fig "$f" got_$dir) want=$(flap_fig "$f" want_$dir)
			# A check answered while ldirectord was stopping is logged by
			# the real but was never judged: one of slack.
			[ $((got - want)) -le 0 ] && [ $((want - got)) -le 1 ] &&
				pass "failurecount=$k: $got transitions $dir, as the rule gives ($want)" ||
				fail "failurecount=$k: $got transitions $dir, the rule gives $want" "$f"
		done
	done
	[ "$(flap_fig "$FLAP_FIG3" got_down)" -gt "$(flap_fig "$FLAP_FIG4" got_down)" ] &&
		pass "failurecount=3 damps: $(flap_fig "$FLAP_FIG4" got_down) downs against $(flap_fig "$FLAP_FIG3" got_down) at failurecount=1" ||
		fail "failurecount=3 does not damp" "$FLAP_FIG3 / $FLAP_FIG4"
	assert_eq "the healthy reals never changed" "$FLAP_HEALTHY_CHURN" 0
	assert_eq "the client was served every time (${FLAP_CLIENT% *} tries)" "${FLAP_CLIENT#* }" 0
	ps_verdict "ldirectord RSS" "$FLAP_W/samples" 2 20 2048
	ps_verdict "ldirectord goroutines" "$FLAP_W/samples" 3 20 10
	ps_verdict "ldirectord fds" "$FLAP_W/samples" 4 10 4
}
