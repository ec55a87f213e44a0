package settings

import (
	"strings"
	"testing"
	"time"
)

func TestSyncDefaults(t *testing.T) {
	for _, body := range []string{"", "[sync]\n"} {
		s, err := Parse("s.toml", []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		y := s.Sync
		if y.Enabled || y.Interface != "eth0" || y.SettleMin.D() != DefaultSettleMin || y.SettleQuiet.D() != DefaultSettleQuiet || y.SettleMax.D() != DefaultSettleMax {
			t.Errorf("%q: %+v", body, y)
		}
	}
	if d := Defaults().Sync; d.Interface != "eth0" || d.SettleMax.D() != DefaultSettleMax {
		t.Errorf("Defaults: %+v", d)
	}
}

func TestSyncTable(t *testing.T) {
	body := `[sync]
enabled = true
interface = "eth1"
sync_id = 7
group = "224.0.0.82"
port = 8849
ttl = 2
maxlen = 1400
resource_group = "10.0.0.10"
settle_min = "2s"
settle_quiet = "1s"
settle_max = "20s"
timeout_tcp = "15m"
timeout_udp = "5m"
[sync.sysctl]
conntrack = 1
sync_threshold = "3 50"
expire_nodest_conn = true
`
	s, err := Parse("s.toml", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	y := s.Sync
	if !y.Enabled || y.Interface != "eth1" || y.SyncID != 7 || y.Group != "224.0.0.82" || y.Port != 8849 || y.TTL != 2 ||
		y.MaxLen != 1400 || y.ResourceGroup != "10.0.0.10" || y.SettleMin.D() != 2*time.Second ||
		y.SettleQuiet.D() != time.Second || y.SettleMax.D() != 20*time.Second || y.TimeoutTCP.D() != 15*time.Minute ||
		y.TimeoutUDP.D() != 5*time.Minute || y.TimeoutTCPFin != 0 {
		t.Errorf("got %+v", y)
	}
	want := "[[conntrack 1] [expire_nodest_conn 1] [sync_threshold 3 50]]"
	if got := fmtv(y.SysctlValues); got != want {
		t.Errorf("sysctls %s, want %s", got, want)
	}
}

func TestSyncErrors(t *testing.T) {
	for body, want := range map[string]string{
		"[sync]\nenabled = true\nsync_id = 300\n":             "s.toml:3: sync.sync_id: 300 out of range 0..255",
		"[sync]\n\ninterface = \"eth 1\"\n":                   `s.toml:3: sync.interface: "eth 1" is not an interface name`,
		"[sync]\ngroup = \"10.0.0.1\"\n":                      `s.toml:2: sync.group: "10.0.0.1" is not a multicast address`,
		"[sync]\nport = 70000\n":                              "s.toml:2: sync.port: 70000 out of range",
		"[sync]\nsettle_min = \"10s\"\nsettle_max = \"5s\"\n": "s.toml:3: sync.settle_max: 5s is less than settle_min 10s",
		"[sync]\nsettle_min = \"soon\"\n":                     `s.toml:2: sync.settle_min: `,
		"[sync]\ntimeout_tcp = \"1.5s\"\n":                    "s.toml:2: sync.timeout_tcp: 1.5s: want whole seconds",
		"[sync]\ninterfce = \"eth1\"\n":                       "s.toml:2: unknown key sync.interfce",
		"[sync.sysctl]\nconntrak = 1\n":                       "s.toml:2: sync.sysctl.conntrak: not a sync sysctl",
		"[sync.sysctl]\n\nsync_threshold = \"3;50\"\n":        `s.toml:3: sync.sysctl.sync_threshold: "3;50": want numbers`,
		"[sync.sysctl]\nconntrack = 1.5\n":                    "s.toml:2: sync.sysctl.conntrack: 1.5: want a number",
	} {
		_, err := Parse("s.toml", []byte(body))
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q:\n got %v\nwant %s...", body, err, want)
		}
	}
}

func fmtv(v [][2]string) string {
	var b strings.Builder
	b.WriteString("[")
	for i, p := range v {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString("[" + p[0] + " " + p[1] + "]")
	}
	return b.String() + "]"
}

// The example settings file parses, and leaves sync off.
func TestExampleFileSync(t *testing.T) {
	s, err := Load("../../etc/settings.toml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Sync.Enabled || s.Sync.Interface != "eth1" || s.Sync.SyncID != 7 || s.Sync.SettleMax.D() != DefaultSettleMax {
		t.Errorf("example [sync]: %+v", s.Sync)
	}
}
