#!/usr/bin/env bash
# The demo (make demo), run inside the VM: the pair. Two directors run
# directord from the Debian package (installed here with apt, as on a real
# box) in front of a NAT farm of three nginx reals, with a client on the
# public side. A timeline follows: all healthy; a real fails (weight 0);
# all fail (the fallback answers); they heal; the active director dies in
# the middle of a download (the other takes the VIP and DIP; with
# connection sync the download carries on); the first comes back and
# takes its group home. It ends with directorctl status, a metrics excerpt
# and the status page's screenshot (saved on the host by run.sh).
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tools/procsample.sh"

T0=$(now_ms)
say() { printf '\n[t+%6.1fs] %s\n' "$(awk -v ms=$(($(now_ms) - T0)) 'BEGIN { print ms / 1000 }')" "$*"; }
ctl() { /usr/sbin/directorctl --socket /tmp/e2e/$1.sock status; }
tally() { echo "    client -> http://$VIP/ x6:"; cli_tally 6 "http://$VIP/" | sed 's/^/      /'; }
table() { ip netns exec "$1" ipvsadm -Ln -t $VIP:80 2>/dev/null | sed -n '3,$p' | sed 's/^/    /'; }
who() {
	local a=no b=no
	holds dir $VIP && a=yes
	holds dir2 $VIP && b=yes
	echo "    VIP $VIP on A: $a, on B: $b"
}

DEB=$(ls "$BUILD"/lvsdirector_*.deb 2>/dev/null | tail -n 1)
[ -n "$DEB" ] || die "no package in $BUILD (make deb)"
say "installing $(basename "$DEB") with apt-get (as on a director)"
cp "$DEB" /tmp/ && chmod 644 "/tmp/$(basename "$DEB")"
rm -f /var/lib/man-db/auto-update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "/tmp/$(basename "$DEB")" 2>&1 |
	grep -E '^(Setting up|Removing|E:)' | sed 's/^/    /'
BUILD=/usr/sbin

say "the farm: client $CLI_IP -> VIP $VIP -> director A (10.0.0.2) or B (10.0.0.3) -> reals $(rsip 1)..$(rsip 3) via the DIP $DIP"
pair_up 3
ha_conf a 10.0.0.3 10.0.1.3
ha_conf b 10.0.0.2 10.0.1.2
for n in a b; do
	d=/tmp/e2e/ha-$n
	printf '%s\n' checktimeout=2 negotiatetimeout=2 checkinterval=1 quiescent=yes "logfile=\"$d/ld.log\"" \
		"fallback=127.0.0.1:80 gate" "virtual=$VIP:80" "	real=$(rsip 1):80 masq 1" "	real=$(rsip 2):80 masq 1" \
		"	real=$(rsip 3):80 masq 1" '	service=http' '	request="test.html"' '	receive="ok"' '	scheduler=rr' > $d/ldirectord.cf
	cat > $d/settings.toml <<-EOF
		[metrics]
		listen = "$PS_MADDR"
		[sync]
		enabled = true
		interface = "eth1"
		sync_id = 7
		settle_min = "5s"
		settle_quiet = "8s"
		settle_max = "30s"
		[sync.sysctl]
		sync_threshold = "3 10"
	EOF
done
# The fallback: a "sorry" server on each director.
mkdir -p /tmp/e2e/sorry && echo "sorry, all real servers are down" > /tmp/e2e/sorry/index.html
for ns in dir dir2; do ip netns exec $ns busybox httpd -p 127.0.0.1:80 -h /tmp/e2e/sorry; done
ip link set priv type bridge mcast_snooping 0
head -c 2097152 /dev/zero > /tmp/e2e/big.bin
for i in 1 2 3; do cp /tmp/e2e/big.bin "$WWW/$(rsip $i)/big.bin"; done
echo "    A's /etc/ha.d (here /tmp/e2e/ha-a):"
grep -v '^[[:space:]]*$' /tmp/e2e/ha-a/ha.cf | sed 's/^[[:space:]]*/      ha.cf        | /'
sed 's/^/      haresources  | /' /tmp/e2e/ha-a/haresources

say "starting directord on A and B (the same files; A is the preferred node)"
dd_start a dir --settings /tmp/e2e/ha-a/settings.toml
dd_start b dir2 --settings /tmp/e2e/ha-b/settings.toml
wait_until 30000 holds dir $VIP || die "A did not take its group: $(tail -n 20 /tmp/e2e/ha-a/ha.log)"
wait_until 30000 sh -c "[ \$(ip netns exec dir ipvsadm -Ln -t $VIP:80 | awk '\$1 == \"->\" && \$4 > 0' | wc -l) -ge 3 ]"
say "all healthy: A holds the VIP and the DIP and runs the table"
who
table dir
tally

say "real $(rsip 2) fails (its health page is gone)"
rs_fail "$(rsip 2)"
wait_weight $VIP:80 "$(rsip 2):80" 0 15000 > /dev/null
echo "    quiesced in ${WAITED_MS} ms:"
table dir
tally

say "all reals fail: the fallback answers"
rs_fail "$(rsip 1)"
rs_fail "$(rsip 3)"
wait_until 20000 sh -c "ip netns exec dir ipvsadm -Ln -t $VIP:80 | grep -q '127.0.0.1:80'"
table dir
tally

say "the reals heal"
for i in 1 2 3; do rs_heal "$(rsip $i)"; done
wait_until 20000 sh -c "[ \$(ip netns exec dir ipvsadm -Ln -t $VIP:80 | awk '\$1 == \"->\" && \$4 > 0' | wc -l) -ge 3 ]"
table dir
tally

say "a client downloads 2 MiB at 150 kB/s through the VIP; B's sync backup already lists it"
bg_start dl ip netns exec cli sh -c "curl -sS --limit-rate 150k -o /tmp/e2e/dl.bin http://$VIP/big.bin; echo rc=\$?"
sleep 4
echo "    connections B's kernel knows from A's sync: $(ip netns exec dir2 ipvsadm -Lnc | grep -c "$VIP:80")"

say "director A dies (SIGKILL, its links down: the box is gone)"
t_kill=$(now_ms)
kill -9 "$(bg_pid dda)"
rm -f "$BG_DIR/dda.pid"
ip -n dir link set eth0 down
ip -n dir link set eth1 down
wait_until 10000 holds dir2 $VIP
say "B took the VIP and the DIP $(($(now_ms) - t_kill)) ms after A died"
ip -n dir2 -br addr show | sed 's/^/    /'
table dir2
tally
wait_until 30000 grep -q '^rc=' "${E2E_TMP:-/tmp}/dl.log"
say "the download: $(grep '^rc=' "${E2E_TMP:-/tmp}/dl.log"), $(stat -c %s /tmp/e2e/dl.bin 2>/dev/null || echo 0) of 2097152 bytes ($( [ "$(stat -c %s /tmp/e2e/dl.bin 2>/dev/null)" = 2097152 ] && echo "carried on across the takeover" || echo "cut by the takeover"))"

say "A comes back: its sync backup learns B's connections, then it takes its group home (auto_failback)"
ip -n dir link set eth0 up
ip -n dir link set eth1 up
ip netns exec dir ipvsadm -C
t_back=$(now_ms)
dd_start a dir --settings /tmp/e2e/ha-a/settings.toml
wait_until 60000 eval 'holds dir $VIP && ! holds dir2 $VIP'
say "A holds its group again $(($(now_ms) - t_back)) ms after it started"
who
tally

say "directorctl status on A:"
ctl a | sed 's/^/    /'
say "metrics excerpt (curl http://$PS_MADDR/metrics on A):"
ip netns exec dir curl -sS -m 5 "http://$PS_MADDR/metrics" | grep -E '^lvs_(ha_group_held|ha_node_state\{node="b",state="active"\}|real_up|real_weight|sync_daemon|ipvs_connections_total)' | sed 's/^/    /'

if command -v chromium > /dev/null; then
	say "the status page (http://$PS_MADDR/ on A) in headless Chromium, phone-sized"
	prof=$(mktemp -d /tmp/e2e/chrome.XXXXXX)
	if ip netns exec dir env HOME="$prof" timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
		--disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$prof" --hide-scrollbars --window-size=412,915 --screenshot=/tmp/e2e/demo-status.png \
		"http://$PS_MADDR/" > "$prof.log" 2>&1; then
		vm_export /tmp/e2e/demo-status.png demo-status.png
	else
		echo "    chromium failed: $(tail -n 3 "$prof.log")"
	fi
fi
say "done"
farm_down > /dev/null 2>&1
exit 0
