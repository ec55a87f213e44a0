# failover/ipaddr on real interfaces: a second director takes the VIP (IPv4
# and IPv6) with netlink, label and broadcast, and its gratuitous ARP /
# unsolicited neighbour advertisement moves the client's neighbour entry to
# its MAC without the client asking; release removes the address.

IPT=$BUILD/iptool
VIP6=fd00::100

farm_up 1
# A second director on the public side, with its own MAC.
ip netns add dir2 && ip -n dir2 link set lo up
ip link add d2 type veth peer name eth0 netns dir2 && ip link set d2 master pub up
ip -n dir2 addr add 10.0.0.3/24 dev eth0 && ip -n dir2 link set eth0 up
for ns in dir dir2 cli; do ip netns exec $ns sysctl -qw net.ipv6.conf.eth0.accept_dad=0; done
ip -n dir addr add fd00::2/64 dev eth0 nodad
ip -n dir2 addr add fd00::3/64 dev eth0 nodad
ip -n cli addr add fd00::50/64 dev eth0 nodad
MAC1=$(ip -n dir -br link show eth0 | awk '{print $3}')
MAC2=$(ip -n dir2 -br link show eth0 | awk '{print $3}')
neigh_mac() { ip -n cli neigh show "$1" | awk '{for (i=1;i<NF;i++) if ($i=="lladdr") print $(i+1)}'; }

test_takeover_moves_the_clients_neighbour_entry() {
	check "dir takes the VIP" ip netns exec dir $IPT add $VIP/24 eth0 eth0:vip
	check "dir takes the IPv6 VIP" ip netns exec dir $IPT add $VIP6/64 eth0
	check "client reaches the VIP on dir" in_cli ping -c1 -W2 $VIP
	check "client reaches the IPv6 VIP on dir" in_cli ping -6 -c1 -W2 $VIP6
	assert_eq "client's entry points at dir" "$(neigh_mac $VIP)" "$MAC1"
	assert_eq "client's IPv6 entry points at dir" "$(neigh_mac $VIP6)" "$MAC1"
	assert_match "label and broadcast" "$(ip -n dir addr show eth0)" "inet $VIP/24 brd 10.0.0.255 scope global secondary eth0:vip"
	sleep 1.2 # the neighbour locktime: updates within 1 s of the last are ignored
	# Failover: dir lets go, dir2 takes over; the client sends nothing.
	check "dir releases" ip netns exec dir $IPT del $VIP/24 eth0
	check "dir releases IPv6" ip netns exec dir $IPT del $VIP6/64 eth0
	check_not "dir no longer has it" ip netns exec dir $IPT has $VIP
	check "dir2 takes the VIP (interface and prefix found from its subnet)" ip netns exec dir2 $IPT add $VIP
	check "dir2 takes the IPv6 VIP" ip netns exec dir2 $IPT add $VIP6
	if wait_until 1000 sh -c "ip -n cli neigh show $VIP | grep -q $MAC2"; then
		pass "GARP moved the client's entry to dir2 in ${WAITED_MS} ms"
	else
		fail "GARP" "client entry still $(neigh_mac $VIP)"
	fi
	if wait_until 1000 sh -c "ip -n cli neigh show $VIP6 | grep -q $MAC2"; then
		pass "unsolicited NA moved the client's IPv6 entry to dir2 in ${WAITED_MS} ms"
	else
		fail "NA" "client entry still $(neigh_mac $VIP6)"
	fi
	assert_match "prefix taken from the subnet" "$(ip -n dir2 addr show eth0)" "inet $VIP/24 brd 10.0.0.255"
	check "client reaches the VIP on dir2" in_cli ping -c1 -W2 $VIP
	check "releasing an absent address is not an error" ip netns exec dir $IPT del $VIP/24 eth0
	check "adding twice is not an error" ip netns exec dir2 $IPT add $VIP
	check_not "an address no subnet holds is refused" ip netns exec dir2 $IPT add 192.0.2.77
	ip netns del dir2
}
