# The Debian package (make deb, built on the host) installed in the VM as
# an operator would: `apt-get install ./lvsdirector_*.deb` on a director
# that runs Debian's heartbeat and ldirectord and has its /etc/ha.d. apt
# replaces both (Conflicts/Replaces); the operator's files stay byte for
# byte; the pair then runs from the installed /usr/sbin and fails over;
# remove keeps the settings conffile, purge drops it, /etc/ha.d untouched.
# Must stay the last file of the suite: heartbeat and ldirectord are gone
# from the VM afterwards (until power-off: the root is an overlay).
# e2e-timeout: 300

DEB=$(ls "$BUILD"/lvsdirector_*.deb 2>/dev/null | tail -n 1)
[ -n "$DEB" ] || die "no package in $BUILD (make deb)"
# Install from a copy: apt reads the file as user _apt.
cp "$DEB" /tmp/e2e/ && DEB=/tmp/e2e/$(basename "$DEB")
chmod 644 "$DEB"

pair_up 2
ha_conf a 10.0.0.3 10.0.1.3
ha_conf b 10.0.0.2 10.0.1.2

# man-db's trigger rebuilds its whole index on every install and removal
# (minutes under emulation); Debian skips it without this flag file.
rm -f /var/lib/man-db/auto-update

# An operator's /etc/ha.d, as the package finds it.
OPS="ha.cf authkeys haresources ldirectord.cf"
for f in $OPS; do cp /tmp/e2e/ha-a/$f /etc/ha.d/$f; done
ops_sum() { (cd /etc/ha.d && sha256sum $OPS 2>&1); }
OPS0=$(ops_sum)

test_apt_install_replaces_heartbeat_and_ldirectord() {
	local out rc t0
	t0=$(now_ms)
	out=$(DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$DEB" 2>&1)
	rc=$?
	log "apt-get install took $(($(now_ms) - t0)) ms"
	printf '%s\n' "$out" | grep -E '^(Removing|Setting up|Unpacking|E:)' | sed 's/^/      /'
	assert_eq "apt-get install exits 0" "$rc" 0
	assert_eq "package installed" "$(dpkg-query -W -f='${Status}' lvsdirector 2>&1)" "install ok installed"
	assert_match "heartbeat removed" "$(dpkg-query -W -f='${Status}' heartbeat 2>&1)" "deinstall|not-installed|no packages"
	assert_match "Debian's ldirectord removed" "$(dpkg-query -W -f='${Status}' ldirectord 2>&1)" "deinstall|not-installed|no packages"
	assert_match "/usr/sbin/ldirectord is ours" "$(/usr/sbin/ldirectord -v 2>&1)" "lvsdirector"
	check "directord installed" test -x /usr/sbin/directord
	check "directorctl installed" test -x /usr/sbin/directorctl
	check "directord unit" test -f /lib/systemd/system/directord.service
	check "ldirectord unit" test -f /lib/systemd/system/ldirectord.service
	check "man page directord(8)" sh -c "zcat /usr/share/man/man8/directord.8.gz | grep -q '^.TH DIRECTORD 8'"
	check "examples" test -f /usr/share/doc/lvsdirector/examples/ha.cf
	check "settings conffile" sh -c "dpkg-query -W -f='\${Conffiles}' lvsdirector | grep -q /etc/lvsdirector/settings.toml"
	assert_eq "the operator's /etc/ha.d untouched by the install" "$(ops_sum)" "$OPS0"
	check "ldirectord -t on the operator's file" /usr/sbin/ldirectord -t /etc/ha.d/ldirectord.cf
}

test_pair_runs_from_the_package() {
	local BUILD=/usr/sbin t0
	dd_start a dir; dd_start b dir2
	if wait_until 20000 holds dir $VIP; then pass "A holds the VIP (${WAITED_MS} ms), directord from /usr/sbin"; else fail "VIP on A" "$(tail -n 20 /tmp/e2e/ha-a/ha.log)"; fi
	wait_until 10000 served && pass "client served through the VIP" || fail "client" "$(cli_get http://$VIP/ 2>&1)"
	assert_match "the running directord is the installed one" "$(readlink /proc/$(pgrep -f -o '^/usr/sbin/directord --node a')/exe)" "/usr/sbin/directord$"
	t0=$(now_ms)
	kill -9 "$(bg_pid dda)"
	if wait_until 10000 holds dir2 $VIP; then pass "B took the VIP $(($(now_ms) - t0)) ms after SIGKILL of A"; else fail "takeover" "$(tail -n 20 /tmp/e2e/ha-b/ha.log)"; fi
	wait_until 10000 served && pass "client served by B" || fail "client after takeover" ""
	assert_match "directorctl from the package" "$(/usr/sbin/directorctl --socket /tmp/e2e/b.sock status 2>&1)" "$VIP.*held here"
	bg_stop ddb
	node_crash dir
}

test_remove_and_purge_keep_ha_d() {
	check "apt-get remove" env DEBIAN_FRONTEND=noninteractive apt-get remove -y lvsdirector
	check_not "binaries gone" test -e /usr/sbin/directord
	check "settings kept after remove (conffile)" test -f /etc/lvsdirector/settings.toml
	assert_eq "the operator's /etc/ha.d untouched by remove" "$(ops_sum)" "$OPS0"
	check "dpkg --purge" dpkg --purge lvsdirector
	check_not "settings gone after purge" test -e /etc/lvsdirector/settings.toml
	assert_eq "the operator's /etc/ha.d untouched by purge" "$(ops_sum)" "$OPS0"
}
