package settings

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/BurntSushi/toml"
)

// Sync is the [sync] table: the kernel's IPVS connection sync daemons,
// which directord runs so that a takeover keeps established connections.
// Off unless enabled (or haresources names LVSSyncDaemonSwap).
type Sync struct {
	Enabled bool `toml:"enabled"`
	// Interface is the multicast interface (ipvsadm --mcast-interface);
	// the default is DefaultSyncInterface, as ipvsadm's.
	Interface string `toml:"interface"`
	SyncID    int    `toml:"sync_id"` // 0..255; 0 (default): a backup takes every id
	Group     string `toml:"group"`   // multicast group; default the kernel's 224.0.0.81
	Port      int    `toml:"port"`    // default the kernel's 8848
	TTL       int    `toml:"ttl"`     // default 1
	MaxLen    int    `toml:"maxlen"`  // sync message size; default from the MTU
	// ResourceGroup is the key of the haresources group whose holder runs
	// the master; "" means every group (the master runs while any is
	// held). Groups with LVSSyncDaemonSwap need none.
	ResourceGroup string `toml:"resource_group"`
	// KeepBackup leaves the backup daemon running when directord stops.
	KeepBackup bool `toml:"keep_backup"`

	// The failback settle rule (see failover/cluster/settle.go).
	SettleMin   Duration `toml:"settle_min"`
	SettleQuiet Duration `toml:"settle_quiet"`
	SettleMax   Duration `toml:"settle_max"`

	// Sysctl are net.ipv4.vs.NAME values set at start.
	Sysctl map[string]any `toml:"sysctl"`
	// The IPVS timeouts (ipvsadm --set); zero leaves the kernel's.
	TimeoutTCP    Duration `toml:"timeout_tcp"`
	TimeoutTCPFin Duration `toml:"timeout_tcpfin"`
	TimeoutUDP    Duration `toml:"timeout_udp"`

	// SysctlValues is Sysctl with the values as written to /proc, in
	// name order (filled by Parse).
	SysctlValues [][2]string `toml:"-"`
}

// DefaultSyncInterface is ipvsadm's default multicast interface, which
// heartbeat's LVSSyncDaemonSwap script used (it passed no interface).
const DefaultSyncInterface = "eth0"

// The settle rule's defaults. The master sends its buffer about every 2-3 s
// (the kernel flushes a buffer 2 s old, checking once a second) with the
// connections that reached sync_threshold since: at "3 10" the VM's
// backup learnt a failback test's six sessions in batches 3-4 s apart, so
// a quiet of 3 s once settled with one download unsent and lost it.
const (
	DefaultSettleMin   = 5 * time.Second
	DefaultSettleQuiet = 10 * time.Second
	DefaultSettleMax   = 60 * time.Second
)

// SyncSysctls are the net.ipv4.vs sysctls directord logs at start and
// [sync.sysctl] may set: the ones that decide whether synced connections
// are usable after a takeover.
var SyncSysctls = []string{"sync_version", "sync_threshold", "sync_refresh_period", "sync_retries",
	"sync_persist_mode", "sync_qlen_max", "sync_sock_size", "sync_ports",
	"conntrack", "expire_nodest_conn", "expire_quiescent_template", "sloppy_tcp", "sloppy_sctp"}

// Duration is a TOML string such as "5s" or "1m30s".
type Duration time.Duration

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil || v < 0 {
		return fmt.Errorf("%q is not a duration (5s, 1m30s)", b)
	}
	*d = Duration(v)
	return nil
}

// D is d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

var ifaceRE = regexp.MustCompile(`^[A-Za-z0-9_.:@-]{1,15}$`)

// checkSync validates [sync] and fills its defaults.
func checkSync(s *Sync, bad func(toml.Key, string) error) error {
	k := func(name string) toml.Key { return toml.Key{"sync", name} }
	if s.Interface != "" && (!ifaceRE.MatchString(s.Interface) || s.Interface == "." || s.Interface == "..") {
		return bad(k("interface"), fmt.Sprintf("%q is not an interface name", s.Interface))
	}
	if s.Interface == "" {
		s.Interface = DefaultSyncInterface
	}
	for _, r := range []struct {
		name     string
		v        int
		min, max int
	}{{"sync_id", s.SyncID, 0, 255}, {"port", s.Port, 0, 65535}, {"ttl", s.TTL, 0, 255}, {"maxlen", s.MaxLen, 0, 65507}} {
		if r.v < r.min || r.v > r.max {
			return bad(k(r.name), fmt.Sprintf("%d out of range %d..%d", r.v, r.min, r.max))
		}
	}
	if s.Group != "" {
		a, err := netip.ParseAddr(s.Group)
		if err != nil || !a.IsMulticast() {
			return bad(k("group"), fmt.Sprintf("%q is not a multicast address (224.0.0.81, ff02::81)", s.Group))
		}
	}
	if s.SettleMin == 0 {
		s.SettleMin = Duration(DefaultSettleMin)
	}
	if s.SettleQuiet == 0 {
		s.SettleQuiet = Duration(DefaultSettleQuiet)
	}
	if s.SettleMax == 0 {
		s.SettleMax = Duration(DefaultSettleMax)
	}
	if s.SettleMax < s.SettleMin {
		return bad(k("settle_max"), fmt.Sprintf("%s is less than settle_min %s", s.SettleMax.D(), s.SettleMin.D()))
	}
	for _, t := range []struct {
		name string
		v    Duration
	}{{"timeout_tcp", s.TimeoutTCP}, {"timeout_tcpfin", s.TimeoutTCPFin}, {"timeout_udp", s.TimeoutUDP}} {
		if t.v != 0 && (t.v.D()%time.Second != 0 || t.v.D() > 365*24*time.Hour) {
			return bad(k(t.name), fmt.Sprintf("%s: want whole seconds, at most a year", t.v.D()))
		}
	}
	s.SysctlValues = nil
	for name, v := range s.Sysctl {
		key := toml.Key{"sync", "sysctl", name}
		if !slices.Contains(SyncSysctls, name) {
			return bad(key, fmt.Sprintf("not a sync sysctl of net.ipv4.vs (one of %v)", SyncSysctls))
		}
		var val string
		switch x := v.(type) {
		case int64:
			val = strconv.FormatInt(x, 10)
		case bool:
			val = map[bool]string{true: "1", false: "0"}[x]
		case string:
			if !regexp.MustCompile(`^[0-9]+( [0-9]+)*$`).MatchString(x) {
				return bad(key, fmt.Sprintf("%q: want numbers (\"3 50\")", x))
			}
			val = x
		default:
			return bad(key, fmt.Sprintf("%v: want a number or a string of numbers", v))
		}
		s.SysctlValues = append(s.SysctlValues, [2]string{name, val})
	}
	slices.SortFunc(s.SysctlValues, func(a, b [2]string) int {
		if a[0] < b[0] {
			return -1
		}
		if a[0] > b[0] {
			return 1
		}
		return 0
	})
	return nil
}
