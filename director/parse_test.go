package director

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lvsdirector/director/ipvs"
)

// ptHosts is the fake resolver of these tests: name → [v4, v6].
var ptHosts = map[string][2]string{
	"localhost": {"127.0.0.1", "::1"},
	"web1.test": {"10.1.0.1", "2001:db8::1"},
	"web2.test": {"10.1.0.2", "2001:db8::2"},
	"r1.test":   {"10.2.0.1", ""},
	"r3.test":   {"10.2.0.3", ""},
	"vip.test":  {"192.0.2.10", "2001:db8::10"},
	"fb.test":   {"10.9.9.9", "2001:db8::99"},
	"mapped":    {"::ffff:10.3.0.1", ""},
}

// ptPorts is the fake services database: "proto/name" → port.
var ptPorts = map[string]int{
	"tcp/http": 80, "tcp/https": 443, "tcp/www": 80, "tcp/domain": 53,
	"udp/domain": 53, "tcp/smtp": 25, "udp/syslog": 514, "tcp/ftp": 21,
}

func ptLookupHost(_ context.Context, host string, v6 bool) (netip.Addr, error) {
	h, ok := ptHosts[host]
	i := 0
	if v6 {
		i = 1
	}
	if !ok || h[i] == "" {
		return netip.Addr{}, fmt.Errorf("no such host %s", host)
	}
	return netip.MustParseAddr(h[i]), nil
}

func ptLookupPort(network, service string) (int, error) {
	if p, ok := ptPorts[network+"/"+service]; ok {
		return p, nil
	}
	return 0, fmt.Errorf("unknown port %s/%s", network, service)
}

var ptOpts = ParseOptions{LookupHost: ptLookupHost, LookupPort: ptLookupPort, Hostname: "director.test"}

func ptParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := Parse("t.cf", strings.NewReader(src), ptOpts)
	if err != nil {
		t.Fatalf("Parse: %v\ninput:\n%s", err, src)
	}
	return c
}

func ptOne(t *testing.T, src string) *Virtual {
	t.Helper()
	c := ptParse(t, src)
	if len(c.Virtuals) != 1 {
		t.Fatalf("got %d virtuals, want 1\ninput:\n%s", len(c.Virtuals), src)
	}
	return c.Virtuals[0]
}

func ptAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func ptDest(addr string, port uint16, fwd ipvs.Fwd, w int32) ipvs.Destination {
	return ipvs.Destination{DestKey: ipvs.DestKey{Addr: ptAddr(addr), Port: port}, Fwd: fwd, Weight: w}
}

func ptDests(v *Virtual) []ipvs.Destination {
	var out []ipvs.Destination
	for _, r := range v.Reals {
		out = append(out, r.Dest)
	}
	return out
}

func ptEq(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func TestParseReferenceExample(t *testing.T) {
	c, err := ParseFile("testdata/test.cf", ptOpts)
	if err != nil {
		t.Fatal(err)
	}
	ptEq(t, "File", c.File, "testdata/test.cf")
	ptEq(t, "AutoReload", c.Global.AutoReload, true)
	ptEq(t, "Logfile", c.Global.Logfile, "/var/log/ldirectord.log")
	if len(c.Virtuals) != 1 {
		t.Fatalf("%d virtuals", len(c.Virtuals))
	}
	v := c.Virtuals[0]
	ptEq(t, "Line", v.Line, 9)
	ptEq(t, "ID", v.ID(), "tcp:192.0.2.100:80")
	ptEq(t, "Service", v.Service, ipvs.Service{
		ServiceKey: ipvs.ServiceKey{Family: ipvs.INET, Protocol: ipvs.TCP, Addr: ptAddr("192.0.2.100"), Port: 80},
		Scheduler:  "wlc", Flags: ipvs.FlagPersistent, Timeout: 300, Netmask: 0xffffffff,
	})
	ptEq(t, "reals", ptDests(v), []ipvs.Destination{
		ptDest("127.0.0.1", 8081, ipvs.Masq, 3),
		ptDest("127.0.0.1", 8082, ipvs.Masq, 2),
	})
	ptEq(t, "real lines", []int{v.Reals[0].Line, v.Reals[1].Line}, []int{10, 11})
	ptEq(t, "Check.Type", v.Check.Type, "negotiate")
	ptEq(t, "Check.Service", v.Check.Service, "http")
	ptEq(t, "Check.Request", v.Check.Request, "/ok.html")
	ptEq(t, "Check.Receive", v.Check.Receive, "OK")
	if v.Check.ReceiveRE == nil || v.Check.ReceiveRE.String() != "OK" {
		t.Errorf("ReceiveRE = %v", v.Check.ReceiveRE)
	}
	ptEq(t, "Timeout", v.Check.Timeout, 2*time.Second)
	ptEq(t, "NegotiateTimeout", v.Check.NegotiateTimeout, 2*time.Second)
	ptEq(t, "Interval", v.Check.Interval, 2*time.Second)
	ptEq(t, "FailureCount", v.Check.FailureCount, 2)
	ptEq(t, "Count", v.Check.Count, 1)
	// ipvsadm keeps a gate destination on the virtual's port.
	fb := ptDest("127.0.0.1", 80, ipvs.Route, 1)
	ptEq(t, "Fallback", v.Fallback, &fb)
	ptEq(t, "FallbackCommand", v.FallbackCommand, `"/tmp/ldtest/fb.sh"`)
	ptEq(t, "Quiescent", v.Quiescent, false)
	ptEq(t, "CleanStop", v.CleanStop, true)
}

func TestDefaults(t *testing.T) {
	c := ptParse(t, "virtual=192.0.2.1:8080\n\treal=10.0.0.1:8080 masq\n")
	g := c.Global
	ptEq(t, "Global", g, Global{Logfile: "/var/log/ldirectord.log"})
	v := c.Virtuals[0]
	ptEq(t, "Check", v.Check, Check{
		Type: "negotiate", Service: "none", Request: "/", HTTPMethod: "GET", Command: "/bin/true",
		Timeout: 5 * time.Second, NegotiateTimeout: 30 * time.Second, Interval: 10 * time.Second,
		Count: 1, FailureCount: 1,
	})
	ptEq(t, "Service", v.Service, ipvs.Service{
		ServiceKey: ipvs.ServiceKey{Family: ipvs.INET, Protocol: ipvs.TCP, Addr: ptAddr("192.0.2.1"), Port: 8080},
		Scheduler:  "wrr", Netmask: 0xffffffff,
	})
	ptEq(t, "Fallback", v.Fallback, (*ipvs.Destination)(nil))
	ptEq(t, "Quiescent", v.Quiescent, false)
	ptEq(t, "CleanStop", v.CleanStop, true)
	ptEq(t, "EmailAlert", len(v.EmailAlert), 0)
	ptEq(t, "EmailAlertStatus", v.EmailAlertStatus, []string{"starting", "running", "stopping", "reloading"})
	ptEq(t, "EmailAlertFreq", v.EmailAlertFreq, time.Duration(0))
	ptEq(t, "Real", ptDests(v), []ipvs.Destination{ptDest("10.0.0.1", 8080, ipvs.Masq, 1)})
	if r := v.Reals[0]; r.Request != "" || r.Receive != "" || r.ReceiveRE != nil {
		t.Errorf("real has a check override: %+v", r)
	}
}

func TestGlobals(t *testing.T) {
	const vblock = "virtual=192.0.2.1:80\n    real=10.0.0.1 gate\n"
	cases := []struct {
		name, src string
		check     func(t *testing.T, c *Config)
	}{
		{"checktimeout", "checktimeout=7\n" + vblock, func(t *testing.T, c *Config) {
			ptEq(t, "Timeout", c.Virtuals[0].Check.Timeout, 7*time.Second)
			ptEq(t, "NegotiateTimeout", c.Virtuals[0].Check.NegotiateTimeout, 7*time.Second)
		}},
		{"checktimeout comment", "checktimeout=3 # seconds\n" + vblock, func(t *testing.T, c *Config) {
			ptEq(t, "Timeout", c.Virtuals[0].Check.Timeout, 3*time.Second)
		}},
		{"checktimeout spaces around =", "checktimeout = 4\n" + vblock, func(t *testing.T, c *Config) {
			ptEq(t, "Timeout", c.Virtuals[0].Check.Timeout, 4*time.Second)
		}},
		{"negotiatetimeout", "negotiatetimeout=9\n" + vblock, func(t *testing.T, c *Config) {
			ptEq(t, "Timeout", c.Virtuals[0].Check.Timeout, 9*time.Second)
			ptEq(t, "NegotiateTimeout", c.Virtuals[0].Check.NegotiateTimeout, 9*time.Second)
		}},
		{"checkinterval", "checkinterval=3\n" + vblock, func(t *testing.T, c *Config) {
			ptEq(t, "Interval", c.Virtuals[0].Check.Interval, 3*time.Second)
		}},
		{"checkcount", "checkcount=4\n" + vblock, func(t *testing.T, c *Config) {
			ptEq(t, "Count", c.Virtuals[0].Check.Count, 4)
		}},
		{"failurecount", "failurecount=5\n" + vblock, func(t *testing.T, c *Config) {
			ptEq(t, "FailureCount", c.Virtuals[0].Check.FailureCount, 5)
		}},
		{"autoreload", "autoreload=yes\n", func(t *testing.T, c *Config) { ptEq(t, "AutoReload", c.Global.AutoReload, true) }},
		{"autoreload no", "autoreload=no\n", func(t *testing.T, c *Config) { ptEq(t, "AutoReload", c.Global.AutoReload, false) }},
		{"callback", `callback="/usr/local/bin/cb arg"` + "\n", func(t *testing.T, c *Config) {
			ptEq(t, "Callback", c.Global.Callback, "/usr/local/bin/cb arg")
		}},
		{"callback comment", `callback="/cb" # run me` + "\n", func(t *testing.T, c *Config) { ptEq(t, "Callback", c.Global.Callback, "/cb") }},
		{"logfile", `logfile="/tmp/ld.log"` + "\n", func(t *testing.T, c *Config) { ptEq(t, "Logfile", c.Global.Logfile, "/tmp/ld.log") }},
		{"logfile facility", `logfile="local0"` + "\n", func(t *testing.T, c *Config) { ptEq(t, "Logfile", c.Global.Logfile, "local0") }},
		{"execute", "execute=a.cf\nexecute = b.cf\nexecute=a.cf\n", func(t *testing.T, c *Config) {
			ptEq(t, "Execute", c.Global.Execute, []string{"a.cf", "b.cf"})
		}},
		{"fork", "fork=yes\n", func(t *testing.T, c *Config) { ptEq(t, "Fork", c.Global.Fork, true) }},
		{"supervised", "supervised=yes\n", func(t *testing.T, c *Config) { ptEq(t, "Supervised", c.Global.Supervised, true) }},
		{"supervised no", "supervised=no\n", func(t *testing.T, c *Config) { ptEq(t, "Supervised", c.Global.Supervised, false) }},
		{"supervised bare", "supervised\n", func(t *testing.T, c *Config) { ptEq(t, "Supervised", c.Global.Supervised, true) }},
		{"supervised bare spaces", "supervised  \n", func(t *testing.T, c *Config) { ptEq(t, "Supervised", c.Global.Supervised, true) }},
		{"quiescent", "quiescent=yes\n" + vblock, func(t *testing.T, c *Config) { ptEq(t, "Quiescent", c.Virtuals[0].Quiescent, true) }},
		{"readdquiescent", "readdquiescent=yes\n", func(t *testing.T, c *Config) { ptEq(t, "ReaddQuiescent", c.Global.ReaddQuiescent, true) }},
		{"cleanstop", "cleanstop=no\n" + vblock, func(t *testing.T, c *Config) { ptEq(t, "CleanStop", c.Virtuals[0].CleanStop, false) }},
		{"emailalert", `emailalert="a@x.test, b@x.test"` + "\n" + vblock, func(t *testing.T, c *Config) {
			ptEq(t, "EmailAlert", c.Virtuals[0].EmailAlert, []string{"a@x.test", "b@x.test"})
		}},
		{"emailalert unquoted", "emailalert=a@x.test,b@x.test\n" + vblock, func(t *testing.T, c *Config) {
			ptEq(t, "EmailAlert", c.Virtuals[0].EmailAlert, []string{"a@x.test", "b@x.test"})
		}},
		{"emailalertfreq", "emailalertfreq=60\n" + vblock, func(t *testing.T, c *Config) {
			ptEq(t, "EmailAlertFreq", c.Virtuals[0].EmailAlertFreq, time.Minute)
		}},
		{"emailalertfreq 0", "emailalertfreq=0\n" + vblock, func(t *testing.T, c *Config) {
			ptEq(t, "EmailAlertFreq", c.Virtuals[0].EmailAlertFreq, time.Duration(0))
		}},
		{"emailalertstatus list", "emailalertstatus=running, stopping\n" + vblock, func(t *testing.T, c *Config) {
			ptEq(t, "EmailAlertStatus", c.Virtuals[0].EmailAlertStatus, []string{"running", "stopping"})
		}},
		{"emailalertstatus order", "emailalertstatus=reloading,starting\n" + vblock, func(t *testing.T, c *Config) {
			ptEq(t, "EmailAlertStatus", c.Virtuals[0].EmailAlertStatus, []string{"starting", "reloading"})
		}},
		{"emailalertstatus all", "emailalertstatus=all\n" + vblock, func(t *testing.T, c *Config) {
			ptEq(t, "EmailAlertStatus", c.Virtuals[0].EmailAlertStatus, []string{"starting", "running", "stopping", "reloading"})
		}},
		{"emailalertstatus none", "emailalertstatus=none\n" + vblock, func(t *testing.T, c *Config) {
			ptEq(t, "EmailAlertStatus", c.Virtuals[0].EmailAlertStatus, []string{})
		}},
		{"emailalertstatus trailing comma", "emailalertstatus=starting,\n" + vblock, func(t *testing.T, c *Config) {
			ptEq(t, "EmailAlertStatus", c.Virtuals[0].EmailAlertStatus, []string{"starting"})
		}},
		{"emailalertfrom", "emailalertfrom=LVS <lvs@x.test>\n", func(t *testing.T, c *Config) {
			ptEq(t, "EmailAlertFrom", c.Global.EmailAlertFrom, "LVS <lvs@x.test>")
		}},
		{"smtp", "smtp=mail.x.test\n" + vblock, func(t *testing.T, c *Config) { ptEq(t, "SMTP", c.Virtuals[0].SMTP, "mail.x.test") }},
		{"smtp comment", "smtp=10.0.0.25 # relay\n" + vblock, func(t *testing.T, c *Config) { ptEq(t, "SMTP", c.Virtuals[0].SMTP, "10.0.0.25") }},
		{"maintenancedir", "maintenancedir=/etc/ha.d/maintenance\n", func(t *testing.T, c *Config) {
			ptEq(t, "MaintenanceDir", c.Global.MaintenanceDir, "/etc/ha.d/maintenance")
		}},
		{"maintenancedir missing dir is fine", "maintenancedir=/nonexistent/dir\n", func(t *testing.T, c *Config) {
			ptEq(t, "MaintenanceDir", c.Global.MaintenanceDir, "/nonexistent/dir")
		}},
		{"fallbackcommand keeps quotes", `fallbackcommand="/x/fb.sh" -v` + "\n" + vblock, func(t *testing.T, c *Config) {
			ptEq(t, "FallbackCommand", c.Virtuals[0].FallbackCommand, `"/x/fb.sh" -v`)
		}},
		{"comments and blank lines", "# comment\n\n   # indented comment\n   \t\nautoreload=yes\n", func(t *testing.T, c *Config) {
			ptEq(t, "AutoReload", c.Global.AutoReload, true)
		}},
		{"last line without newline", "fork=yes", func(t *testing.T, c *Config) { ptEq(t, "Fork", c.Global.Fork, true) }},
		{"empty file", "", func(t *testing.T, c *Config) { ptEq(t, "Virtuals", len(c.Virtuals), 0) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, ptParse(t, tc.src)) })
	}
}

// TestGlobalAfterVirtual: globals are defaults applied once the whole file
// has been read, so a global line after a virtual block still applies to it.
func TestGlobalAfterVirtual(t *testing.T) {
	c := ptParse(t, `virtual=192.0.2.1:80
	real=10.0.0.1 gate
virtual=192.0.2.2:80
	real=10.0.0.2 gate
	quiescent=no
	checktimeout=2
quiescent=yes
checktimeout=8
negotiatetimeout=20
checkinterval=4
failurecount=3
cleanstop=no
emailalert=ops@x.test
smtp=mail.x.test
fallback=10.0.0.99:8080 masq
fallbackcommand=/bin/fb
`)
	v1, v2 := c.Virtuals[0], c.Virtuals[1]
	ptEq(t, "v1.Quiescent", v1.Quiescent, true)
	ptEq(t, "v2.Quiescent", v2.Quiescent, false)
	ptEq(t, "v1.Timeout", v1.Check.Timeout, 8*time.Second)
	ptEq(t, "v1.NegotiateTimeout", v1.Check.NegotiateTimeout, 20*time.Second)
	// The virtual's checktimeout comes before the global negotiatetimeout.
	ptEq(t, "v2.Timeout", v2.Check.Timeout, 2*time.Second)
	ptEq(t, "v2.NegotiateTimeout", v2.Check.NegotiateTimeout, 2*time.Second)
	ptEq(t, "v1.Interval", v1.Check.Interval, 4*time.Second)
	ptEq(t, "v1.FailureCount", v1.Check.FailureCount, 3)
	ptEq(t, "v1.CleanStop", v1.CleanStop, false)
	ptEq(t, "v1.EmailAlert", v1.EmailAlert, []string{"ops@x.test"})
	ptEq(t, "v2.SMTP", v2.SMTP, "mail.x.test")
	fb := ptDest("10.0.0.99", 8080, ipvs.Masq, 1)
	ptEq(t, "v1.Fallback", v1.Fallback, &fb)
	ptEq(t, "v2.FallbackCommand", v2.FallbackCommand, "/bin/fb")
}

func TestTimeoutChains(t *testing.T) {
	cases := []struct {
		global, virtual string
		check, neg      int
	}{
		{"", "", 5, 30},
		{"checktimeout=3\n", "", 3, 3},
		{"negotiatetimeout=12\n", "", 12, 12},
		{"checktimeout=3\nnegotiatetimeout=12\n", "", 3, 12},
		{"", "\tchecktimeout=4\n", 4, 4},
		{"", "\tnegotiatetimeout=15\n", 15, 15},
		{"", "\tchecktimeout=4\n\tnegotiatetimeout=15\n", 4, 15},
		{"checktimeout=3\nnegotiatetimeout=12\n", "\tnegotiatetimeout=15\n", 15, 15},
		{"checktimeout=3\nnegotiatetimeout=12\n", "\tchecktimeout=4\n", 4, 4},
		{"negotiatetimeout=12\n", "\tchecktimeout=4\n", 4, 4},
		{"checktimeout=3\n", "\tnegotiatetimeout=15\n", 15, 15},
	}
	for _, tc := range cases {
		src := tc.global + "virtual=192.0.2.1:80\n\treal=10.0.0.1 gate\n" + tc.virtual
		v := ptOne(t, src)
		if v.Check.Timeout != time.Duration(tc.check)*time.Second || v.Check.NegotiateTimeout != time.Duration(tc.neg)*time.Second {
			t.Errorf("%q: timeout %v, negotiate %v; want %ds, %ds", src, v.Check.Timeout, v.Check.NegotiateTimeout, tc.check, tc.neg)
		}
	}
}

func TestPerVirtualOverrides(t *testing.T) {
	c := ptParse(t, `checkinterval=10
checkcount=2
failurecount=2
quiescent=no
cleanstop=yes
emailalert=g@x.test
emailalertfreq=10
emailalertstatus=all
smtp=g.x.test
fallbackcommand=/bin/global
virtual=192.0.2.1:80
	real=10.0.0.1 gate
	checkinterval=3
	checkcount=5
	failurecount=6
	quiescent=yes
	cleanstop=no
	emailalert="v@x.test"
	emailalertfreq=30
	emailalertstatus=starting,stopping
	smtp=v.x.test
	fallbackcommand="/bin/virtual arg"
virtual=192.0.2.2:80
	real=10.0.0.1 gate
`)
	v, d := c.Virtuals[0], c.Virtuals[1]
	ptEq(t, "Interval", v.Check.Interval, 3*time.Second)
	ptEq(t, "Count", v.Check.Count, 5)
	ptEq(t, "FailureCount", v.Check.FailureCount, 6)
	ptEq(t, "Quiescent", v.Quiescent, true)
	ptEq(t, "CleanStop", v.CleanStop, false)
	ptEq(t, "EmailAlert", v.EmailAlert, []string{"v@x.test"})
	ptEq(t, "EmailAlertFreq", v.EmailAlertFreq, 30*time.Second)
	ptEq(t, "EmailAlertStatus", v.EmailAlertStatus, []string{"starting", "stopping"})
	ptEq(t, "SMTP", v.SMTP, "v.x.test")
	ptEq(t, "FallbackCommand", v.FallbackCommand, "/bin/virtual arg")

	ptEq(t, "default Interval", d.Check.Interval, 10*time.Second)
	ptEq(t, "default Count", d.Check.Count, 2)
	ptEq(t, "default FailureCount", d.Check.FailureCount, 2)
	ptEq(t, "default Quiescent", d.Quiescent, false)
	ptEq(t, "default CleanStop", d.CleanStop, true)
	ptEq(t, "default EmailAlert", d.EmailAlert, []string{"g@x.test"})
	ptEq(t, "default EmailAlertFreq", d.EmailAlertFreq, 10*time.Second)
	ptEq(t, "default SMTP", d.SMTP, "g.x.test")
	ptEq(t, "default FallbackCommand", d.FallbackCommand, "/bin/global")
}

func TestVirtualDirectives(t *testing.T) {
	const head = "virtual=192.0.2.1:80\n\treal=10.0.0.1 gate\n"
	cases := []struct {
		name, body string
		check      func(t *testing.T, v *Virtual)
	}{
		{"request adds slash", "\trequest=\"index.html\"\n", func(t *testing.T, v *Virtual) { ptEq(t, "Request", v.Check.Request, "/index.html") }},
		{"request keeps slash", "\trequest=\"/x?y=1\"\n", func(t *testing.T, v *Virtual) { ptEq(t, "Request", v.Check.Request, "/x?y=1") }},
		{"request greedy quotes", "\trequest=\"/a\" \"b\"\n", func(t *testing.T, v *Virtual) { ptEq(t, "Request", v.Check.Request, `/a" "b`) }},
		{"receive", "\treceive=\"^HTTP/1\\.[01] 200\"\n", func(t *testing.T, v *Virtual) {
			ptEq(t, "Receive", v.Check.Receive, `^HTTP/1\.[01] 200`)
			if !v.Check.ReceiveRE.MatchString("HTTP/1.1 200 OK") {
				t.Error("ReceiveRE does not match")
			}
		}},
		{"checktype connect", "\tchecktype=connect\n", func(t *testing.T, v *Virtual) { ptEq(t, "Type", v.Check.Type, "connect") }},
		{"checktype trailing space", "\tchecktype=ping  \n", func(t *testing.T, v *Virtual) { ptEq(t, "Type", v.Check.Type, "ping") }},
		{"checktype comment", "\tchecktype=off # for now\n", func(t *testing.T, v *Virtual) { ptEq(t, "Type", v.Check.Type, "off") }},
		{"checktype on", "\tchecktype=on\n", func(t *testing.T, v *Virtual) { ptEq(t, "Type", v.Check.Type, "on") }},
		{"checktype external", "\tchecktype=external\n", func(t *testing.T, v *Virtual) { ptEq(t, "Type", v.Check.Type, "external") }},
		{"checktype external-perl", "\tchecktype=external-perl\n", func(t *testing.T, v *Virtual) { ptEq(t, "Type", v.Check.Type, "external-perl") }},
		{"checktype negotiate", "\tchecktype=connect\n\tchecktype=negotiate\n", func(t *testing.T, v *Virtual) { ptEq(t, "Type", v.Check.Type, "negotiate") }},
		{"checktype number", "\tchecktype=5\n", func(t *testing.T, v *Virtual) {
			ptEq(t, "Type", v.Check.Type, "combined")
			ptEq(t, "CombinedN", v.Check.CombinedN, 5)
		}},
		{"checktype 0", "\tchecktype=0\n", func(t *testing.T, v *Virtual) {
			ptEq(t, "Type", v.Check.Type, "combined")
			ptEq(t, "CombinedN", v.Check.CombinedN, 0)
		}},
		{"checkcommand", "\tcheckcommand=/usr/local/bin/chk\n", func(t *testing.T, v *Virtual) { ptEq(t, "Command", v.Check.Command, "/usr/local/bin/chk") }},
		{"checkcommand quoted", "\tcheckcommand=\"/opt/my check\"\n", func(t *testing.T, v *Virtual) { ptEq(t, "Command", v.Check.Command, "/opt/my check") }},
		{"checkport", "\tcheckport=8081\n", func(t *testing.T, v *Virtual) { ptEq(t, "Port", v.Check.Port, uint16(8081)) }},
		{"login passwd database secret", "\tlogin=\"u\"\n\tpasswd=\"p w\"\n\tdatabase=\"db\"\n\tsecret=\"s\"\n", func(t *testing.T, v *Virtual) {
			ptEq(t, "creds", []string{v.Check.Login, v.Check.Passwd, v.Check.Database, v.Check.Secret}, []string{"u", "p w", "db", "s"})
		}},
		{"load", "\tload=\"cpu\"\n", func(t *testing.T, v *Virtual) {}},
		{"scheduler", "\tscheduler=sh\n", func(t *testing.T, v *Virtual) { ptEq(t, "Scheduler", v.Service.Scheduler, "sh") }},
		{"scheduler twos", "\tscheduler=twos  \n", func(t *testing.T, v *Virtual) { ptEq(t, "Scheduler", v.Service.Scheduler, "twos") }},
		{"persistent", "\tpersistent=600\n", func(t *testing.T, v *Virtual) {
			ptEq(t, "Flags", v.Service.Flags, ipvs.FlagPersistent)
			ptEq(t, "Timeout", v.Service.Timeout, uint32(600))
			ptEq(t, "Netmask", v.Service.Netmask, uint32(0xffffffff))
		}},
		{"persistent netmask", "\tnetmask=255.255.255.0\n\tpersistent=60\n", func(t *testing.T, v *Virtual) {
			ptEq(t, "Netmask", v.Service.Netmask, uint32(0xffffff00))
		}},
		{"netmask without persistent", "\tnetmask=255.255.0.0\n", func(t *testing.T, v *Virtual) {
			ptEq(t, "Flags", v.Service.Flags, uint32(0))
			ptEq(t, "Netmask", v.Service.Netmask, uint32(0xffffffff))
		}},
		{"schedflags", "\tschedflags=flag-1,flag-3\n", func(t *testing.T, v *Virtual) {
			ptEq(t, "Flags", v.Service.Flags, ipvs.FlagSched1|ipvs.FlagSched3)
		}},
		{"schedflags sh", "\tschedflags=sh-fallback,sh-port\n\tscheduler=sh\n", func(t *testing.T, v *Virtual) {
			ptEq(t, "Flags", v.Service.Flags, ipvs.FlagSched1|ipvs.FlagSched2)
		}},
		{"schedflags mh", "\tscheduler=mh\n\tschedflags=mh-port\n", func(t *testing.T, v *Virtual) {
			ptEq(t, "Flags", v.Service.Flags, ipvs.FlagSched2)
		}},
		{"protocol udp", "\tprotocol=udp\n", func(t *testing.T, v *Virtual) {
			ptEq(t, "Protocol", v.Service.Protocol, ipvs.UDP)
			ptEq(t, "ID", v.ID(), "udp:192.0.2.1:80")
		}},
		{"ops tcp ignored", "\tops=yes\n", func(t *testing.T, v *Virtual) { ptEq(t, "Flags", v.Service.Flags, uint32(0)) }},
		{"ops udp", "\tops=yes\n\tprotocol=udp\n", func(t *testing.T, v *Virtual) { ptEq(t, "Flags", v.Service.Flags, ipvs.FlagOnePacket) }},
		{"ops no", "\tprotocol=udp\n\tops=no\n", func(t *testing.T, v *Virtual) { ptEq(t, "Flags", v.Service.Flags, uint32(0)) }},
		{"service", "\tservice=https\n", func(t *testing.T, v *Virtual) { ptEq(t, "Service", v.Check.Service, "https") }},
		{"service oracle", "\tservice=oracle\n", func(t *testing.T, v *Virtual) { ptEq(t, "Service", v.Check.Service, "oracle") }},
		{"service ftp defaults", "\tservice=ftp\n", func(t *testing.T, v *Virtual) {
			ptEq(t, "Login", v.Check.Login, "anonymous")
			ptEq(t, "Passwd", v.Check.Passwd, "ldirectord@director.test")
		}},
		{"service ftp keeps login", "\tlogin=\"bob\"\n\tservice=ftp\n", func(t *testing.T, v *Virtual) {
			ptEq(t, "Login", v.Check.Login, "bob")
			ptEq(t, "Passwd", v.Check.Passwd, "ldirectord@director.test")
		}},
		{"service ftp then login", "\tservice=ftp\n\tlogin=\"bob\"\n\tpasswd=\"pw\"\n", func(t *testing.T, v *Virtual) {
			ptEq(t, "Login", v.Check.Login, "bob")
			ptEq(t, "Passwd", v.Check.Passwd, "pw")
		}},
		{"service sip", "\tservice=sip\n", func(t *testing.T, v *Virtual) {
			ptEq(t, "Login", v.Check.Login, "ldirectord@director.test")
			ptEq(t, "Passwd", v.Check.Passwd, "")
		}},
		{"httpmethod", "\thttpmethod=head\n", func(t *testing.T, v *Virtual) { ptEq(t, "HTTPMethod", v.Check.HTTPMethod, "HEAD") }},
		{"httpmethod get", "\thttpmethod=Get\n", func(t *testing.T, v *Virtual) { ptEq(t, "HTTPMethod", v.Check.HTTPMethod, "GET") }},
		{"virtualhost", "\tvirtualhost=www.x.test\n", func(t *testing.T, v *Virtual) { ptEq(t, "VirtualHost", v.Check.VirtualHost, "www.x.test") }},
		{"virtualhost quoted", "\tvirtualhost=\"www.x.test\"\n", func(t *testing.T, v *Virtual) { ptEq(t, "VirtualHost", v.Check.VirtualHost, "www.x.test") }},
		{"fallback", "\tfallback=127.0.0.1:8080 masq\n", func(t *testing.T, v *Virtual) {
			fb := ptDest("127.0.0.1", 8080, ipvs.Masq, 1)
			ptEq(t, "Fallback", v.Fallback, &fb)
		}},
		{"fallbackcommand", "\tfallbackcommand=/bin/fb --x\n", func(t *testing.T, v *Virtual) { ptEq(t, "FallbackCommand", v.FallbackCommand, "/bin/fb --x") }},
		{"quiescent cleanstop", "\tquiescent=yes\n\tcleanstop=no\n", func(t *testing.T, v *Virtual) {
			ptEq(t, "Quiescent", v.Quiescent, true)
			ptEq(t, "CleanStop", v.CleanStop, false)
		}},
		{"emailalertstatus none", "\temailalertstatus=none\n", func(t *testing.T, v *Virtual) { ptEq(t, "EmailAlertStatus", v.EmailAlertStatus, []string{}) }},
		{"servicename comment", "\tservicename=Web shop\n\tcomment=front end\n", func(t *testing.T, v *Virtual) {
			ptEq(t, "ServiceName", v.ServiceName, "Web shop")
			ptEq(t, "Comment", v.Comment, "front end")
		}},
		{"negotiatetimeout checkcount failurecount checkinterval", "\tnegotiatetimeout=6\n\tcheckcount=2\n\tfailurecount=3\n\tcheckinterval=7\n", func(t *testing.T, v *Virtual) {
			ptEq(t, "NegotiateTimeout", v.Check.NegotiateTimeout, 6*time.Second)
			ptEq(t, "Count", v.Check.Count, 2)
			ptEq(t, "FailureCount", v.Check.FailureCount, 3)
			ptEq(t, "Interval", v.Check.Interval, 7*time.Second)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, ptOne(t, head+tc.body)) })
	}
}

func TestMonitorFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mon.log")
	v := ptOne(t, "virtual=192.0.2.1:80\n\treal=10.0.0.1 gate\n\tmonitorfile=\""+path+"\"\n")
	ptEq(t, "MonitorFile", v.MonitorFile, path)
	if _, err := os.Stat(path); err != nil {
		t.Errorf("monitorfile not created: %v", err)
	}
	v = ptOne(t, "virtual=192.0.2.1:80\n\treal=10.0.0.1 gate\n\tmonitorfile="+path+"  \n")
	ptEq(t, "MonitorFile unquoted", v.MonitorFile, path)

	_, err := Parse("m.cf", strings.NewReader("virtual=192.0.2.1:80\n\treal=10.0.0.1 gate\n\tmonitorfile="+filepath.Join(dir, "no/such/dir/x")+"\n"), ptOpts)
	ptWantErr(t, err, 3, "unable to open monitorfile")
}

func TestVirtualForms(t *testing.T) {
	cases := []struct {
		src  string
		key  ipvs.ServiceKey
		svc  string
		mask uint32
	}{
		{"virtual=192.0.2.1:80\n", ipvs.ServiceKey{Family: ipvs.INET, Protocol: ipvs.TCP, Addr: ptAddr("192.0.2.1"), Port: 80}, "http", 0xffffffff},
		{"virtual = 192.0.2.1:443 # tls\n", ipvs.ServiceKey{Family: ipvs.INET, Protocol: ipvs.TCP, Addr: ptAddr("192.0.2.1"), Port: 443}, "https", 0xffffffff},
		{"virtual=192.0.2.1:http\n", ipvs.ServiceKey{Family: ipvs.INET, Protocol: ipvs.TCP, Addr: ptAddr("192.0.2.1"), Port: 80}, "http", 0xffffffff},
		{"virtual=192.0.2.1:53\n", ipvs.ServiceKey{Family: ipvs.INET, Protocol: ipvs.UDP, Addr: ptAddr("192.0.2.1"), Port: 53}, "dns", 0xffffffff},
		{"virtual=192.0.2.1:domain\n", ipvs.ServiceKey{Family: ipvs.INET, Protocol: ipvs.UDP, Addr: ptAddr("192.0.2.1"), Port: 53}, "dns", 0xffffffff},
		{"virtual=192.0.2.1:53\n\tprotocol=tcp\n", ipvs.ServiceKey{Family: ipvs.INET, Protocol: ipvs.TCP, Addr: ptAddr("192.0.2.1"), Port: 53}, "dns", 0xffffffff},
		{"virtual=192.0.2.1:syslog\n\tprotocol=udp\n", ipvs.ServiceKey{Family: ipvs.INET, Protocol: ipvs.UDP, Addr: ptAddr("192.0.2.1"), Port: 514}, "none", 0xffffffff},
		{"virtual=vip.test:25\n", ipvs.ServiceKey{Family: ipvs.INET, Protocol: ipvs.TCP, Addr: ptAddr("192.0.2.10"), Port: 25}, "smtp", 0xffffffff},
		{"virtual=192.0.2.1:0\n\tpersistent=60\n", ipvs.ServiceKey{Family: ipvs.INET, Protocol: ipvs.TCP, Addr: ptAddr("192.0.2.1"), Port: 0}, "none", 0xffffffff},
		{"virtual=42\n", ipvs.ServiceKey{Family: ipvs.INET, FWMark: 42}, "none", 0xffffffff},
		{"virtual=42\n\tprotocol=fwm\n\tservice=http\n", ipvs.ServiceKey{Family: ipvs.INET, FWMark: 42}, "http", 0xffffffff},
		{"virtual6=[2001:db8::1]:80\n", ipvs.ServiceKey{Family: ipvs.INET6, Protocol: ipvs.TCP, Addr: ptAddr("2001:db8::1"), Port: 80}, "http", 128},
		{"virtual6=[2001:db8::1]:80\n\tpersistent=10\n\tnetmask=64\n", ipvs.ServiceKey{Family: ipvs.INET6, Protocol: ipvs.TCP, Addr: ptAddr("2001:db8::1"), Port: 80}, "http", 64},
		{"virtual6=vip.test:443\n", ipvs.ServiceKey{Family: ipvs.INET6, Protocol: ipvs.TCP, Addr: ptAddr("2001:db8::10"), Port: 443}, "https", 128},
		{"virtual6=7\n", ipvs.ServiceKey{Family: ipvs.INET6, FWMark: 7}, "none", 128},
	}
	ports := map[uint16]string{21: "ftp", 25: "smtp", 53: "dns", 80: "http", 110: "pop", 119: "nntp", 143: "imap",
		389: "ldap", 443: "https", 587: "submission", 636: "ldaps", 993: "imaps", 995: "pops", 1521: "oracle",
		1812: "radius", 3128: "http_proxy", 3306: "mysql", 5060: "sip", 5432: "pgsql", 8080: "none", 22: "none"}
	for port, svc := range ports {
		proto := ipvs.TCP
		if port == 53 {
			proto = ipvs.UDP
		}
		cases = append(cases, struct {
			src  string
			key  ipvs.ServiceKey
			svc  string
			mask uint32
		}{fmt.Sprintf("virtual=192.0.2.1:%d\n", port), ipvs.ServiceKey{Family: ipvs.INET, Protocol: proto, Addr: ptAddr("192.0.2.1"), Port: port}, svc, 0xffffffff})
	}
	for _, tc := range cases {
		v := ptOne(t, tc.src)
		if v.Service.ServiceKey != tc.key || v.Check.Service != tc.svc || v.Service.Netmask != tc.mask {
			t.Errorf("%q: key %+v service %q netmask %#x; want %+v %q %#x", tc.src, v.Service.ServiceKey, v.Check.Service, v.Service.Netmask, tc.key, tc.svc, tc.mask)
		}
		if err := v.Service.ServiceKey.Validate(); err != nil {
			t.Errorf("%q: %v", tc.src, err)
		}
	}
	v := ptOne(t, "virtual6=9\n")
	ptEq(t, "fwm6 ID", v.ID(), "fwm6:9")
}

func TestReals(t *testing.T) {
	cases := []struct {
		name, src string
		want      []ipvs.Destination
	}{
		{"gate takes the virtual port", "virtual=192.0.2.1:80\n\treal=10.0.0.1:8080 gate\n", []ipvs.Destination{ptDest("10.0.0.1", 80, ipvs.Route, 1)}},
		{"ipip takes the virtual port", "virtual=192.0.2.1:80\n\treal=10.0.0.1:8080 ipip 2\n", []ipvs.Destination{ptDest("10.0.0.1", 80, ipvs.Tunnel, 2)}},
		{"masq keeps its port", "virtual=192.0.2.1:80\n\treal=10.0.0.1:8080 masq 0\n", []ipvs.Destination{ptDest("10.0.0.1", 8080, ipvs.Masq, 0)}},
		{"masq without port", "virtual=192.0.2.1:80\n\treal=10.0.0.1 masq\n", []ipvs.Destination{ptDest("10.0.0.1", 0, ipvs.Masq, 1)}},
		{"masq port 0", "virtual=192.0.2.1:80\n\treal=10.0.0.1:0 masq\n", []ipvs.Destination{ptDest("10.0.0.1", 0, ipvs.Masq, 1)}},
		{"fwmark keeps port", "virtual=5\n\treal=10.0.0.1:8080 gate\n\treal=10.0.0.2 masq\n", []ipvs.Destination{
			ptDest("10.0.0.1", 8080, ipvs.Route, 1), ptDest("10.0.0.2", 0, ipvs.Masq, 1)}},
		{"port name", "virtual=192.0.2.1:8443\n\treal=10.0.0.1:https masq\n", []ipvs.Destination{ptDest("10.0.0.1", 443, ipvs.Masq, 1)}},
		{"udp-only port name", "virtual=192.0.2.1:514\n\tprotocol=udp\n\treal=10.0.0.1:syslog masq\n", []ipvs.Destination{ptDest("10.0.0.1", 514, ipvs.Masq, 1)}},
		{"hostname", "virtual=192.0.2.1:80\n\treal=web1.test gate\n\treal=web2.test:80 gate 3\n", []ipvs.Destination{
			ptDest("10.1.0.1", 80, ipvs.Route, 1), ptDest("10.1.0.2", 80, ipvs.Route, 3)}},
		{"v4-mapped resolver answer", "virtual=192.0.2.1:80\n\treal=mapped gate\n", []ipvs.Destination{ptDest("10.3.0.1", 80, ipvs.Route, 1)}},
		{"range", "virtual=192.0.2.1:80\n\treal=10.0.0.254->10.0.1.1:80 masq 2\n", []ipvs.Destination{
			ptDest("10.0.0.254", 80, ipvs.Masq, 2), ptDest("10.0.0.255", 80, ipvs.Masq, 2),
			ptDest("10.0.1.0", 80, ipvs.Masq, 2), ptDest("10.0.1.1", 80, ipvs.Masq, 2)}},
		{"range of one", "virtual=192.0.2.1:80\n\treal=10.0.0.7->10.0.0.7 gate\n", []ipvs.Destination{ptDest("10.0.0.7", 80, ipvs.Route, 1)}},
		{"range of host names", "virtual=192.0.2.1:80\n\treal=r1.test->r3.test gate\n", []ipvs.Destination{
			ptDest("10.2.0.1", 80, ipvs.Route, 1), ptDest("10.2.0.2", 80, ipvs.Route, 1), ptDest("10.2.0.3", 80, ipvs.Route, 1)}},
		{"thresholds", "virtual=192.0.2.1:80\n\treal=10.0.0.1 gate 5 l:10 u:100\n", []ipvs.Destination{{
			DestKey: ipvs.DestKey{Addr: ptAddr("10.0.0.1"), Port: 80}, Fwd: ipvs.Route, Weight: 5, LThreshold: 10, UThreshold: 100}}},
		{"upper threshold only", "virtual=192.0.2.1:80\n\treal=10.0.0.1 gate u:7\n", []ipvs.Destination{{
			DestKey: ipvs.DestKey{Addr: ptAddr("10.0.0.1"), Port: 80}, Fwd: ipvs.Route, Weight: 1, UThreshold: 7}}},
		{"trailing spaces and comment", "virtual=192.0.2.1:80\n    real = 10.0.0.1 gate 4   # primary\n", []ipvs.Destination{ptDest("10.0.0.1", 80, ipvs.Route, 4)}},
		{"ipv6", "virtual6=[2001:db8::1]:80\n\treal6=[2001:db8::a]:8080 masq\n\treal6=[2001:db8::b] gate\n\treal6=web1.test gate 2\n", []ipvs.Destination{
			ptDest("2001:db8::a", 8080, ipvs.Masq, 1), ptDest("2001:db8::b", 80, ipvs.Route, 1), ptDest("2001:db8::1", 80, ipvs.Route, 2)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := ptOne(t, tc.src)
			ptEq(t, "reals", ptDests(v), tc.want)
		})
	}
}

func TestRealRequestReceive(t *testing.T) {
	v := ptOne(t, `virtual=192.0.2.1:80
	real=10.0.0.1 gate 2 "health.html", "^ok$"
	real=10.0.0.2 gate "/a" "b" l:1 u:2
	real=10.0.0.3->10.0.0.4 masq "x","y"
	real=10.0.0.5 gate
	request="/default"
	receive="up"
`)
	type rr struct{ req, recv, re string }
	var got []rr
	for _, r := range v.Reals {
		re := "<nil>"
		if r.ReceiveRE != nil {
			re = r.ReceiveRE.String()
		}
		got = append(got, rr{r.Request, r.Receive, re})
	}
	ptEq(t, "per-real", got, []rr{
		{"/health.html", "^ok$", "^ok$"}, {"/a", "b", "b"}, {"/x", "y", "y"}, {"/x", "y", "y"}, {"", "", "<nil>"},
	})
	ptEq(t, "weights", []int32{v.Reals[0].Dest.Weight, v.Reals[1].Dest.Weight}, []int32{2, 1})
	ptEq(t, "thresholds", []uint32{v.Reals[1].Dest.LThreshold, v.Reals[1].Dest.UThreshold}, []uint32{1, 2})
	ptEq(t, "virtual request", v.Check.Request, "/default")

	// An empty pair is allowed: request "/" and no receive pattern.
	v = ptOne(t, "virtual=192.0.2.1:80\n\treal=10.0.0.1 gate \"\", \"\"\n")
	ptEq(t, "empty pair", []string{v.Reals[0].Request, v.Reals[0].Receive}, []string{"/", ""})
	ptEq(t, "empty pair RE", v.Reals[0].ReceiveRE == nil, true)
}

func TestFallback(t *testing.T) {
	cases := []struct {
		name, src string
		want      []*ipvs.Destination // per virtual
	}{
		{"global port omitted gets the virtual's", "fallback=10.0.0.9 masq\nvirtual=192.0.2.1:8080\nvirtual=192.0.2.2:443\n",
			[]*ipvs.Destination{ptDestP("10.0.0.9", 8080, ipvs.Masq), ptDestP("10.0.0.9", 443, ipvs.Masq)}},
		{"global gate maps to the virtual port", "fallback=10.0.0.9:8090\nvirtual=192.0.2.1:80\n",
			[]*ipvs.Destination{ptDestP("10.0.0.9", 80, ipvs.Route)}},
		{"global masq keeps its port", "fallback=10.0.0.9:8090 masq\nvirtual=192.0.2.1:80\n",
			[]*ipvs.Destination{ptDestP("10.0.0.9", 8090, ipvs.Masq)}},
		{"global ipip", "fallback=fb.test:http ipip\nvirtual=192.0.2.1:8080\n",
			[]*ipvs.Destination{ptDestP("10.9.9.9", 8080, ipvs.Tunnel)}},
		{"global port name per protocol", "fallback=10.0.0.9:domain masq\nvirtual=192.0.2.1:53\nvirtual=192.0.2.1:53\n\tprotocol=tcp\n",
			[]*ipvs.Destination{ptDestP("10.0.0.9", 53, ipvs.Masq), ptDestP("10.0.0.9", 53, ipvs.Masq)}},
		{"virtual overrides global", "fallback=10.0.0.9\nvirtual=192.0.2.1:80\n\tfallback=127.0.0.1:81 masq\nvirtual=192.0.2.2:80\n",
			[]*ipvs.Destination{ptDestP("127.0.0.1", 81, ipvs.Masq), ptDestP("10.0.0.9", 80, ipvs.Route)}},
		{"family: fallback6 for virtual6", "fallback=10.0.0.9\nfallback6=[2001:db8::9]:8080 masq\nvirtual=192.0.2.1:80\nvirtual6=[2001:db8::1]:80\n",
			[]*ipvs.Destination{ptDestP("10.0.0.9", 80, ipvs.Route), ptDestP("2001:db8::9", 8080, ipvs.Masq)}},
		{"no fallback6: IPv6 virtual has none", "fallback=10.0.0.9\nvirtual6=[2001:db8::1]:80\n",
			[]*ipvs.Destination{nil}},
		{"fallback6 host name", "fallback6=fb.test gate\nvirtual6=[2001:db8::1]:80\n",
			[]*ipvs.Destination{ptDestP("2001:db8::99", 80, ipvs.Route)}},
		{"virtual6 own fallback6", "virtual6=[2001:db8::1]:80\n\tfallback6=[::1]:8080 masq\n",
			[]*ipvs.Destination{ptDestP("::1", 8080, ipvs.Masq)}},
		{"fwmark: no global fallback", "fallback=10.0.0.9:80\nvirtual=5\n",
			[]*ipvs.Destination{nil}},
		{"fwmark own fallback keeps port", "virtual=5\n\tfallback=10.0.0.9:8080 gate\nvirtual=6\n\tfallback=10.0.0.9\n",
			[]*ipvs.Destination{ptDestP("10.0.0.9", 8080, ipvs.Route), ptDestP("10.0.0.9", 0, ipvs.Route)}},
		{"global after the virtual", "virtual=192.0.2.1:80\n\treal=10.0.0.1 gate\nfallback=127.0.0.1:80\n",
			[]*ipvs.Destination{ptDestP("127.0.0.1", 80, ipvs.Route)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ptParse(t, tc.src)
			var got []*ipvs.Destination
			for _, v := range c.Virtuals {
				got = append(got, v.Fallback)
			}
			ptEq(t, "fallbacks", got, tc.want)
		})
	}
}

func ptDestP(addr string, port uint16, fwd ipvs.Fwd) *ipvs.Destination {
	d := ptDest(addr, port, fwd, 1)
	return &d
}

func TestLexical(t *testing.T) {
	t.Run("tab and spaces indentation", func(t *testing.T) {
		v := ptOne(t, "virtual=192.0.2.1:80\n\treal=10.0.0.1 gate\n    real=10.0.0.2 gate\n \treal=10.0.0.3 gate\n\t\t  scheduler=rr\n")
		ptEq(t, "reals", len(v.Reals), 3)
		ptEq(t, "scheduler", v.Service.Scheduler, "rr")
	})
	t.Run("comments inside a block", func(t *testing.T) {
		c := ptParse(t, "virtual=192.0.2.1:80\n# unindented comment does not end the block\n\treal=10.0.0.1 gate # primary\n  # two-space comment\n\tservice=none#x\n")
		v := c.Virtuals[0]
		ptEq(t, "reals", len(v.Reals), 1)
		ptEq(t, "service", v.Check.Service, "none")
	})
	t.Run("blank line ends the block", func(t *testing.T) {
		c := ptParse(t, "virtual=192.0.2.1:80\n\treal=10.0.0.1 gate\n\nquiescent=yes\n")
		ptEq(t, "Quiescent", c.Virtuals[0].Quiescent, true)
	})
	t.Run("tab-only line ends the block", func(t *testing.T) {
		c := ptParse(t, "virtual=192.0.2.1:80\n\treal=10.0.0.1 gate\n\t\nfork=yes\n")
		ptEq(t, "Fork", c.Global.Fork, true)
	})
	t.Run("four-space line ends the block", func(t *testing.T) {
		ptParse(t, "virtual=192.0.2.1:80\n\treal=10.0.0.1 gate\n    \nfork=yes\n")
	})
	t.Run("unindented line ends the block and is a global", func(t *testing.T) {
		c := ptParse(t, "virtual=192.0.2.1:80\n\treal=10.0.0.1 gate\ncleanstop=no\nvirtual=192.0.2.2:80\n\treal=10.0.0.1 gate\n")
		ptEq(t, "virtuals", len(c.Virtuals), 2)
		ptEq(t, "CleanStop", c.Virtuals[1].CleanStop, false)
	})
	t.Run("virtual directly after virtual", func(t *testing.T) {
		c := ptParse(t, "virtual=192.0.2.1:80\nvirtual=192.0.2.2:80\n\treal=10.0.0.1 gate\n")
		ptEq(t, "virtuals", len(c.Virtuals), 2)
		ptEq(t, "reals", []int{len(c.Virtuals[0].Reals), len(c.Virtuals[1].Reals)}, []int{0, 1})
	})
	t.Run("comment after a global number", func(t *testing.T) {
		c := ptParse(t, "checkinterval=5# five\nfailurecount=2   \n")
		_ = c
	})
	t.Run("CRLF ends nothing but is whitespace after numbers", func(t *testing.T) {
		v := ptOne(t, "checktimeout=3\r\nvirtual=192.0.2.1:80\r\n\treal=10.0.0.1 gate\r\n\tchecktype=connect\r\n")
		ptEq(t, "Type", v.Check.Type, "connect")
		ptEq(t, "Timeout", v.Check.Timeout, 3*time.Second)
	})
}

func ptWantErr(t *testing.T, err error, line int, substr string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want *Error at line %d containing %q", err, err, line, substr)
	}
	if e.Line != line || !strings.Contains(e.Msg, substr) || e.File == "" {
		t.Errorf("error %q at line %d, want line %d containing %q", e.Msg, e.Line, line, substr)
	}
}

const (
	ptVH  = "virtual=192.0.2.1:80\n" // line 1
	ptV6H = "virtual6=[2001:db8::1]:80\n"
)

// ptErrorCases are inputs that must fail at line with a message containing
// substr (they also seed FuzzParse).
var ptErrorCases = []struct {
	src    string
	line   int
	substr string
}{
	// lexical
	{" quiescent=yes\n", 1, "Unknown command"},
	{"quiescent=yes # c\n", 1, "quiescent must be 'yes' or 'no'"},
	{"quiescent=yes \n", 1, "quiescent must be 'yes' or 'no'"},
	{"quiescent=Yes\n", 1, "quiescent must be 'yes' or 'no'"},
	{ptVH + "\treal=10.0.0.1 gate\n\n\tscheduler=rr\n", 4, "ended at the blank line 3"},
	{ptVH + "  real=10.0.0.1 gate\n", 2, "Unknown command"},
	{ptVH + "\treal=10.0.0.1 gate\n        \n", 3, "whitespace-only line"},
	{ptVH + "\tquiescent=yes # c\n", 2, "quiescent must be 'yes' or 'no'"},
	{ptVH + "\trequest=\"/a#b\"\n", 2, "Unknown command"},
	{ptVH + "\tautoreload=yes\n", 2, "global directive"},
	{"scheduler=wrr\n", 1, "only valid inside a virtual block"},
	{"real=10.0.0.1 gate\n", 1, "Unknown command"},
	{"foo=bar\n", 1, "Unknown command"},
	{"garbage\n", 1, "Unknown command"},
	{ptVH + "\tfoo=bar\n", 2, "Unknown command"},
	{ptVH + "\treal 10.0.0.1 gate\n", 2, "Unknown command"},
	{"Quiescent=yes\n", 1, "Unknown command"},
	// globals
	{"timeout=5\n", 1, "timeout directive deprecated"},
	{"connecttimeout=5\n", 1, "connecttimeout directive deprecated"},
	{"checktimeout=0\n", 1, "invalid check timeout value"},
	{"checktimeout=3abc\n", 1, "invalid check timeout value"},
	{"checktimeout=-3\n", 1, "invalid check timeout value"},
	{"checktimeout=\n", 1, "invalid check timeout value"},
	{"checktimeout=99999999999\n", 1, "invalid check timeout value"},
	{"negotiatetimeout=x\n", 1, "invalid negotiate timeout value"},
	{"checkinterval=0\n", 1, "invalid check interval value"},
	{"checkcount=0\n", 1, "invalid check count value"},
	{"failurecount=1.5\n", 1, "invalid failure count value"},
	{"autoreload=true\n", 1, "autoreload must be 'yes' or 'no'"},
	{"fork=1\n", 1, "fork must be 'yes' or 'no'"},
	{"supervised=maybe\n", 1, "supervised must be 'yes' or 'no'"},
	{"supervisedx\n", 1, "supervised must be 'yes' or 'no'"},
	{"readdquiescent=\n", 1, "readdquiescent must be 'yes' or 'no'"},
	{"cleanstop=off\n", 1, "cleanstop must be 'yes' or 'no'"},
	{"callback=/bin/cb\n", 1, "double quotes"},
	{"callback=\"/bin/cb\" x\n", 1, "invalid callback"},
	{"logfile=/tmp/x.log\n", 1, "double quotes"},
	{"logfile=\"\"\n", 1, "unable to open logfile"},
	{"execute=\n", 1, "invalid execute"},
	{"emailalert=\n", 1, "no email address specified"},
	{"emailalert=\"\"\n", 1, "no email address specified"},
	{"emailalertfreq=x\n", 1, "invalid email alert frequency"},
	{"emailalertfreq=5m\n", 1, "invalid email alert frequency"},
	{"emailalertstatus=sometimes\n", 1, "invalid email alert status at"},
	{"emailalertstatus=none,running\n", 1, "specified with \"none\""},
	{"emailalertstatus=running,none\n", 1, "specified with \"none\""},
	{"emailalertstatus=,running\n", 1, "invalid email alert status"},
	{"emailalertstatus=all \n", 1, "invalid email alert status"},
	{"emailalertstatus=\n", 1, "invalid email alert status"},
	{"emailalertfrom=\n", 1, "no email from address specified"},
	{"smtp=host:25\n", 1, "invalid SMTP server address"},
	{"smtp=\n", 1, "invalid SMTP server address"},
	{"maintenancedir=\n", 1, "maintenance directory not specified"},
	{"fallbackcommand=\n", 1, "invalid fallback command"},
	{"fallback=\n", 1, "invalid fallback server"},
	{"fallback=10.0.0.1 gate x\n", 1, "invalid fallback server"},
	{"fallback=10.0.0.1:80 gate # c\n", 1, "invalid fallback server"},
	{"fallback=10.0.0.1 route\n", 1, "forward method must be gate, masq or ipip"},
	{"fallback=10.0.0.1:99999\n", 1, "invalid port for fallback server"},
	{"fallback=10.0.0.1:nosuch\n", 1, "invalid port for fallback server"},
	{"fallback=nosuch.test\n", 1, "could not resolve for fallback server"},
	{"fallback=[::1]:80\n", 1, "invalid IPv4 address or could not resolve for fallback server"},
	{"fallback6=10.0.0.1\n", 1, "invalid IPv6 address or could not resolve for fallback server"},
	{"fallback6=2001:db8::1\n", 1, "brackets"},
	{"fallback=010.0.0.1\n", 1, "could not resolve for fallback server"},
	{"fallback=10.0.0.9:syslog\nvirtual=192.0.2.1:80\n", 1, "invalid port for fallback server"},
	// virtual=
	{"virtual=\n", 1, "invalid address for virtual server"},
	{"virtual=192.0.2.1\n", 1, "firewall mark 192"},
	{"virtual=192.0.2.1:80/tcp\n", 1, "invalid address for virtual server"},
	{"virtual=192.0.2.1:80 x\n", 1, "invalid address for virtual server"},
	{"virtual=0\n", 1, "invalid address for virtual server"},
	{"virtual=5x\n", 1, "invalid address for virtual server"},
	{"virtual=99999999999\n", 1, "invalid address for virtual server"},
	{"virtual=[2001:db8::1]:80\n", 1, "please use \"virtual6\""},
	{"virtual6=[2001:db8::zz]:80\n", 1, "invalid ipv6 address"},
	{"virtual6=[2001:db8::1]\n", 1, "invalid address for virtual server"},
	{"virtual6=192.0.2.1:80\n", 1, "invalid address for virtual service"},
	{"virtual=192.0.2.256:80\n", 1, "invalid address for virtual service"},
	{"virtual=010.0.2.1:80\n", 1, "invalid address for virtual service"},
	{"virtual=nosuch.test:80\n", 1, "invalid address for virtual service"},
	{"virtual=192.0.2.1:99999\n", 1, "invalid address for virtual service"},
	{"virtual=192.0.2.1:nosuch\n", 1, "invalid address for virtual service"},
	{"virtual=192.0.2.1:syslog\n", 1, "invalid address for virtual service"},
	{ptVH + "\treal=10.0.0.1 gate\n" + ptVH + "\treal=10.0.0.1 gate\n", 3, "duplicate virtual server tcp:192.0.2.1:80 (already defined at line 1)"},
	{"virtual=5\nvirtual=5\n", 2, "duplicate virtual server fwm:5"},
	{"virtual=192.0.2.1:80\nvirtual=192.0.2.1:http\n", 2, "duplicate virtual server"},
	// virtual block directives
	{ptVH + "\trequest=\"\"\n", 2, "no request string specified"},
	{ptVH + "\trequest=/x\n", 2, "double quotes"},
	{ptVH + "\trequest=\"/x\" y\n", 2, "invalid request"},
	{ptVH + "\treceive=\"\"\n", 2, "invalid receive string"},
	{ptVH + "\treceive=\"(a)\\1\"\n", 2, "Go's RE2 syntax"},
	{ptVH + "\treceive=\"a(?=b)\"\n", 2, "backreferences or lookaround"},
	{ptVH + "\tchecktype=negotiate_connect\n", 2, "checktype must be"},
	{ptVH + "\tchecktype=negotiate2\n", 2, "checktype must be"},
	{ptVH + "\tchecktype=-1\n", 2, "checktype must be"},
	{ptVH + "\tcheckcommand=\n", 2, "invalid check command"},
	{ptVH + "\tcheckcommand=\"/x\" y\n", 2, "invalid check command"},
	{ptVH + "\tcheckcommand=\"/x\n", 2, "invalid check command"},
	{ptVH + "\tcheckcommand=/bin/chk # c\n", 2, "trailing whitespace"},
	{ptVH + "\tchecktimeout=0\n", 2, "invalid check timeout"},
	{ptVH + "\tchecktimeout=3abc\n", 2, "invalid check timeout"},
	{ptVH + "\tconnecttimeout=3\n", 2, "connecttimeout directive deprecated"},
	{ptVH + "\ttimeout=3\n", 2, "Unknown command"},
	{ptVH + "\tnegotiatetimeout=0\n", 2, "invalid negotiate timeout"},
	{ptVH + "\tcheckcount=x\n", 2, "invalid check count"},
	{ptVH + "\tfailurecount=0\n", 2, "invalid failure count"},
	{ptVH + "\tcheckinterval=0\n", 2, "invalid checkinterval"},
	{ptVH + "\tcheckport=0\n", 2, "checkport must be in range"},
	{ptVH + "\tcheckport=65536\n", 2, "checkport must be in range"},
	{ptVH + "\tcheckport=http\n", 2, "invalid port"},
	{ptVH + "\tlogin=\"\"\n", 2, "invalid login string"},
	{ptVH + "\tlogin=bob\n", 2, "double quotes"},
	{ptVH + "\tpasswd=\"\"\n", 2, "invalid password"},
	{ptVH + "\tdatabase=\"\"\n", 2, "invalid database"},
	{ptVH + "\tsecret=\"\"\n", 2, "invalid secret"},
	{ptVH + "\tsecret=\"s\" x\n", 2, "invalid secret"},
	{ptVH + "\tload=\"a b\"\n", 2, "invalid string for load testing"},
	{ptVH + "\tload=x\n", 2, "double quotes"},
	{ptVH + "\tscheduler=Wrr\n", 2, "invalid scheduler"},
	{ptVH + "\tscheduler=foo\n", 2, "must be one of rr, wrr"},
	{ptVH + "\tscheduler=\n", 2, "invalid scheduler"},
	{ptVH + "\tpersistent=0\n", 2, "invalid persistent timeout"},
	{ptVH + "\tpersistent=5s\n", 2, "invalid persistent timeout"},
	{ptVH + "\tpersistent=9999999\n", 2, "invalid persistent timeout"},
	{ptVH + "\tschedflags=\n", 2, "invalid sched-flags"},
	{ptVH + "\tschedflags=flag-4\n", 2, "unknown flag"},
	{ptVH + "\tschedflags=flag-1 flag-2\n", 2, "invalid sched-flags"},
	{ptVH + "\tschedflags=sh-port\n", 2, "need scheduler=sh"},
	{ptVH + "\tschedflags=sh-port,mh-port\n", 2, "different schedulers"},
	{ptVH + "\tnetmask=255.255.255.0 \n", 2, "dotted quad notation is required"},
	{ptVH + "\tnetmask=24\n", 2, "dotted quad notation is required"},
	{ptVH + "\tnetmask=255.255.256.0\n", 2, "dotted quad notation is required"},
	{ptV6H + "\tnetmask=0\n", 2, "prefix length between 1 and 128"},
	{ptV6H + "\tnetmask=129\n", 2, "prefix length between 1 and 128"},
	{ptV6H + "\tnetmask=ffff::\n", 2, "prefix length between 1 and 128"},
	{ptVH + "\tprotocol=fwm\n", 2, "protocol must be tcp or udp"},
	{ptVH + "\tprotocol=sctp\n", 2, "protocol must be tcp or udp"},
	{ptVH + "\tprotocol=tcp x\n", 2, "invalid protocol"},
	{"virtual=5\n\tprotocol=tcp\n", 2, "protocol must be fwm"},
	{ptVH + "\tops=1\n", 2, "ops must be 'yes' or 'no'"},
	{ptVH + "\tservice=gopher\n", 2, "service must be"},
	{ptVH + "\tservice=http-x\n", 2, "service must be"},
	{ptVH + "\thttpmethod=POST\n", 2, "httpmethod must be GET or HEAD"},
	{ptVH + "\thttpmethod=GETX\n", 2, "httpmethod must be GET or HEAD"},
	{ptVH + "\tvirtualhost=\"a\"b\n", 2, "invalid virtualhost"},
	{ptVH + "\tfallback6=[::1]:80\n", 2, "please use \"fallback\" instead"},
	{ptV6H + "\tfallback=10.0.0.1:80\n", 2, "please use \"fallback6\" instead"},
	{ptVH + "\tfallback=10.0.0.1 nat\n", 2, "forward method must be gate, masq or ipip"},
	{ptVH + "\tfallback=nosuch.test:80\n", 2, "could not resolve for fallback server"},
	{ptVH + "\tfallback=10.0.0.1:syslog\n", 2, "invalid port for fallback server"},
	{ptVH + "\tfallbackcommand=\n", 2, "invalid fallback command"},
	{ptVH + "\tcleanstop=yes \n", 2, "cleanstop must be 'yes' or 'no'"},
	{ptVH + "\temailalert=\n", 2, "no email address specified"},
	{ptVH + "\temailalertfreq=x\n", 2, "invalid email alert frequency"},
	{ptVH + "\temailalertstatus=none,all\n", 2, "specified with \"none\""},
	{ptVH + "\tsmtp=a b\n", 2, "invalid SMTP server address"},
	{ptVH + "\tmonitorfile=\n", 2, "unable to open monitorfile"},
	{ptVH + "\tmonitorfile=\"/tmp/x\" y\n", 2, "unable to open monitorfile"},
	// real=
	{ptVH + "\treal6=[::1] gate\n", 2, "please use \"real\" instead"},
	{ptV6H + "\treal=10.0.0.1 gate\n", 2, "please use \"real6\" instead"},
	{ptVH + "\treal=10.0.0.1\n", 2, "invalid address for real server (wrong format)"},
	{ptVH + "\treal=10.0.0.1:80\n", 2, "wrong format"},
	{ptVH + "\treal=\n", 2, "wrong format"},
	{ptVH + "\treal=10.0.0.1: gate\n", 2, "wrong format"},
	{ptVH + "\treal=@10.0.0.1 gate\n", 2, "wrong format"},
	{ptVH + "\treal=10.0.0.1 \n", 2, "forward method must be gate, masq or ipip"},
	{ptVH + "\treal=10.0.0.1 route\n", 2, "forward method must be gate, masq or ipip"},
	{ptVH + "\treal=10.0.0.1 gate2\n", 2, "forward method must be gate, masq or ipip"},
	{ptVH + "\treal=10.0.0.1 -gate\n", 2, "forward method must be gate, masq or ipip"},
	{ptVH + "\treal=10.0.0.1 gate,2\n", 2, "forward method must be gate, masq or ipip"},
	{ptVH + "\treal=10.0.0.1 gate 2 3\n", 2, "Invalid real server line, around \"3\""},
	{ptVH + "\treal=10.0.0.1 gate 2x\n", 2, "Invalid real server line"},
	{ptVH + "\treal=10.0.0.1 gate x 5\n", 2, "Invalid real server line, around \"x 5\""},
	{ptVH + "\treal=10.0.0.1 gate \"/a\", \"b\" 5\n", 2, "Invalid real server line, around \"5\""},
	{ptVH + "\treal=10.0.0.1 gate \"/a\"\n", 2, "followed by a receive string"},
	{ptVH + "\treal=10.0.0.1 gate \"/a\" ,\"b\"\n", 2, "followed by a receive string"},
	{ptVH + "\treal=10.0.0.1 gate \"/a\", \"b\"\"c\"\n", 2, "cannot contain"},
	{ptVH + "\treal=10.0.0.1 gate \"/a\", \"b\n", 2, "unterminated quote"},
	{ptVH + "\treal=10.0.0.1 gate 1 u:5 l:3\n", 2, "l:N must come before u:N"},
	{ptVH + "\treal=10.0.0.1 gate l:1 l:2\n", 2, "Invalid real server line, around \"l:2\""},
	{ptVH + "\treal=10.0.0.1 gate l:x\n", 2, "Invalid real server line"},
	{ptVH + "\treal=10.0.0.1 gate u:99999999999\n", 2, "invalid connection threshold"},
	{ptVH + "\treal=10.0.0.1 gate 65536\n", 2, "invalid weight 65536"},
	{ptVH + "\treal=10.0.0.1:99999 gate\n", 2, "could not resolve port"},
	{ptVH + "\treal=10.0.0.1:nosuch gate\n", 2, "could not resolve port"},
	{ptVH + "\treal=nosuch.test gate\n", 2, "could not resolve host"},
	{ptVH + "\treal=10.0.0.256 gate\n", 2, "could not resolve host"},
	{ptVH + "\treal=10.1 gate\n", 2, "could not resolve host"},
	{ptVH + "\treal=[::1] gate\n", 2, "could not resolve host"},
	{ptV6H + "\treal6=10.0.0.1 gate\n", 2, "could not resolve host"},
	{ptV6H + "\treal6=[2001:db8::zz] gate\n", 2, "wrong format"},
	{ptVH + "\treal=10.0.0.5->10.0.0.1 gate\n", 2, "Invalid Range"},
	{ptVH + "\treal=10.0.0.1->nosuch.test gate\n", 2, "could not resolve end host"},
	{ptVH + "\treal=10.0.0.0->10.1.0.0 gate\n", 2, "at most 65536"},
	{ptV6H + "\treal6=[2001:db8::1]->[2001:db8::3] gate\n", 2, "Address range for IPv6 is not supported yet"},
	{ptVH + "\treal=10.0.0.1 gate \"/a\", \"(?<=x)\"\n", 2, "Go's RE2 syntax"},
	{ptVH + "\treal=10.0.0.1:80 gate\n\treal=10.0.0.1:8080 gate\n", 3, "duplicate real server 10.0.0.1:80"},
	{ptVH + "\treal=10.0.0.1->10.0.0.3 masq\n\treal=10.0.0.2 masq\n", 3, "already at line 2"},
	// error order: ldirectord resolves reals after the block's other lines
	{ptVH + "\treal=nosuch.test gate\n\tcheckport=0\n", 3, "checkport must be in range"},
	{ptVH + "\treal=nosuch.test gate\n\tfallback=nosuch.test\n", 3, "fallback"},
	{"virtual=nosuch.test:80\n\treal=nosuch.test gate\n", 1, "invalid address for virtual service"},
}

func TestErrors(t *testing.T) {
	for _, tc := range ptErrorCases {
		_, err := Parse("e.cf", strings.NewReader(tc.src), ptOpts)
		if err == nil {
			t.Errorf("no error for %q, want line %d %q", tc.src, tc.line, tc.substr)
			continue
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%q: error %v is %T", tc.src, err, err)
			continue
		}
		if e.File != "e.cf" || e.Line != tc.line || !strings.Contains(e.Msg, tc.substr) {
			t.Errorf("%q:\n got  %s:%d: %s\n want line %d containing %q", tc.src, e.File, e.Line, e.Msg, tc.line, tc.substr)
		}
	}
}

func TestParseFileMissing(t *testing.T) {
	_, err := ParseFile(filepath.Join(t.TempDir(), "nope.cf"), ptOpts)
	var e *Error
	if !errors.As(err, &e) || e.Line != 0 || !strings.Contains(e.Msg, "can not open file") {
		t.Fatalf("got %v", err)
	}
	if got := e.Error(); !strings.HasSuffix(got, "no such file or directory") {
		t.Errorf("Error() = %q", got)
	}
}

func TestErrorString(t *testing.T) {
	_, err := Parse("x.cf", strings.NewReader("fork=yes\nfoo\n"), ptOpts)
	if err == nil || err.Error() != `x.cf:2: Unknown command "foo"` {
		t.Errorf("got %v", err)
	}
}

func TestHostnameDefault(t *testing.T) {
	opts := ptOpts
	opts.Hostname = ""
	t.Setenv("HOSTNAME", "from-env")
	c, err := Parse("h.cf", strings.NewReader("virtual=192.0.2.1:5060\n\tservice=sip\n"), opts)
	if err != nil {
		t.Fatal(err)
	}
	ptEq(t, "Login", c.Virtuals[0].Check.Login, "ldirectord@from-env")
}

// TestDefaultLookups uses the system resolver and services database for
// literals and localhost only.
func TestDefaultLookups(t *testing.T) {
	c, err := Parse("d.cf", strings.NewReader("virtual=127.0.0.1:80\n\treal=127.0.0.2:80 masq\n"), ParseOptions{Hostname: "h"})
	if err != nil {
		t.Fatal(err)
	}
	ptEq(t, "real", ptDests(c.Virtuals[0]), []ipvs.Destination{ptDest("127.0.0.2", 80, ipvs.Masq, 1)})
}

func TestManyReals(t *testing.T) {
	v := ptOne(t, "virtual=192.0.2.1:80\n\treal=10.0.0.0->10.0.255.255 gate\n")
	ptEq(t, "reals", len(v.Reals), 65536)
	ptEq(t, "last", v.Reals[65535].Dest.Addr, ptAddr("10.0.255.255"))
	var b strings.Builder
	for i := 0; i < 5; i++ {
		fmt.Fprintf(&b, "virtual=192.0.2.%d:80\n\treal=10.0.0.0->10.0.255.255 gate\n", i+1)
	}
	_, err := Parse("m.cf", strings.NewReader(b.String()), ptOpts)
	ptWantErr(t, err, 10, "too many real servers")
}
