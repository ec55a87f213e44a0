package haconf

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// referenceHACF is the ha.cf of the reference's interop test (B9).
const referenceHACF = `# /etc/ha.d/ha.cf
logfile /tmp/hbtest/ha-log
debugfile /tmp/hbtest/ha-debug
use_logd no
keepalive 1
deadtime 10
warntime 5
initdead 12
udpport 694
realtime off
ucast lo 127.0.0.2          # heartbeat sends to 127.0.0.2:694 (the simulated peer binds that address)
auto_failback on
node vm
node peer
crm off
`

func parseHACF(t *testing.T, src, local string) *HACF {
	t.Helper()
	c, err := ParseHACF("ha.cf", strings.NewReader(src), HACFOptions{LocalNode: local})
	if err != nil {
		t.Fatalf("ParseHACF: %v\ninput:\n%s", err, src)
	}
	return c
}

func warnings(c *HACF) string {
	var b strings.Builder
	for _, w := range c.Warnings {
		b.WriteString(w.Error())
		b.WriteByte('\n')
	}
	return b.String()
}

func TestHACFReference(t *testing.T) {
	for _, local := range []string{"vm", "peer", "VM"} {
		c := parseHACF(t, referenceHACF, local)
		if c.LocalNode != strings.ToLower(local) {
			t.Errorf("local %q", c.LocalNode)
		}
		if c.Keepalive != time.Second || c.Deadtime != 10*time.Second || c.Warntime != 5*time.Second ||
			c.Initdead != 12*time.Second || c.Deadping != 10*time.Second {
			t.Errorf("times %v %v %v %v %v", c.Keepalive, c.Deadtime, c.Warntime, c.Initdead, c.Deadping)
		}
		want := []Medium{{Kind: Ucast, Dev: "lo", Peer: "127.0.0.2", Port: 694, Line: 11}}
		if !reflect.DeepEqual(c.Media, want) {
			t.Errorf("media %+v", c.Media)
		}
		if !reflect.DeepEqual(c.Nodes, []string{"vm", "peer"}) {
			t.Errorf("nodes %v", c.Nodes)
		}
		if c.AutoFailback != FailbackOn || c.UDPPort != 694 {
			t.Errorf("auto_failback %v udpport %d", c.AutoFailback, c.UDPPort)
		}
		if c.Logfile != "/tmp/hbtest/ha-log" || c.Debugfile != "/tmp/hbtest/ha-debug" || c.UseLogd {
			t.Errorf("logging %q %q %v", c.Logfile, c.Debugfile, c.UseLogd)
		}
		if c.Lines["deadtime"] != 6 || c.Lines["node"] != 14 {
			t.Errorf("lines %v", c.Lines)
		}
		if len(c.Warnings) != 0 {
			t.Errorf("warnings:\n%s", warnings(c))
		}
	}
}

func TestHACFDefaults(t *testing.T) {
	c := parseHACF(t, "bcast eth0\nnode a\n", "a")
	if c.Keepalive != time.Second || c.Deadtime != 30*time.Second || c.Warntime != 15*time.Second ||
		c.Initdead != 30*time.Second || c.Deadping != 30*time.Second || c.UDPPort != 694 {
		t.Errorf("defaults %+v", c)
	}
	if c.AutoFailback != FailbackLegacy || !c.UseLogd || c.MsgFmt != "classic" || c.Autojoin != "none" ||
		c.GenMethod != "file" || c.UUIDFrom != "file" || c.Hopfudge != 1 || c.Cluster != "linux-ha" {
		t.Errorf("defaults %+v", c)
	}
	if w := warnings(c); !strings.Contains(w, "ha.cf: Deprecated 'legacy' auto_failback option selected") {
		t.Errorf("warnings:\n%s", w)
	}
	c, err := ParseHACF("ha.cf", strings.NewReader("bcast eth0\nnode a\n"), HACFOptions{LocalNode: "a", DefaultUDPPort: 7000})
	if err != nil || c.UDPPort != 7000 || c.Media[0].Port != 7000 {
		t.Errorf("services port: %v %+v", err, c)
	}
}

func TestInitdeadDefault(t *testing.T) {
	for _, tt := range []struct{ dead, keep, want string }{
		{"30", "1", "30s"}, {"11", "1", "11s"}, {"10", "1", "20s"}, {"6", "1", "12s"},
		{"5", "1", "12s"}, {"500ms", "100ms", "12s"}, {"10001ms", "1", "10.001s"},
	} {
		c := parseHACF(t, "bcast eth0\nnode a\nauto_failback on\nkeepalive "+tt.keep+"\ndeadtime "+tt.dead+"\n", "a")
		if c.Initdead.String() != tt.want {
			t.Errorf("deadtime %s: initdead %v, want %s", tt.dead, c.Initdead, tt.want)
		}
	}
}

func TestParseTime(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"1", time.Second, false},
		{"10", 10 * time.Second, false},
		{"0.5", 500 * time.Millisecond, false},
		{".25", 250 * time.Millisecond, false},
		{"2.", 2 * time.Second, false},
		{"1500ms", 1500 * time.Millisecond, false},
		{"1500MS", 1500 * time.Millisecond, false},
		{"1500msec", 1500 * time.Millisecond, false},
		{"1500Msec", 1500 * time.Millisecond, false},
		{"1.5ms", 2 * time.Millisecond, false}, // rounded
		{"1.4ms", time.Millisecond, false},
		{"2500us", 3 * time.Millisecond, false},
		{"2400usec", 2 * time.Millisecond, false},
		{"400us", 0, false},
		{"0.0004", 0, false},
		{"0", 0, false},
		{"10s", 0, true},
		{"1m", 0, true},
		{"ms", 0, true},
		{"", 0, true},
		{".", 0, true},
		{"-1", 0, true},
		{"1.5.2", 0, true},
		{"2msfoo", 0, true},
		{"1e3", 0, true},
		{"99999999", 0, true},
		{"2147483647ms", 2147483647 * time.Millisecond, false},
	} {
		got, err := ParseTime(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseTime(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestHACFTokenisation(t *testing.T) {
	src := "  # comment\n" +
		"\tnode a, b\tC # d\n" +
		"node\n" + // no value: ignored with a warning
		"keepalive 2 500ms\n" + // last token wins
		"deadtime 5000ms#comment\n" +
		"bcast eth0,eth1 eth2\r\n" +
		"udp eth3\n" +
		"auto_failback off\n"
	c := parseHACF(t, src, "b")
	if !reflect.DeepEqual(c.Nodes, []string{"a", "b", "c"}) {
		t.Errorf("nodes %v", c.Nodes)
	}
	if c.Keepalive != 500*time.Millisecond || c.Deadtime != 5*time.Second {
		t.Errorf("times %v %v", c.Keepalive, c.Deadtime)
	}
	var devs []string
	for _, m := range c.Media {
		if m.Kind != Bcast || m.Port != 694 {
			t.Errorf("medium %v", m)
		}
		devs = append(devs, m.Dev)
	}
	if !reflect.DeepEqual(devs, []string{"eth0", "eth1", "eth2", "eth3"}) || c.Media[3].Line != 7 {
		t.Errorf("bcast %+v", c.Media)
	}
	w := warnings(c)
	for _, s := range []string{"ha.cf:3: node without a value", "ha.cf:7: directive 'udp' replaced by 'bcast'"} {
		if !strings.Contains(w, s) {
			t.Errorf("warning %q missing from:\n%s", s, w)
		}
	}
}

func TestHACFMedia(t *testing.T) {
	src := `bcast eth0
udpport 700
bcast eth1
ucast eth1 10.0.0.2 10.0.0.3, peer.example
mcast eth2 239.0.0.1 5405 1 0
mcast6 eth3 ff02::1:2 6000 3 1
ucast6 eth4 fe80::1
node a
auto_failback on
`
	c := parseHACF(t, src, "a")
	want := []Medium{
		{Kind: Bcast, Dev: "eth0", Port: 694, Line: 1},
		{Kind: Bcast, Dev: "eth1", Port: 700, Line: 3},
		{Kind: Ucast, Dev: "eth1", Peer: "10.0.0.2", Port: 700, Line: 4},
		{Kind: Ucast, Dev: "eth1", Peer: "10.0.0.3", Port: 700, Line: 4},
		{Kind: Ucast, Dev: "eth1", Peer: "peer.example", Port: 700, Line: 4},
		{Kind: Mcast, Dev: "eth2", Group: netip.MustParseAddr("239.0.0.1"), Port: 5405, TTL: 1, Line: 5},
		{Kind: Mcast6, Dev: "eth3", Group: netip.MustParseAddr("ff02::1:2"), Port: 6000, TTL: 3, Loop: true, Line: 6},
		{Kind: Ucast6, Dev: "eth4", Peer: "fe80::1", Port: 700, Line: 7},
	}
	if !reflect.DeepEqual(c.Media, want) {
		t.Errorf("media:\n got %+v\nwant %+v", c.Media, want)
	}
	if c.UDPPort != 700 {
		t.Errorf("udpport %d", c.UDPPort)
	}
	if w := warnings(c); !strings.Contains(w, "ha.cf:2: udpport setting must precede media statements") {
		t.Errorf("warnings:\n%s", w)
	}
	if s := c.Media[5].String(); s != "mcast eth2 239.0.0.1:5405 ttl 1 loop false" {
		t.Errorf("String %q", s)
	}
}

func TestHACFDirectives(t *testing.T) {
	src := `bcast eth0
node a b
ping 10.0.0.254 gw.example
ping_group routers 10.0.1.1 10.0.1.2
respawn hacluster /usr/lib/heartbeat/ipfail
respawn root   /usr/local/bin/check  -x  y
failfast root /usr/sbin/watcher
logfacility local0
use_logd yes
nice_failback on
env A=b C=
msgfmt netstring
autojoin NONE
hbgenmethod time
uuidfrom nodename
hopfudge 2
debug 1
cluster lvs
watchdog /dev/watchdog
realtime yes
rtprio 5
coredumps off
coreroot /var/cores
baud 19200
apiauth ipfail uid=hacluster
stonith baytech /etc/ha.d/conf/stonith.baytech
compression bz2
compression_threshold 2
traditional_compression no
max_rexmit_delay 250
memreserve 6500
log_badpack true
syslogmsgfmt false
conn_logd_time 60
quorum_server q.example
crm no
`
	c := parseHACF(t, src, "b")
	wantPing := []Ping{
		{Name: "10.0.0.254", Addrs: []string{"10.0.0.254"}, Line: 3},
		{Name: "gw.example", Addrs: []string{"gw.example"}, Line: 3},
		{Name: "routers", Addrs: []string{"10.0.1.1", "10.0.1.2"}, Group: true, Line: 4},
	}
	if !reflect.DeepEqual(c.Ping, wantPing) {
		t.Errorf("ping %+v", c.Ping)
	}
	wantResp := []Child{
		{User: "root", Path: "/usr/local/bin/check", Args: []string{"-x", "y"}, Command: "/usr/local/bin/check  -x  y", Line: 6},
	}
	if !reflect.DeepEqual(c.Respawn, wantResp) {
		t.Errorf("respawn %+v", c.Respawn)
	}
	if !c.IPFail {
		t.Error("respawn of ipfail did not set IPFail")
	}
	if len(c.Failfast) != 1 || c.Failfast[0].Path != "/usr/sbin/watcher" {
		t.Errorf("failfast %+v", c.Failfast)
	}
	if c.LogFacility != "local0" || !c.UseLogd || c.AutoFailback != FailbackLegacy {
		t.Errorf("%q %v %v", c.LogFacility, c.UseLogd, c.AutoFailback)
	}
	if !reflect.DeepEqual(c.Env, []string{"A=b", "C="}) || c.MsgFmt != "netstring" || c.Autojoin != "none" ||
		c.GenMethod != "time" || c.UUIDFrom != "nodename" || c.Hopfudge != 2 || c.Debug != 1 ||
		c.Cluster != "lvs" || c.Watchdog != "/dev/watchdog" {
		t.Errorf("%+v", c)
	}
	w := warnings(c)
	for _, s := range []string{
		"ha.cf:10: nice_failback flag is obsolete: nice_failback on has been strictly interpreted as 'auto_failback legacy'",
		"ha.cf:26: stonith is not supported",
	} {
		if !strings.Contains(w, s) {
			t.Errorf("warning %q missing from:\n%s", s, w)
		}
	}
	if strings.Contains(w, "Deprecated") {
		t.Errorf("no-auto_failback warning although nice_failback is set:\n%s", w)
	}

	for _, tt := range []struct {
		line string
		want AutoFailback
	}{
		{"auto_failback on", FailbackOn}, {"auto_failback yes", FailbackOn}, {"auto_failback OFF", FailbackOff},
		{"auto_failback legacy", FailbackLegacy}, {"auto_failback Legacy", FailbackLegacy},
		{"nice_failback off", FailbackLegacy}, {"nice_failback on\nauto_failback on", FailbackOn},
		{"auto_failback on\nnice_failback 1", FailbackOff}, {"nice_failback on", FailbackLegacy},
		{"auto_failback off\nnice_failback off", FailbackOff}, {"auto_failback legacy\nnice_failback on", FailbackLegacy},
	} {
		c := parseHACF(t, "bcast eth0\nnode a\n"+tt.line+"\n", "a")
		if c.AutoFailback != tt.want {
			t.Errorf("%q: %v, want %v", tt.line, c.AutoFailback, tt.want)
		}
	}
}

func TestHACFErrors(t *testing.T) {
	const base = "bcast eth0\nnode a b\nauto_failback on\n"
	for _, tt := range []struct {
		src   string
		local string
		want  string
	}{
		{base + "bogus 1\n", "a", "ha.cf:4: Illegal directive [bogus]"},
		{base + "Node c\n", "a", "ha.cf:4: Illegal directive [Node]"},
		{base + "keepalive,2\n", "a", "ha.cf:4: Illegal directive [keepalive,2]"},
		{"node a\nauto_failback on\n", "a", "ha.cf: no communication media configured"},
		{"bcast eth0\n", "a", "ha.cf: no nodes configured"},
		{base, "c", "ha.cf:2: local node c is not listed in the node directives (a b)"},
		{base, "", "ha.cf: local node name unknown"},
		{base + "keepalive 2\ndeadtime 4\n", "a", "ha.cf:5: deadtime 4000 ms is too small compared to keepalive 2000 ms"},
		{base + "keepalive 20\n", "a", "ha.cf:4: deadtime 30000 ms is too small compared to keepalive 20000 ms"},
		{base + "deadtime 10\ninitdead 9\n", "a", "ha.cf:5: initdead 9000 ms is smaller than deadtime 10000 ms"},
		{base + "deadping 2\n", "a", "ha.cf:4: deadping 2000 ms is too small"},
		{base + "keepalive 1500 ms\n", "a", `ha.cf:4: invalid keepalive "ms": not a number`},
		{base + "deadtime 10s\n", "a", `ha.cf:4: invalid deadtime "10s": unknown unit "s"`},
		{base + "warntime 0\n", "a", `ha.cf:4: invalid warntime "0": must be greater than 0`},
		{base + "initdead -5\n", "a", `ha.cf:4: invalid initdead "-5": not a number`},
		{base + "udpport 0\n", "a", `ha.cf:4: invalid udpport "0"`},
		{base + "udpport 694x\n", "a", `ha.cf:4: invalid udpport "694x"`},
		{base + "auto_failback maybe\n", "a", `ha.cf:4: invalid auto_failback "maybe": want on, off or legacy`},
		{base + "nice_failback legacy\n", "a", `ha.cf:4: invalid nice_failback "legacy"`},
		{base + "crm on\n", "a", "ha.cf:4: crm on selects Pacemaker (CRM) cluster management, which is out of scope"},
		{base + "pacemaker respawn\n", "a", "ha.cf:4: crm respawn selects Pacemaker"},
		{base + "crm sometimes\n", "a", `ha.cf:4: invalid crm "sometimes"`},
		{base + "use_logd no\n", "a", "ha.cf:4: use_logd is off and none of logfile, debugfile or logfacility is set"},
		{base + "logfacility local9\n", "a", `ha.cf:4: invalid logfacility "local9"`},
		{base + "mcast eth0 239.0.0.1 694 1\n", "a", "ha.cf:4: mcast: want mcast <interface> <group> <port> <ttl> <loop>"},
		{base + "mcast eth0 10.0.0.1 694 1 0\n", "a", `ha.cf:4: mcast: "10.0.0.1" is not an IPv4 multicast group`},
		{base + "mcast eth0 ff02::1 694 1 0\n", "a", `ha.cf:4: mcast: "ff02::1" is not an IPv4 multicast group`},
		{base + "mcast6 eth0 239.0.0.1 694 1 0\n", "a", `ha.cf:4: mcast6: "239.0.0.1" is not an IPv6 multicast group`},
		{base + "mcast eth0 239.0.0.1 99999 1 0\n", "a", `ha.cf:4: invalid mcast port "99999"`},
		{base + "mcast eth0 239.0.0.1 694 256 0\n", "a", `ha.cf:4: invalid mcast ttl "256"`},
		{base + "mcast eth0 239.0.0.1 694 1 2\n", "a", `ha.cf:4: invalid mcast loop "2"`},
		{base + "ucast eth0\n", "a", "ha.cf:4: ucast: want ucast <interface> <peer address>"},
		{base + "ucast eth0 fe80::1\n", "a", "ha.cf:4: ucast: fe80::1 is not an IPv4 address (use ucast6)"},
		{base + "ucast6 eth0 10.0.0.1\n", "a", "ha.cf:4: ucast6: 10.0.0.1 is not an IPv6 address"},
		{base + "ucast eth0 bad!host\n", "a", `ha.cf:4: ucast: invalid peer address "bad!host"`},
		{base + "ucast averyveryverylongname 10.0.0.1\n", "a", `ha.cf:4: ucast: invalid interface name`},
		{base + "bcast a/b\n", "a", `ha.cf:4: invalid interface name "a/b"`},
		{base + "hbaping fc-card-name\n", "a", "ha.cf:4: Illegal directive [hbaping]"},
		{base + "respawn hacluster\n", "a", "ha.cf:4: respawn: want respawn <user> </path/to/program>"},
		{base + "respawn hacluster ipfail\n", "a", `ha.cf:4: respawn: Client child command [ipfail] is not full pathname`},
		{base + "ping_group g\n", "a", "ha.cf:4: ping_group: want ping_group <name> <address>"},
		{base + "ping a\n", "a", "ha.cf:4: ping node a is already a node"},
		{"ping 10.0.0.1\nnode 10.0.0.1\n", "a", "ha.cf:2: node 10.0.0.1 is already a ping node"},
		{base + "ping 10.0.0.1 10.0.0.1\n", "a", "ha.cf:4: ping node 10.0.0.1 defined twice"},
		{base + "realtime perhaps\n", "a", `ha.cf:4: invalid realtime "perhaps"`},
		{base + "msgfmt xml\n", "a", `ha.cf:4: invalid msgfmt "xml": want classic, netstring`},
		{base + "autojoin some\n", "a", `ha.cf:4: Invalid autojoin directive [some]`},
		{base + "hopfudge -1\n", "a", `ha.cf:4: invalid hopfudge "-1"`},
		{base + "env =x\n", "a", `ha.cf:4: invalid env "=x"`},
	} {
		_, err := ParseHACF("ha.cf", strings.NewReader(tt.src), HACFOptions{LocalNode: tt.local})
		var ce *Error
		if err == nil || !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("input:\n%s\ngot  %v\nwant %s...", tt.src, err, tt.want)
		}
	}
}

func TestHACFWarnings(t *testing.T) {
	c := parseHACF(t, "bcast eth0\nnode a b c\nnode a\nauto_failback on\ndeadtime 5\nwarntime 6\ninitdead 8\n", "a")
	w := warnings(c)
	for _, s := range []string{
		"ha.cf:3: node a listed twice",
		"ha.cf:2: 3 nodes",
		"ha.cf:7: initdead 8000 ms may be too small",
		"ha.cf:6: warntime 6000 ms should be between keepalive 1000 ms and deadtime 5000 ms",
	} {
		if !strings.Contains(w, s) {
			t.Errorf("warning %q missing from:\n%s", s, w)
		}
	}
	if !reflect.DeepEqual(c.Nodes, []string{"a", "b", "c"}) {
		t.Errorf("nodes %v", c.Nodes)
	}
}

func TestHACFIPFailWithoutPingNodes(t *testing.T) {
	c := parseHACF(t, "bcast eth0\nrespawn hacluster /usr/lib/heartbeat/ipfail\nnode a b\nauto_failback on\n", "a")
	if !c.IPFail || len(c.Respawn) != 0 {
		t.Errorf("IPFail %v respawn %+v", c.IPFail, c.Respawn)
	}
	if w := warnings(c); !strings.Contains(w, "ha.cf:2: ipfail without ping or ping_group nodes does nothing") {
		t.Errorf("warnings:\n%s", w)
	}
	c = parseHACF(t, "bcast eth0\nrespawn hacluster /usr/lib/heartbeat/ipfail\nping 10.0.0.1\nnode a b\nauto_failback on\n", "a")
	if w := warnings(c); strings.Contains(w, "ipfail") {
		t.Errorf("ping node given after the respawn line still warns:\n%s", w)
	}
}

// What an error quotes from the file reaches a terminal escaped: an escape
// sequence or a bare CR in an ha.d file is shown as \x1b, \r.
func TestErrorsEscapeControlBytes(t *testing.T) {
	_, _, err := ParseAuthkeys("authkeys", strings.NewReader("auth 1x\x1b[2J\r\n1 sha1 k\n"))
	if err == nil {
		t.Fatal("a broken auth line was accepted")
	}
	if msg := err.Error(); strings.ContainsAny(msg, "\x1b\r") || !strings.Contains(msg, `\x1b`) {
		t.Fatalf("error not escaped: %q", msg)
	}
}
