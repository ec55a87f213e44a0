# Every address form heartbeat's haresources accepts is added and removed
# with the same prefix, on both directors: bare IP (the classic "node1
# 10.0.0.100"), IP/bits, IP/bits/iface, IP/bits/iface/broadcast,
# IP/bits/broadcast, a dotted netmask, empty fields as heartbeat's IPaddr
# wrappers read them (IP/, IP/bits//broadcast, IP/bits/iface/), IPaddr::
# and IPaddr2:: (with a label), and IPv6 (IPv6addr::, IPv6addr::IP//iface,
# and IPaddr2::). After each step —
# start on A, standby to B, standby back to A, SIGTERM of A (B takes
# over), A back with auto_failback, SIGTERM of both — `ip addr` on both
# directors shows each address on exactly one of them with the prefix
# of its subnet, and on none after the stop. The control sockets are
# mode 600 while running and gone after the stop.

CTL=$BUILD/directorctl

pair_up 1
ha_conf a 10.0.0.3 10.0.1.3
ha_conf b 10.0.0.2 10.0.1.2
# An IPv6 subnet on both links of both directors (for the IPaddr2 forms).
ip -n dir -6 addr add fd00:55::2/64 dev eth0 nodad
ip -n dir -6 addr add fd00:56::2/64 dev eth1 nodad
ip -n dir2 -6 addr add fd00:55::3/64 dev eth0 nodad
ip -n dir2 -6 addr add fd00:56::3/64 dev eth1 nodad

# FORMS: "IP CIDR" pairs, CIDR being what `ip addr` must show on the holder.
FORMS=()

# snap: ON_A[IP] and ON_B[IP] are the CIDRs of IP on A and on B (space
# separated), from one `ip addr` per director (process starts are slow
# in the emulated VM).
declare -A ON_A ON_B
snap() {
	local ip cidr
	ON_A=() ON_B=()
	while read -r ip cidr; do ON_A[$ip]+="${ON_A[$ip]:+ }$cidr"; done < <(ip -n dir -o addr show | awk '{ split($4, a, "/"); print a[1], $4 }')
	while read -r ip cidr; do ON_B[$ip]+="${ON_B[$ip]:+ }$cidr"; done < <(ip -n dir2 -o addr show | awk '{ split($4, a, "/"); print a[1], $4 }')
}

# placed WANT: every address of FORMS is on WANT (a or b) only, with its
# prefix; WANT=none: on neither director.
placed() {
	local f ip cidr ga gb
	snap
	for f in "${FORMS[@]}"; do
		ip=${f% *} cidr=${f#* }
		ga=${ON_A[$ip]:-} gb=${ON_B[$ip]:-}
		case $1 in
		a) [ "$ga" == "$cidr" ] && [ -z "$gb" ] || return 1 ;;
		b) [ -z "$ga" ] && [ "$gb" == "$cidr" ] || return 1 ;;
		none) [ -z "$ga$gb" ] || return 1 ;;
		esac
	done
}

# layout: where each address is, for a failure message.
layout() {
	local f ip
	snap
	for f in "${FORMS[@]}"; do
		ip=${f% *}
		printf '%s: A [%s] B [%s]; ' "$ip" "${ON_A[$ip]:-}" "${ON_B[$ip]:-}"
	done
}

# step NAME WANT: within 15 s every address is where WANT says.
step() {
	if wait_until 15000 placed "$2"; then
		pass "$1: every address on ${2/none/neither director} only (${WAITED_MS} ms)"
	else
		fail "$1" "want $2: $(layout)"
	fi
}

# term NODE: SIGTERM its directord; it must exit by itself (no SIGKILL).
term() {
	local pid
	pid=$(bg_pid "dd$1")
	rm -f "$BG_DIR/dd$1.pid"
	kill -TERM "$pid"
	if wait_until 20000 eval "! _alive $pid"; then
		pass "$1 exited on SIGTERM (${WAITED_MS} ms)"
	else
		fail "$1 SIGTERM" "still running after 20 s"
		kill -9 "$pid"
	fi
	wait "$pid" 2>/dev/null
}

# haresources LINE...: the same haresources on both nodes.
haresources() {
	printf '%s\n' "$@" > /tmp/e2e/ha-a/haresources
	cp /tmp/e2e/ha-a/haresources /tmp/e2e/ha-b/haresources
}

# round_trip: start A then B, standby A -> B, standby B -> A, SIGTERM A
# (B takes over), [A back: auto_failback], SIGTERM of both.
round_trip() {
	local failback=$1
	dd_start a dir
	dd_start b dir2
	if wait_until 20000 placed a; then
		pass "start: every address on A only (${WAITED_MS} ms)"
	else
		fail "start" "$(layout) A: $(bg_log dda | tail -n 3)"
		return
	fi
	assert_eq "control socket mode while running" "$(stat -c %a /tmp/e2e/a.sock 2>&1)" 600
	check "directorctl standby on A" $CTL --socket /tmp/e2e/a.sock standby
	step "standby on A" b
	check "directorctl standby on B" $CTL --socket /tmp/e2e/b.sock standby
	step "standby on B (home again)" a
	term a
	step "SIGTERM of A: B took over" b
	if [ "$failback" = failback ]; then
		dd_start a dir
		if wait_until 20000 placed a; then pass "A back, auto_failback: every address on A only (${WAITED_MS} ms)"; else fail "auto_failback" "$(layout)"; fi
		term b
		step "SIGTERM of B: A keeps them" a
		term a
	else
		term b
	fi
	step "SIGTERM of both" none
	check_not "no control socket left by A" test -e /tmp/e2e/a.sock
	check_not "no control socket left by B" test -e /tmp/e2e/b.sock
}

test_ipv4_forms() {
	haresources \
		"a 10.0.0.100 10.0.0.101/24 10.0.0.102/24/eth0 10.0.0.103/24/eth0/10.0.0.255 10.0.0.104/24/10.0.0.255" \
		"a IPaddr::10.0.0.110 IPaddr::10.0.1.111/16/eth1 IPaddr::10.0.0.112/255.255.255.0 IPaddr::10.0.0.113/24//10.0.0.255 IPaddr::10.0.0.114/ IPaddr2::10.0.0.115 IPaddr2::10.0.1.116/16/eth1:vip IPaddr2::10.0.0.117/24/eth0/"
	FORMS=("10.0.0.100 10.0.0.100/24" "10.0.0.101 10.0.0.101/24" "10.0.0.102 10.0.0.102/24"
		"10.0.0.103 10.0.0.103/24" "10.0.0.104 10.0.0.104/24" "10.0.0.110 10.0.0.110/24"
		"10.0.1.111 10.0.1.111/16" "10.0.0.112 10.0.0.112/24" "10.0.0.113 10.0.0.113/24"
		"10.0.0.114 10.0.0.114/24" "10.0.0.115 10.0.0.115/24" "10.0.1.116 10.0.1.116/16"
		"10.0.0.117 10.0.0.117/24")
	round_trip failback
}

test_ipv6_forms() {
	# heartbeat splits resource arguments at "::": IPv6 is written in full.
	haresources "a IPv6addr::fd00:55:0:0:0:0:0:100 IPv6addr::fd00:56:0:0:0:0:0:101//eth1 IPv6addr::fd00:55:0:0:0:0:0:102/64/eth0 IPaddr2::fd00:56:0:0:0:0:0:103/64"
	FORMS=("fd00:55::100 fd00:55::100/64" "fd00:56::101 fd00:56::101/64" "fd00:55::102 fd00:55::102/64" "fd00:56::103 fd00:56::103/64")
	round_trip
}
