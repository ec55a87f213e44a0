# shellcheck shell=bash
# Helpers for the e2e tests. Sourced (by bash) inside the test VM, where the
# kernel has IPVS and we are root. suite.sh loads it before each test file;
# a test file is a bash body and/or test_* functions (run in file order).
#
# Farm (NAT), built by farm_up N:
#
#   cli 10.0.0.50/24 --[bridge pub 10.0.0.0/24]-- eth0 10.0.0.2/24 (+ VIP 10.0.0.100, added by tests)
#                                                  dir (IPVS, ip_forward=1, vs.conntrack=1)
#   rs  10.0.1.11.. /16 --[bridge priv 10.0.0.0/16]-- eth1 10.0.1.1/16 (DIP)
#
# All real servers are addresses on eth0 of namespace rs, served by one nginx
# whose docroot is /srv/www/<address>/ (test.html = "ok", index.html =
# "hello from <address>"), on ports 80 and 8080.

# ---------------------------------------------------------------- setup ---

E2E_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${REPO:=$(cd "$E2E_LIB_DIR/../.." && pwd)}"
: "${BUILD:=$REPO/build}"
export REPO BUILD

VIP=10.0.0.100
DIR_IP=10.0.0.2
DIP=10.0.1.1
CLI_IP=10.0.0.50
FARM_TMP=/tmp/e2e-farm    # nginx config, pid and logs
BG_DIR=/tmp/e2e-bg        # pid files of bg_start processes
WWW=/srv/www
# Namespace whose IPVS table the inspection helpers read.
: "${IPVS_NS:=dir}"

# Results of the current test go to $E2E_RESULTS (one line per assertion)
# when run by suite.sh; counters are kept too, for running a file by hand.
: "${E2E_RESULTS:=/dev/null}"
E2E_NPASS=0
E2E_NFAIL=0

# -------------------------------------------------------------- asserts ---

# pass NAME: record a passed assertion.
pass() {
	E2E_NPASS=$((E2E_NPASS + 1))
	echo "PASS $1" >> "$E2E_RESULTS"
	printf '    ok    %s\n' "$1"
}

# fail NAME WHY...: record a failed assertion (the test goes on).
fail() {
	local name=$1; shift
	E2E_NFAIL=$((E2E_NFAIL + 1))
	echo "FAIL $name" >> "$E2E_RESULTS"
	printf '    FAIL  %s: %s\n' "$name" "$*"
}

# die WHY...: record a failure and end the test now (for broken setup).
die() {
	fail "setup" "$*"
	exit 1
}

# skip WHY...: the test cannot run here (e.g. kernel lacks a module); ends it.
skip() {
	echo "SKIP $*" >> "$E2E_RESULTS"
	printf '    skip  %s\n' "$*"
	exit 0
}

# assert_eq NAME GOT WANT
assert_eq() {
	if [ "$2" == "$3" ]; then
		pass "$1"
	else
		fail "$1" "got '$2', want '$3'"
	fi
}

# assert_match NAME GOT REGEX (bash =~)
assert_match() {
	if [[ $2 =~ $3 ]]; then
		pass "$1"
	else
		fail "$1" "'$2' does not match /$3/"
	fi
}

# check NAME CMD...: pass if CMD succeeds; on failure show its output.
check() {
	local name=$1; shift
	local out rc
	out=$("$@" 2>&1); rc=$?
	if [ $rc -eq 0 ]; then
		pass "$name"
	else
		fail "$name" "exit $rc: $*"
		[ -z "$out" ] || printf '%s\n' "$out" | head -n 20 | sed 's/^/          | /'
	fi
	return $rc
}

# check_not NAME CMD...: pass if CMD fails.
check_not() {
	local name=$1; shift
	if "$@" >/dev/null 2>&1; then
		fail "$name" "succeeded, expected failure: $*"
		return 1
	fi
	pass "$name"
}

# log MSG...: informational line in the test output.
log() { printf '    %s\n' "$*"; }

# _alive PID: process exists and is not a zombie.
_alive() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

# ----------------------------------------------------------------- time ---

# now_ms: wall clock in milliseconds (no fork).
now_ms() {
	local t=${EPOCHREALTIME//[.,]/}
	echo $((t / 1000))
}

# wait_until TIMEOUT_MS CMD...: run CMD (quietly) every 100 ms until it
# succeeds; returns 1 on timeout. Sets WAITED_MS.
wait_until() {
	local limit=$1; shift
	local t0 now
	t0=$(now_ms)
	while :; do
		if "$@" >/dev/null 2>&1; then
			WAITED_MS=$(($(now_ms) - t0))
			return 0
		fi
		now=$(now_ms)
		if [ $((now - t0)) -ge "$limit" ]; then
			WAITED_MS=$((now - t0))
			return 1
		fi
		sleep 0.1
	done
}

# --------------------------------------------------------------- netns ----

in_dir() { ip netns exec dir "$@"; }
in_rs() { ip netns exec rs "$@"; }
in_cli() { ip netns exec cli "$@"; }

# rsip I: address of the I-th real server (1-based): 10.0.1.11, 10.0.1.12, ...
# (250 per /24, continuing in 10.0.2.x and up).
rsip() {
	_rsip "$1"
	echo "$RSIP"
}
# _rsip I: same, into $RSIP without a subshell (farm_up calls it N times).
_rsip() {
	local i=$(($1 + 9))
	RSIP=10.0.$((1 + i / 250)).$((i % 250 + 1))
}

# ----------------------------------------------------------------- farm ---

# farm_up N: build the NAT farm with N real servers and start nginx on them.
# (ip -batch keeps it to a few processes: every exec is slow under emulation.)
farm_up() {
	local n=${1:?farm_up N}
	local i a dirs=()
	[[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 60000 ] || die "farm_up: bad N '$n'"
	_farm_exists && farm_down
	ip -batch - <<-EOF || die "farm_up: creating bridges, namespaces, links failed"
		link add pub type bridge
		link set pub up
		link add priv type bridge
		link set priv up
		netns add dir
		netns add rs
		netns add cli
		link add d0 type veth peer name eth0 netns dir
		link set d0 master pub up
		link add d1 type veth peer name eth1 netns dir
		link set d1 master priv up
		link add r0 type veth peer name eth0 netns rs
		link set r0 master priv up
		link add c0 type veth peer name eth0 netns cli
		link set c0 master pub up
	EOF
	ip -n dir -batch - <<-EOF || die "farm_up: director addresses failed"
		link set lo up
		address add $DIR_IP/24 dev eth0
		link set eth0 up
		address add $DIP/16 dev eth1
		link set eth1 up
	EOF
	ip -n cli -batch - <<-EOF || die "farm_up: client address failed"
		link set lo up
		address add $CLI_IP/24 dev eth0
		link set eth0 up
	EOF
	in_dir sysctl -qw net.ipv4.ip_forward=1 net.ipv4.vs.conntrack=1 ||
		die "farm_up: director sysctls failed"

	# Real servers: all addresses on rs/eth0. The /16 would make the pub net
	# 10.0.0.0/24 look on-link from rs, so that is routed via the DIP too.
	for ((i = 1; i <= n; i++)); do
		_rsip $i
		dirs+=("$WWW/$RSIP")
	done
	mkdir -p "${dirs[@]}" || die "farm_up: cannot create docroots under $WWW"
	{
		echo "link set lo up"
		echo "link set eth0 up"
		for ((i = 1; i <= n; i++)); do
			_rsip $i
			a=$RSIP
			echo "address add $a/16 dev eth0"
			echo ok > "$WWW/$a/test.html"
			echo "hello from $a" > "$WWW/$a/index.html"
		done
		echo "route add 10.0.0.0/24 via $DIP"
		echo "route add default via $DIP"
	} | ip -n rs -batch - || die "farm_up: real server addresses failed"
	FARM_N=$n
	rs_start || die "farm_up: nginx did not start"
}

# Names of links that belong to the kernel, not to a test.
_KEEP_LINKS=" lo tunl0 sit0 ip6tnl0 gre0 gretap0 erspan0 ip_vti0 ip6_vti0 ip6gre0 ip6erspan0 bonding_masters "

# _farm_exists: any namespace or test link around?
_farm_exists() {
	local f
	for f in /run/netns/*; do [ -e "$f" ] && return 0; done
	for f in /sys/class/net/*; do
		[[ $_KEEP_LINKS == *" ${f##*/} "* ]] || return 0
	done
	return 1
}

# farm_down: stop everything started in namespaces or by bg_start, delete
# namespaces, links and bridges, empty the root IPVS table, clear /srv/www.
# Safe to call any time; quick when there is nothing to do.
farm_down() {
	local f ns sig pids nss=() links=() killed=
	bg_stop_all
	for f in /run/netns/*; do [ -e "$f" ] && nss+=("${f##*/}"); done
	for f in /sys/class/net/*; do
		[[ $_KEEP_LINKS == *" ${f##*/} "* ]] || links+=("${f##*/}")
	done
	for sig in TERM KILL; do
		for ns in "${nss[@]}"; do
			pids=$(ip netns pids "$ns" 2>/dev/null)
			[ -z "$pids" ] || { kill -$sig $pids 2>/dev/null; killed=1; }
		done
		[ -z "$killed" ] || [ $sig = KILL ] || sleep 0.3
	done
	# Root-side links go first, synchronously: namespace teardown is
	# asynchronous and would keep names like d0 busy for the next farm_up.
	if [ ${#links[@]} -gt 0 ] || [ ${#nss[@]} -gt 0 ]; then
		{
			for f in "${links[@]}"; do echo "link del $f"; done
			for f in "${nss[@]}"; do echo "netns del $f"; done
		} | ip -force -batch - >/dev/null 2>&1
	fi
	if [ -r /proc/net/ip_vs ] && [ "$(grep -c . /proc/net/ip_vs)" -gt 3 ]; then
		ipvsadm -C 2>/dev/null
	fi
	[ ! -e "$WWW" ] && [ ! -e "$FARM_TMP" ] || rm -rf "$WWW" "$FARM_TMP"
	FARM_N=
	return 0
}

# rs_fail IP: health page of real IP disappears (HTTP 404).
rs_fail() { rm -f "$WWW/$1/test.html"; }
# rs_heal IP: health page is back.
rs_heal() { echo ok > "$WWW/$1/test.html"; }

# rs_unplug IP / rs_plug IP: remove/restore the real's address: it stops
# answering at all (no RST, connections time out).
rs_unplug() { ip -n rs addr del "$1/16" dev eth0; }
rs_plug() { ip -n rs addr add "$1/16" dev eth0; }

# rs_stop_all: stop nginx (every real refuses connections).
rs_stop_all() {
	local pid
	pid=$(cat "$FARM_TMP/nginx.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null
	wait_until 5000 eval "! _alive $pid"
}

# rs_start: (re)start nginx for all real servers; waits until it listens.
rs_start() {
	mkdir -p "$FARM_TMP/body" || return 1
	cat > "$FARM_TMP/nginx.conf" <<-EOF
		worker_processes 1;
		pid $FARM_TMP/nginx.pid;
		error_log $FARM_TMP/nginx-error.log;
		events { worker_connections 4096; }
		http {
		    access_log off;
		    default_type text/html;
		    client_body_temp_path $FARM_TMP/body;
		    keepalive_timeout 5;
		    server {
		        listen 80 default_server;
		        listen 8080 default_server;
		        root $WWW/\$server_addr;
		    }
		}
	EOF
	in_rs nginx -c "$FARM_TMP/nginx.conf" || return 1
	wait_until 10000 in_rs sh -c "ss -Hltn 'sport = :80' | grep -q ."
}

# vip_add [IP]: put the VIP (default 10.0.0.100) on the director's eth0.
vip_add() { ip -n dir addr add "${1:-$VIP}/24" dev eth0; }
vip_del() { ip -n dir addr del "${1:-$VIP}/24" dev eth0; }

# ----------------------------------------------------- background jobs ----

# bg_start NAME CMD...: run CMD in the background, output to $E2E_TMP/NAME.log.
# Stopped by bg_stop NAME, or by farm_down after the test.
bg_start() {
	local name=$1; shift
	mkdir -p "$BG_DIR" "${E2E_TMP:-/tmp}"
	"$@" > "${E2E_TMP:-/tmp}/$name.log" 2>&1 &
	echo $! > "$BG_DIR/$name.pid"
}

# bg_pid NAME: pid of a bg_start process.
bg_pid() { cat "$BG_DIR/$1.pid" 2>/dev/null; }

# bg_log NAME: its output so far.
bg_log() { cat "${E2E_TMP:-/tmp}/$1.log" 2>/dev/null; }

# bg_stop NAME [SIGNAL]: signal it (TERM) and wait up to 5 s, then KILL.
bg_stop() {
	local pid
	pid=$(bg_pid "$1") || return 0
	rm -f "$BG_DIR/$1.pid"
	kill -"${2:-TERM}" "$pid" 2>/dev/null || return 0
	wait_until 5000 eval "! _alive $pid" || kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

bg_stop_all() {
	local f
	for f in "$BG_DIR"/*.pid; do
		[ -e "$f" ] || continue
		bg_stop "$(basename "$f" .pid)"
	done
}

# ----------------------------------------------------------- IPVS table ---

# Service argument: VIP:PORT (TCP), or udp:VIP:PORT, sctp:VIP:PORT, fwm:MARK.
_svc_opt() {
	case $1 in
	tcp:*) echo "-t ${1#tcp:}" ;;
	udp:*) echo "-u ${1#udp:}" ;;
	sctp:*) echo "--sctp-service ${1#sctp:}" ;;
	fwm:*) echo "-f ${1#fwm:}" ;;
	*) echo "-t $1" ;;
	esac
}

# ipvs_dump: the director's table as ipvsadm -Ln shows it.
ipvs_dump() { ip netns exec "$IPVS_NS" ipvsadm -Ln "$@"; }

# ipvs_table: the table without counters, one sorted line per service or
# destination (ipvsadm -Sn rules), for comparing two tables with diff.
ipvs_table() { ip netns exec "$IPVS_NS" ipvsadm -Sn | LC_ALL=C sort; }

# weight_of SVC RIP:PORT: the destination's weight, or "absent" (also when
# the service does not exist).
weight_of() {
	# shellcheck disable=SC2046
	ip netns exec "$IPVS_NS" ipvsadm -Ln $(_svc_opt "$1") 2>/dev/null |
		awk -v r="$2" '$1 == "->" && $2 == r { print $4; f = 1; exit } END { if (!f) print "absent" }'
}

# wait_weight SVC RIP:PORT WANT TIMEOUT_MS: poll (50 ms) until the weight
# is WANT ("absent" works too); prints the elapsed ms. On timeout prints the
# elapsed ms, explains on stderr and returns 1. Sets WAITED_MS.
wait_weight() {
	local t0 now w
	t0=$(now_ms)
	while :; do
		w=$(weight_of "$1" "$2")
		now=$(now_ms)
		WAITED_MS=$((now - t0))
		if [ "$w" = "$3" ]; then
			echo "$WAITED_MS"
			return 0
		fi
		if [ "$WAITED_MS" -ge "$4" ]; then
			echo "$WAITED_MS"
			echo "wait_weight: $1 $2: weight $w after ${WAITED_MS} ms, want $3" >&2
			return 1
		fi
		sleep 0.05
	done
}

# ------------------------------------------------ two directors (HA) -----

# pair_up N: the farm with N reals and a second director, dir2 (10.0.0.3 on
# pub, 10.0.1.3 on priv, forwarding, IPVS conntrack). The DIP leaves dir
# (which keeps 10.0.1.2) to become a resource of whichever director holds
# the group.
pair_up() {
	farm_up "$1"
	ip -n dir -batch - <<-EOF || die "pair_up: dir addresses failed"
		address del $DIP/16 dev eth1
		address add 10.0.1.2/16 dev eth1
	EOF
	ip -batch - <<-EOF || die "pair_up: dir2 links failed"
		netns add dir2
		link add d2 type veth peer name eth0 netns dir2
		link set d2 master pub up
		link add d3 type veth peer name eth1 netns dir2
		link set d3 master priv up
	EOF
	ip -n dir2 -batch - <<-EOF || die "pair_up: dir2 addresses failed"
		link set lo up
		address add 10.0.0.3/24 dev eth0
		link set eth0 up
		address add 10.0.1.3/16 dev eth1
		link set eth1 up
	EOF
	ip netns exec dir2 sysctl -qw net.ipv4.ip_forward=1 net.ipv4.vs.conntrack=1 ||
		die "pair_up: dir2 sysctls failed"
}

# ha_conf NODE PEER_PUB PEER_PRIV [HA.CF LINES]: /tmp/e2e/ha-NODE is the
# node's /etc/ha.d: ha.cf (nodes a and b, ucast on both links, keepalive
# 200ms, deadtime 1 s, auto_failback $HA_FAILBACK or on, plus the extra lines), authkeys
# (sha1), haresources (one group preferring a: the VIP, the DIP and
# ldirectord::ldirectord.cf) and ldirectord.cf (rsip 1 and 2, http
# negotiate). The same files serve our directord and Debian's heartbeat.
ha_conf() {
	local d=/tmp/e2e/ha-$1
	mkdir -p $d/state
	# Each test file starts with logs of its own (its checks grep them).
	rm -f $d/ha.log $d/ld.log
	cat > $d/ha.cf <<-EOF
		logfile $d/ha.log
		use_logd no
		keepalive 200ms
		deadtime 1
		warntime 600ms
		initdead 3
		udpport 694
		realtime off
		ucast eth0 $2
		ucast eth1 $3
		auto_failback ${HA_FAILBACK:-on}
		node a
		node b
		crm off
		${4:-}
	EOF
	printf 'auth 1\n1 sha1 e2e-secret\n' > $d/authkeys
	chmod 600 $d/authkeys
	echo "a $VIP/24/eth0 $DIP/16/eth1 ldirectord::ldirectord.cf" > $d/haresources
	# Virtual-section lines must be indented: no <<- here (it strips tabs).
	printf '%s\n' checkinterval=1 negotiatetimeout=2 "logfile=\"$d/ld.log\"" "virtual=$VIP:80" \
		"	real=$(rsip 1):80 masq" "	real=$(rsip 2):80 masq" "	request=\"test.html\"" \
		"	receive=\"ok\"" "	scheduler=rr" > $d/ldirectord.cf
}

# dd_start NODE NETNS [ARGS...]: our directord as NODE (config from
# ha_conf), control socket /tmp/e2e/NODE.sock, more options in ARGS (e.g.
# --settings FILE); bg_start name ddNODE.
dd_start() {
	local node=$1 ns=$2
	shift 2
	bg_start dd$node ip netns exec $ns $BUILD/directord --node $node --hadir /tmp/e2e/ha-$node \
		--statedir /tmp/e2e/ha-$node/state --socket /tmp/e2e/$node.sock "$@"
}

# hb_start NODE NETNS [HADIR]: Debian's heartbeat 3.0.6 as NODE in NETNS,
# in mount and UTS namespaces of its own: hostname NODE, /etc/ha.d bound
# from HADIR (default /tmp/e2e/ha-NODE; the package's resource scripts are
# copied in), its own /run and /var/lib/heartbeat. heartbeat daemonizes:
# hb_master finds it.
hb_start() {
	local d=${3:-/tmp/e2e/ha-$1}
	cp -r /etc/ha.d/resource.d /etc/ha.d/rc.d /etc/ha.d/shellfuncs /etc/ha.d/harc $d/ || return 1
	mkdir -p $d/lib
	ip netns exec $2 unshare -m -u sh -c "
		hostname $1
		mount --make-rprivate /
		mount --bind $d /etc/ha.d
		mount --bind $d/lib /var/lib/heartbeat
		mount -t tmpfs tmpfs /run
		mkdir -p /run/heartbeat/rsctmp /run/heartbeat/ccm /run/resource-agents /run/lock
		chown -R hacluster:haclient /run/heartbeat $d/lib
		exec /usr/libexec/heartbeat/heartbeat" > $d/start.out 2>&1
}

# hb_master NETNS: pid of heartbeat's master control process there.
hb_master() {
	local p
	for p in $(ip netns pids $1); do
		case $(tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null) in
		"heartbeat: master control process"*) echo $p; return 0 ;;
		esac
	done
	return 1
}

# node_crash NETNS: the director dies as a whole: every process in NETNS
# is killed; its addresses and IPVS table go with it (the box is off).
node_crash() {
	local pids
	pids=$(ip netns pids $1)
	[ -z "$pids" ] || kill -9 $pids 2>/dev/null
	ip -n $1 addr del $VIP/24 dev eth0 2>/dev/null
	ip -n $1 addr del $DIP/16 dev eth1 2>/dev/null
	ip netns exec $1 ipvsadm -C
}

# holds NETNS IP: the address is configured there.
holds() { ip -n "$1" addr show | grep -q "inet $2/"; }

# served: the client gets an answer through the VIP.
served() { [ -n "$(cli_get http://$VIP/ 2>/dev/null)" ]; }

# ipvs_has NETNS IP: IPVS there has a destination IP:80.
ipvs_has() { ip netns exec "$1" ipvsadm -Ln | grep -q "$2:80"; }

# --------------------------------------------------------------- client ---

# cli_get URL [CURL ARGS...]: fetch from the client namespace (connect
# timeout 2 s, total 5 s); prints the body, returns curl's status.
cli_get() { ip netns exec cli curl -sS --connect-timeout 2 -m 5 "$@"; }

# cli_tally N URL: fetch URL N times (new connection each), print
# "COUNT BODY" per distinct body, most frequent first.
cli_tally() {
	local i
	for ((i = 0; i < $1; i++)); do
		cli_get "$2" 2>/dev/null || echo "(curl failed)"
	done | sort | uniq -c | sort -rn | sed 's/^ *//'
}

# vm_export FILE NAME: send FILE to the host over the console; run.sh
# saves it as $VM_OUT/NAME (default /var/tmp/lvsdirector-vm/out).
vm_export() {
	echo "VMFILE-BEGIN $2"
	base64 -w 76 "$1"
	echo "VMFILE-END"
}

# ------------------------------------------------------------- internal ---

# e2e_run_file FILE: used by suite.sh. Sources FILE (its body runs), then
# runs each test_* function it defines, in file order, each in a subshell.
e2e_run_file() {
	local file=$1 fn rc
	# A syntax error would only end the body early, silently: check first.
	bash -n "$file" || { fail "syntax" "bash -n $file"; return 1; }
	# shellcheck disable=SC1090
	source "$file"
	for fn in $(sed -nE 's/^[[:space:]]*(function[[:space:]]+)?(test_[A-Za-z0-9_]+)[[:space:]]*\(\).*$/\2/p' "$file" | awk '!s[$0]++'); do
		declare -F "$fn" >/dev/null || continue
		log "--- $fn"
		("$fn")
		rc=$?
		[ $rc -eq 0 ] || fail "$fn" "returned $rc"
	done
	return 0
}
