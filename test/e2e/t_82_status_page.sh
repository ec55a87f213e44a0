# The status page ("/" on the metrics listener) in Debian's headless
# Chromium against a running directord pair: the page as a browser renders
# it (--dump-dom) after start, after a real fails and after a takeover, and
# phone-sized screenshots (exported to the host by run.sh, see vm_export).
# e2e-timeout: 420
. "$E2E_DIR/tools/procsample.sh"
CTL=$BUILD/directorctl
CHROME=$(command -v chromium || true)

pair_up 2
ha_conf a 10.0.0.3 10.0.1.3
ha_conf b 10.0.0.2 10.0.1.2
for n in a b; do ps_settings /tmp/e2e/ha-$n/settings.toml; done
R2=$(rsip 2)

# browse NS OUT [--screenshot]: Chromium loads the page in NS; the DOM as
# text goes to OUT (tags stripped, blanks squeezed), or a 412x915 (phone)
# screenshot to OUT.
browse() {
	local ns=$1 out=$2 what=${3:---dump-dom} prof
	prof=$(mktemp -d /tmp/e2e/chrome.XXXXXX)
	local args=(--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --disable-quic --no-first-run
		--disable-background-networking --disable-component-update --disable-sync --user-data-dir="$prof")
	if [ "$what" = --screenshot ]; then
		ip netns exec "$ns" env HOME="$prof" timeout 120 "$CHROME" "${args[@]}" --hide-scrollbars --window-size=412,915 \
			--screenshot="$out" "http://$PS_MADDR/" > "$prof.log" 2>&1
	else
		ip netns exec "$ns" env HOME="$prof" timeout 120 "$CHROME" "${args[@]}" --dump-dom "http://$PS_MADDR/" 2> "$prof.log" |
			sed -e 's/<[^>]*>/ /g' | tr -s ' \n' ' ' > "$out"
	fi
	local rc=$?
	[ $rc -eq 0 ] || tail -n 5 "$prof.log" | sed 's/^/      chromium| /'
	rm -rf "$prof"
	return $rc
}

# page_shows NS WHAT REGEX TIMEOUT_MS: the rendered page in NS matches.
page_shows() {
	local ns=$1 what=$2 re=$3 limit=$4 t0 text=/tmp/e2e/page.$1.txt
	t0=$(now_ms)
	while :; do
		browse "$ns" "$text" && grep -qE "$re" "$text" && { pass "$what ($(($(now_ms) - t0)) ms)"; return 0; }
		[ $(($(now_ms) - t0)) -lt "$limit" ] || break
		sleep 1
	done
	fail "$what" "$(sed 's/.*Virtual services/Virtual services/' "$text" 2>/dev/null | cut -c1-900)"
}

shot() {
	if browse "$1" "/tmp/e2e/$2" --screenshot && [ "$(head -c 4 "/tmp/e2e/$2" | tail -c 3)" = PNG ]; then
		pass "screenshot $2 ($(stat -c %s "/tmp/e2e/$2") bytes)"
		vm_export "/tmp/e2e/$2" "$2"
	else
		fail "screenshot $2" ""
	fi
}

test_page_after_start() {
	[ -n "$CHROME" ] || { fail "chromium installed" "scripts/deps.sh installs it"; return 0; }
	dd_start a dir --settings /tmp/e2e/ha-a/settings.toml
	dd_start b dir2 --settings /tmp/e2e/ha-b/settings.toml
	wait_until 30000 holds dir $VIP || { fail "A holds the group" "$(tail -n 20 /tmp/e2e/ha-a/ha.log)"; return 0; }
	wait_weight $VIP:80 "$R2:80" 1 20000 > /dev/null || fail "reals up" "$(ipvs_dump)"
	page_shows dir "A's page: the pair, A holding" "Node a : communication up , holding (all|local)" 60000
	local t=/tmp/e2e/page.dir.txt
	assert_match "A's page: b active, both links up, last heartbeat" "$(cat $t)" "b active eth0 up eth1 up [0-9.]+ s ago"
	assert_match "A's page: the group held here" "$(cat $t)" "$VIP/24/eth0 held here"
	assert_match "A's page: the virtual, 2 of 2 up" "$(cat $t)" "tcp:$VIP:80 rr · 2 of 2 reals up"
	assert_match "A's page: a real up with weight and last check" "$(cat $t)" "$R2:80 up 1 [0-9]+ [0-9]+ [0-9.]+ s ago"
	page_shows dir2 "B's page: released, no director here" "released .*No director runs here" 60000
	shot dir status-a-start.png
}

test_page_after_a_real_fails() {
	rs_fail "$R2"
	page_shows dir "A's page: the failed real down, with why" "$R2:80 down (0|not in table) .*(404|Not Found|status)" 30000
	assert_match "A's page: 1 of 2 up" "$(cat /tmp/e2e/page.dir.txt)" "1 of 2 reals up"
	shot dir status-a-real-down.png
	rs_heal "$R2"
}

test_page_after_takeover() {
	rm -f "$BG_DIR/dda.pid"
	node_crash dir
	wait_until 15000 holds dir2 $VIP || { fail "B took over" "$(tail -n 20 /tmp/e2e/ha-b/ha.log)"; return 0; }
	page_shows dir2 "B's page after A died: a dead, B holding" "a dead .*$VIP/24/eth0 held here" 60000
	assert_match "B's page: its director's virtual" "$(cat /tmp/e2e/page.dir2.txt)" "tcp:$VIP:80 rr"
	shot dir2 status-b-takeover.png
}
