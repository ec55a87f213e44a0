# The ipvs package against the real kernel: build/vmcheck (ipvs/internal/vmcheck)
# programs TCP, UDP, SCTP and fwmark services, IPv4 and IPv6, schedulers and
# flags, persistence with netmask, masq/gate/ipip, weights and thresholds,
# reads them back through libipvs and our netlink dump, compares with
# ipvsadm -Ln, checks that bad ops fail alone, deadlines and handle rebuilds,
# and a scale run. Each of its PASS/FAIL lines is an assertion here.

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
