package haconf

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestHaresourcesReference(t *testing.T) {
	rs, err := ParseHaresources("haresources", strings.NewReader("vm 192.0.2.50/24/eth0\npeer 192.0.2.51/24/eth0\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Group{
		{Node: "vm", Key: "192.0.2.50/24/eth0", Line: 1, Resources: []Resource{{
			Token: "192.0.2.50/24/eth0", Agent: "IPaddr", Args: []string{"192.0.2.50/24/eth0"},
			IP: &IPAddr{Addr: addr("192.0.2.50"), Bits: 24, Iface: "eth0"}}}},
		{Node: "peer", Key: "192.0.2.51/24/eth0", Line: 2, Resources: []Resource{{
			Token: "192.0.2.51/24/eth0", Agent: "IPaddr", Args: []string{"192.0.2.51/24/eth0"},
			IP: &IPAddr{Addr: addr("192.0.2.51"), Bits: 24, Iface: "eth0"}}}},
	}
	if !reflect.DeepEqual(rs.Groups, want) {
		t.Errorf("got  %+v\nwant %+v", rs.Groups, want)
	}
	if g, ok := rs.Lookup("192.0.2.51/24/eth0"); !ok || g.Node != "peer" {
		t.Errorf("Lookup: %v %v", g, ok)
	}
	if gs := rs.ByNode("VM"); len(gs) != 1 || gs[0].Key != "192.0.2.50/24/eth0" {
		t.Errorf("ByNode: %+v", gs)
	}
	if err := rs.CheckNodes([]string{"vm", "peer"}); err != nil {
		t.Error(err)
	}
	if err := rs.CheckNodes([]string{"vm"}); err == nil || err.Error() !=
		"haresources:2: Invalid node [peer] in haresources: not a node of ha.cf (vm)" {
		t.Errorf("CheckNodes: %v", err)
	}
}

func TestHaresourcesLines(t *testing.T) {
	src := `# director pair
LVS1 10.0.0.10 \
     IPaddr2::10.0.0.11/24/eth0:web/10.0.0.255 \   # the second VIP
     ldirectord::ldirectord.cf

lvs2	IPaddr::10.0.1.10/255.255.255.0/10.0.1.255  httpd
lvs2 mail::a::b \
`
	rs, err := ParseHaresources("haresources", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []Group{
		{Node: "lvs1", Key: "10.0.0.10", Line: 2, Resources: []Resource{
			{Token: "10.0.0.10", Agent: "IPaddr", Args: []string{"10.0.0.10"}, IP: &IPAddr{Addr: addr("10.0.0.10")}},
			{Token: "IPaddr2::10.0.0.11/24/eth0:web/10.0.0.255", Agent: "IPaddr2", Args: []string{"10.0.0.11/24/eth0:web/10.0.0.255"},
				IP: &IPAddr{Addr: addr("10.0.0.11"), Bits: 24, Iface: "eth0", Label: "eth0:web", Broadcast: addr("10.0.0.255")}},
			{Token: "ldirectord::ldirectord.cf", Agent: "ldirectord", Args: []string{"ldirectord.cf"}},
		}},
		{Node: "lvs2", Key: "IPaddr::10.0.1.10/255.255.255.0/10.0.1.255", Line: 6, Resources: []Resource{
			{Token: "IPaddr::10.0.1.10/255.255.255.0/10.0.1.255", Agent: "IPaddr", Args: []string{"10.0.1.10/255.255.255.0/10.0.1.255"},
				IP: &IPAddr{Addr: addr("10.0.1.10"), Bits: 24, Broadcast: addr("10.0.1.255")}},
			{Token: "httpd", Agent: "httpd", Args: []string{}},
		}},
		{Node: "lvs2", Key: "mail::a::b", Line: 7, Resources: []Resource{
			{Token: "mail::a::b", Agent: "mail", Args: []string{"a", "b"}},
		}},
	}
	if !reflect.DeepEqual(rs.Groups, want) {
		t.Errorf("got:\n%+v\nwant:\n%+v", rs.Groups, want)
	}
	if !rs.Groups[0].Resources[0].IsIP() || rs.Groups[0].Resources[2].IsIP() {
		t.Error("IsIP")
	}
}

func TestParseResource(t *testing.T) {
	for _, tt := range []struct {
		tok string
		ip  *IPAddr
		err string
	}{
		{"10.0.0.1", &IPAddr{Addr: addr("10.0.0.1")}, ""},
		{"10.0.0.1/8", &IPAddr{Addr: addr("10.0.0.1"), Bits: 8}, ""},
		{"10.0.0.1/32/bond0.100", &IPAddr{Addr: addr("10.0.0.1"), Bits: 32, Iface: "bond0.100"}, ""},
		// Empty fields as heartbeat's IPaddr/IPaddr2 wrappers read them
		// (each run of '/' stripped), checked against the Debian 3.0.6
		// wrappers with resource-agents 4.12: ip//eth1 and ip///bcast fail
		// there ("Invalid netmask specification").
		{"10.0.0.1/", &IPAddr{Addr: addr("10.0.0.1")}, ""},
		{"10.0.0.1//", &IPAddr{Addr: addr("10.0.0.1")}, ""},
		{"IPaddr::10.0.0.1/24/", &IPAddr{Addr: addr("10.0.0.1"), Bits: 24}, ""},
		{"IPaddr::10.0.0.1/24//10.0.0.255", &IPAddr{Addr: addr("10.0.0.1"), Bits: 24, Broadcast: addr("10.0.0.255")}, ""},
		{"IPaddr2::10.0.0.1/24/eth0/", &IPAddr{Addr: addr("10.0.0.1"), Bits: 24, Iface: "eth0"}, ""},
		{"IPaddr2::10.0.0.1/24/eth0:web//", &IPAddr{Addr: addr("10.0.0.1"), Bits: 24, Iface: "eth0", Label: "eth0:web"}, ""},
		{"10.0.0.1//eth1", nil, `invalid netmask "eth1": want bits (24) or a dotted mask (255.255.255.0) (heartbeat's IPaddr skips empty fields, so "eth1" is read as the netmask: write 10.0.0.1/BITS/eth1)`},
		{"IPaddr2::10.0.0.1///10.0.0.255", nil, `invalid netmask "10.0.0.255"`},
		// IPv6: IPv6addr as heartbeat (fields in place), and IPaddr2.
		{"IPv6addr::fd00:0:0:0:0:0:0:1", &IPAddr{Addr: addr("fd00::1")}, ""},
		{"IPv6addr::fd00:0:0:0:0:0:0:1/64", &IPAddr{Addr: addr("fd00::1"), Bits: 64}, ""},
		{"IPv6addr::fd00:0:0:0:0:0:0:1//eth1", &IPAddr{Addr: addr("fd00::1"), Iface: "eth1"}, ""},
		{"IPv6addr::fd00:0:0:0:0:0:0:1/128/eth1", &IPAddr{Addr: addr("fd00::1"), Bits: 128, Iface: "eth1"}, ""},
		{"IPaddr2::fd00:0:0:0:0:0:0:1", &IPAddr{Addr: addr("fd00::1")}, ""},
		{"IPaddr2::fd00:0:0:0:0:0:0:1/64/eth0", &IPAddr{Addr: addr("fd00::1"), Bits: 64, Iface: "eth0"}, ""},
		{"IPv6addr::fd00:0:0:0:0:0:0:1/129", nil, "netmask bits 129 out of range 1..128"},
		{"IPv6addr::fd00:0:0:0:0:0:0:1/ffff:ff00:0:0:0:0:0:0", nil, `invalid prefix length "ffff:ff00:0:0:0:0:0:0"`},
		{"IPv6addr::fd00:0:0:0:0:0:0:1/64/eth0/x", nil, "too many '/' fields"},
		{"IPv6addr::10.0.0.1", nil, `"10.0.0.1" is not an IPv6 address`},
		{"IPaddr::fd00:0:0:0:0:0:0:1", nil, `is not an IPv4 address (IPv6: IPv6addr::ADDRESS)`},
		{"IPaddr2::fd00:0:0:0:0:0:0:1/64/eth0:web", nil, "labels are for IPv4 addresses"},
		{"IPaddr2::fd00:0:0:0:0:0:0:1/64/eth0/fd00:0:0:0:0:0:0:ff", nil, "IPv6 has no broadcast"},
		{"IPv6addr::fd00::1/64", nil, `write the IPv6 address in full (fd00:0:0:0:0:0:0:1)`},
		{"10.0.0.1/24/eth0/10.0.0.255", &IPAddr{Addr: addr("10.0.0.1"), Bits: 24, Iface: "eth0", Broadcast: addr("10.0.0.255")}, ""},
		{"10.0.0.1/24/10.0.0.255", &IPAddr{Addr: addr("10.0.0.1"), Bits: 24, Broadcast: addr("10.0.0.255")}, ""},
		{"IPaddr2::10.0.0.1/255.255.254.0", &IPAddr{Addr: addr("10.0.0.1"), Bits: 23}, ""},
		{"IPaddr2::10.0.0.1/24/eth0:0", &IPAddr{Addr: addr("10.0.0.1"), Bits: 24, Iface: "eth0", Label: "eth0:0"}, ""},
		{"script", nil, ""},
		{"1.2.3", nil, ""}, // not an address by the glob: a script called "1.2.3"
		{"10.0.0.256", nil, `resource 10.0.0.256: "10.0.0.256" is not an IPv4 address`},
		{"10.0.0.1x.2", nil, `"10.0.0.1x.2" is not an IPv4 address`},
		{"10.0.0.1/33", nil, "netmask bits 33 out of range"},
		{"10.0.0.1/0", nil, "netmask bits 0 out of range"},
		{"10.0.0.1/255.0.255.0", nil, "not contiguous"},
		{"10.0.0.1/abc", nil, `invalid netmask "abc"`},
		{"10.0.0.1/24/eth0/x", nil, `broadcast "x" is not an IPv4 address`},
		{"10.0.0.1/24/10.0.0.255/eth0", nil, "starts with a digit"},
		{"10.0.0.1/24/eth0/10.0.0.255/x", nil, "too many '/' fields"},
		{"10.0.0.1/24/eth0:0", nil, "labels are an IPaddr2 option"},
		{"IPaddr2::10.0.0.1/24/eth0:", nil, "invalid label"},
		{"IPaddr2::10.0.0.1/24/averyverylongname", nil, "invalid interface name"},
		{"IPaddr2::2001:db8::1", nil, "IPaddr2 takes one argument, ip[/bits[/interface[:label][/broadcast]]]; heartbeat splits arguments at \"::\": write the IPv6 address in full (2001:db8:0:0:0:0:0:1)"},
		{"IPaddr", nil, "IPaddr takes one argument"},
		{"IPaddr::::x", nil, "empty argument"},
		{"::x", nil, `invalid resource script name ""`},
		{"../x", nil, "invalid resource script name"},
	} {
		r, err := ParseResource(tt.tok)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: got %v, want error containing %q", tt.tok, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.tok, err)
			continue
		}
		if !reflect.DeepEqual(r.IP, tt.ip) {
			t.Errorf("%s: IP %+v, want %+v", tt.tok, r.IP, tt.ip)
		}
	}
}

func TestHaresourcesErrors(t *testing.T) {
	for _, tt := range []struct{ src, want string }{
		{"a\n", "haresources:1: node a has no resources"},
		{"# x\na 10.0.0.1\nb 10.0.0.1\n", "haresources:3: resource group 10.0.0.1 already defined on line 2"},
		{"a 10.0.0.1 \\\n  10.0.0.2\n\nb x::\n", "haresources:4: resource x::: empty argument"},
		{"a \\\n \\\n 10.0.0.300\n", `haresources:1: resource 10.0.0.300: "10.0.0.300" is not an IPv4 address`},
	} {
		_, err := ParseHaresources("haresources", strings.NewReader(tt.src))
		var ce *Error
		if err == nil || !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%q: got %v, want %s", tt.src, err, tt.want)
		}
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, s := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoad(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"ha.cf":       referenceHACF,
		"authkeys":    referenceAuthkeys + "4 sha1 two words\n",
		"haresources": "vm 192.0.2.50/24/eth0\npeer 192.0.2.51/24/eth0 ldirectord::ldirectord.cf\n",
	})
	c, err := Load(dir, "peer")
	if err != nil {
		t.Fatal(err)
	}
	if c.HA.LocalNode != "peer" || c.Keys.Send != 2 || len(c.Resources.Groups) != 2 {
		t.Errorf("%+v", c)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0].Error(), "authkeys:5: text after the key is ignored") {
		t.Errorf("warnings %v", c.Warnings)
	}

	// haresources naming a node ha.cf lacks.
	dir = writeFiles(t, map[string]string{
		"ha.cf": referenceHACF, "authkeys": referenceAuthkeys, "haresources": "vm 10.0.0.1\nother 10.0.0.2\n",
	})
	if _, err := Load(dir, "vm"); err == nil || !strings.HasSuffix(err.Error(), "haresources:2: Invalid node [other] in haresources: not a node of ha.cf (vm peer)") {
		t.Errorf("foreign node: %v", err)
	}

	// No haresources: heartbeat 3.0.6 does not start.
	dir = writeFiles(t, map[string]string{"ha.cf": referenceHACF, "authkeys": referenceAuthkeys})
	if _, err := Load(dir, "vm"); err == nil || !strings.Contains(err.Error(), "haresources: Cannot open resources file") {
		t.Errorf("no haresources: %v", err)
	}

	// authkeys readable by the group.
	dir = writeFiles(t, map[string]string{"ha.cf": referenceHACF, "authkeys": referenceAuthkeys})
	if err := os.Chmod(filepath.Join(dir, "authkeys"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir, "vm"); err == nil || !strings.Contains(err.Error(), "Bad permissions") {
		t.Errorf("0640: %v", err)
	}

	// ha.cf errors come first, with their line.
	dir = writeFiles(t, map[string]string{"ha.cf": strings.Replace(referenceHACF, "crm off\n", "", 1) + "crm on\n", "authkeys": referenceAuthkeys})
	if _, err := Load(dir, "vm"); err == nil || !strings.HasSuffix(err.Error(), "ha.cf:15: crm on selects Pacemaker (CRM) cluster management, "+
		"which is out of scope: this implementation runs heartbeat's v1 haresources mode only; use 'crm off'") {
		t.Errorf("crm on: %v", err)
	}
	if _, err := Load(t.TempDir(), "vm"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("empty dir: %v", err)
	}
}

func TestHaresourcesSyncRole(t *testing.T) {
	rs, err := ParseHaresources("haresources", strings.NewReader("lvs1 ldirectord::ldirectord.cf LVSSyncDaemonSwap::master 10.0.0.10\nlvs2 10.0.0.11\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r := rs.Groups[0].Resources[1]; r.SyncRole != "master" || r.Agent != SyncAgent {
		t.Errorf("got %+v", r)
	}
	if !rs.SyncRoles() {
		t.Error("SyncRoles = false")
	}
	rs2, _ := ParseHaresources("haresources", strings.NewReader("lvs1 10.0.0.10\n"))
	if rs2.SyncRoles() {
		t.Error("SyncRoles without the resource")
	}
	for src, want := range map[string]string{
		"lvs1 10.0.0.10\n\nlvs1 10.0.0.11 LVSSyncDaemonSwap\n":                      "haresources:3: resource LVSSyncDaemonSwap: LVSSyncDaemonSwap takes one argument, master or backup",
		"lvs1 10.0.0.10 LVSSyncDaemonSwap::slave\n":                                 "haresources:1: resource LVSSyncDaemonSwap::slave: LVSSyncDaemonSwap takes one argument",
		"lvs1 10.0.0.10 LVSSyncDaemonSwap::master::eth1\n":                          "haresources:1: resource LVSSyncDaemonSwap::master::eth1:",
		"lvs1 10.0.0.10 \\\n LVSSyncDaemonSwap::master LVSSyncDaemonSwap::backup\n": "haresources:1: resource LVSSyncDaemonSwap::backup: the group already has LVSSyncDaemonSwap::master",
	} {
		_, err := ParseHaresources("haresources", strings.NewReader(src))
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: %v, want %s...", src, err, want)
		}
	}
}
