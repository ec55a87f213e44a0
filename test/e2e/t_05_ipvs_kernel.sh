# The ipvs package against the real kernel: build/vmcheck (ipvs/internal/vmcheck)
# programs TCP, UDP, SCTP and fwmark services, IPv4 and IPv6, schedulers and
# flags, persistence with netmask, masq/gate/ipip, weights and thresholds,
# reads them back through libipvs and our netlink dump, compares with
# ipvsadm -Ln, checks that bad ops fail alone, deadlines and handle rebuilds,
# and a scale run; and ipvs.Sync: sync daemons, timeouts and errors against
# ipvsadm. Each of its PASS/FAIL lines is an assertion here. test_sync_pair
# syncs a master in dir to a backup in dir2.
# e2e-timeout: 480

test_kernel_table() {
	[ -x "$BUILD/vmcheck" ] || die "build/vmcheck missing (make build)"
	ip netns add ipvscheck || die "netns"
	ip -n ipvscheck link set lo up
	ip netns exec ipvscheck "$BUILD/vmcheck" -services 20 -dests 50 > "$E2E_TMP/vmcheck.out" 2>&1
	local rc=$? line
	while IFS= read -r line; do
		case $line in
		PASS\ *) pass "${line#PASS }" ;;
		FAIL\ *) name=${line#FAIL }; fail "${name%%:*}" "${name#*: }" ;;
		*) printf '      %s\n' "$line" ;;
		esac
	done < "$E2E_TMP/vmcheck.out"
	assert_eq "vmcheck exit status" "$rc" 0
	ip netns del ipvscheck
}

# ipvs.Sync between two directors: the master sync daemon in dir, the backup
# in dir2 (both on eth1, the priv link), started with our netlink calls
# (build/vmcheck sync ...); ipvsadm agrees; connections through the VIP on
# dir appear in dir2's table; Connections agrees with ipvsadm -Lnc.
vsync() { local ns=$1; shift; ip netns exec "$ns" "$BUILD/vmcheck" sync "$@"; }
lnc_count() { ip netns exec "$1" ipvsadm -Lnc | tail -n +3 | wc -l; }
# synced_from NS: dir2 lists an entry of the client's through the VIP.
synced_from() { ip netns exec "$1" ipvsadm -Lnc | grep -q "$CLI_IP:[0-9]* *$VIP:80"; }
# lnc_at_least NS N: NS's connection table has N entries or more.
lnc_at_least() { [ "$(lnc_count "$1")" -ge "$2" ]; }

test_sync_pair() {
	pair_up 2
	vip_add
	ip -n dir addr add $DIP/16 dev eth1 || die "DIP"
	local ns
	for ns in dir dir2; do
		ip netns exec $ns ipvsadm -A -t $VIP:80 -s rr &&
			ip netns exec $ns ipvsadm -a -t $VIP:80 -r "$(rsip 1):80" -m &&
			ip netns exec $ns ipvsadm -a -t $VIP:80 -r "$(rsip 2):80" -m || die "services in $ns"
	done
	log "sync_version $(ip netns exec dir cat /proc/sys/net/ipv4/vs/sync_version)," \
		"sync_threshold '$(ip netns exec dir cat /proc/sys/net/ipv4/vs/sync_threshold | tr '\t' ' ')'," \
		"sync_refresh_period $(ip netns exec dir cat /proc/sys/net/ipv4/vs/sync_refresh_period)"
	check "sync start master in dir" vsync dir start master eth1 5
	check "sync start backup in dir2" vsync dir2 start backup eth1 5
	assert_eq "sync daemons in dir (ours)" "$(vsync dir daemons)" "master eth1 5"
	assert_match "sync daemons in dir (ipvsadm)" "$(ip netns exec dir ipvsadm -L --daemon)" \
		'^master sync daemon \(mcast=eth1, syncid=5'
	assert_match "sync daemons in dir2 (ipvsadm)" "$(ip netns exec dir2 ipvsadm -L --daemon)" \
		'^backup sync daemon \(mcast=eth1, syncid=5'
	check_not "sync second master: EEXIST" vsync dir start master eth1 5
	check_not "sync stop of no backup in dir: ESRCH" vsync dir stop backup

	# A long download (rate-limited) and a few short requests.
	head -c 3000000 /dev/zero > "$WWW/$(rsip 1)/big"
	head -c 3000000 /dev/zero > "$WWW/$(rsip 2)/big"
	bg_start slowget ip netns exec cli curl -sS -o /dev/null --limit-rate 100k "http://$VIP/big"
	local i
	for i in 1 2 3 4 5 6; do cli_get "http://$VIP/" > /dev/null; done
	if wait_until 15000 synced_from dir2; then
		pass "sync: the client's connections reach dir2's table"
		log "first synced entry after ${WAITED_MS} ms; dir2 lists $(lnc_count dir2) entries, dir $(lnc_count dir)"
	else
		fail "sync: the client's connections reach dir2's table" "dir2: $(ip netns exec dir2 ipvsadm -Lnc | head -5)"
	fi
	# Each connection is sent when its 3rd packet passes (sync_threshold
	# "3 50") and the master flushes its buffer about once a second: the
	# backup can list one fewer for a while (a full run read 6 of 7).
	wait_until 10000 lnc_at_least dir2 7 && pass "all 7 connections synced to dir2 (${WAITED_MS} ms)" ||
		fail "all 7 connections synced to dir2" "dir2 $(lnc_count dir2), dir $(lnc_count dir)"
	local ours theirs
	for ns in dir dir2; do
		ours=$(vsync $ns conns) theirs=$(lnc_count $ns)
		assert_eq "Connections in $ns agrees with ipvsadm -Lnc" "$ours" "$theirs"
		[ "$ours" -ge 7 ] 2>/dev/null || fail "Connections in $ns under traffic" "only '$ours'"
	done
	bg_stop slowget
	check "sync stop master" vsync dir stop master
	check "sync stop backup" vsync dir2 stop backup
	assert_eq "sync daemons gone" "$(ip netns exec dir ipvsadm -L --daemon)$(ip netns exec dir2 ipvsadm -L --daemon)" ""
}
