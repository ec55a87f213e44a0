package haconf

// This file reads ha.cf as heartbeat 3.0.6's parse_config does:
//
//   - leading whitespace is skipped, '#' starts a comment anywhere on the
//     line, the line ends at the first CR or LF;
//   - the first whitespace-delimited word is the directive (case
//     sensitive; "udp" is an old name of "bcast"); unknown → "Illegal
//     directive" and heartbeat does not start;
//   - for most directives the rest of the line is split at commas, spaces
//     and tabs and each token is given to the directive on its own, so
//     "node a b" declares two nodes and "keepalive 1 2" ends with 2;
//   - whole-line directives (mcast, mcast6, ucast, ucast6, ping_group,
//     respawn, failfast, stonith, stonith_host, apiauth) get the rest of
//     the line;
//   - directives are applied in file order: udpport affects only the
//     bcast/ucast lines after it;
//   - defaults are applied and cross-checked after the whole file.
//
// Stricter than heartbeat: numbers must be whole tokens (heartbeat's atoi
// reads "694x" as 694), times must be well formed ("1.5.2" and "2msfoo"
// are errors here; cl_get_msec reads 1.5 s and 2 ms), ucast/mcast fields
// are validated here rather than when the plugin opens its socket.

import (
	"fmt"
	"io"
	"math"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"
)

// AutoFailback is the auto_failback setting.
type AutoFailback uint8

// auto_failback values. On and Off use the nice_failback protocol
// (starting / resource / ask_resources); Legacy uses ip-request.
const (
	FailbackLegacy AutoFailback = iota
	FailbackOn
	FailbackOff
)

func (a AutoFailback) String() string {
	switch a {
	case FailbackOn:
		return "on"
	case FailbackOff:
		return "off"
	}
	return "legacy"
}

// MediumKind is a communication medium type.
type MediumKind uint8

// Media this implementation can speak.
const (
	Bcast MediumKind = iota + 1
	Ucast
	Mcast
	Ucast6
	Mcast6
	Serial
)

func (k MediumKind) String() string {
	switch k {
	case Bcast:
		return "bcast"
	case Ucast:
		return "ucast"
	case Mcast:
		return "mcast"
	case Ucast6:
		return "ucast6"
	case Mcast6:
		return "mcast6"
	case Serial:
		return "serial"
	}
	return "MediumKind(" + strconv.Itoa(int(k)) + ")"
}

// Medium is one heartbeat path. heartbeat sends every message on every
// medium.
type Medium struct {
	Kind MediumKind
	Dev  string // interface; serial: the tty's path
	// Peer is the unicast destination (ucast, ucast6): an address or a
	// host name as written (heartbeat resolves names at start).
	Peer  string
	Group netip.Addr // multicast group (mcast, mcast6)
	// Port is the UDP port: the udpport in force at this line for bcast
	// and ucast, the line's own port for mcast.
	Port int
	TTL  int  // mcast ttl / mcast6 hops
	Loop bool // mcast loopback
	Baud int  // serial: the line speed (see HACF.Baud)
	Line int
}

func (m Medium) String() string {
	switch m.Kind {
	case Ucast, Ucast6:
		return fmt.Sprintf("%v %s %s:%d", m.Kind, m.Dev, m.Peer, m.Port)
	case Mcast, Mcast6:
		return fmt.Sprintf("%v %s %v:%d ttl %d loop %t", m.Kind, m.Dev, m.Group, m.Port, m.TTL, m.Loop)
	case Serial:
		return fmt.Sprintf("%v %s %d baud", m.Kind, m.Dev, m.Baud)
	}
	return fmt.Sprintf("%v %s:%d", m.Kind, m.Dev, m.Port)
}

// Ping is a ping pseudo-node: "ping ip" (one per address, named by it) or
// "ping_group name ip ..." (up when any address answers).
type Ping struct {
	Name  string
	Addrs []string // addresses or host names as written
	Group bool
	Line  int
}

// Child is a respawn (or failfast) program.
type Child struct {
	User    string
	Path    string   // absolute
	Args    []string // split at whitespace
	Command string   // path and arguments as written
	Line    int
}

// HACF is a parsed ha.cf with heartbeat's defaults applied.
type HACF struct {
	File      string
	LocalNode string // lowercased

	Keepalive time.Duration // keepalive (default 1 s)
	Deadtime  time.Duration // deadtime (default 30 s)
	Warntime  time.Duration // warntime (default deadtime/2)
	Initdead  time.Duration // initdead (see initdeadDefault)
	Deadping  time.Duration // deadping (default deadtime)

	UDPPort int // the last udpport, or the default (694)
	Baud    int // baud as set (0: not set; serial media then run at 19200)

	Nodes     []string // node names, lowercased, in order, local one included
	NodeLines []int    // the line of each of Nodes
	Media     []Medium
	Ping      []Ping

	AutoFailback AutoFailback

	Logfile     string // logfile
	Debugfile   string // debugfile
	LogFacility string // logfacility ("none" disables syslog)
	// UseLogd is the effective use_logd: as set, else true when none of
	// logfile, debugfile and logfacility is set.
	UseLogd bool

	Respawn  []Child // respawn: restarted unless it exits 100
	Failfast []Child // failfast: the node reboots if it dies
	// IPFail: a respawn line names heartbeat's ipfail. Its logic runs
	// in-process (it is a client of heartbeat's API, which we do not
	// provide), so the line is not in Respawn.
	IPFail bool

	Watchdog  string   // watchdog device
	MsgFmt    string   // msgfmt: classic (default) or netstring
	Autojoin  string   // autojoin: none (default), other, any
	GenMethod string   // hbgenmethod: file (default) or time
	UUIDFrom  string   // uuidfrom: file (default) or nodename
	Hopfudge  int      // hopfudge (default 1): ttl = hopfudge + nodes
	Debug     int      // debug level
	Cluster   string   // cluster name (default linux-ha)
	Env       []string // env NAME=value for respawned children

	// Line of the last occurrence of each directive, for messages of
	// the runtime that refer to a setting.
	Lines map[string]int

	Warnings []Warning
}

// HACFOptions are the parser's inputs from the host.
type HACFOptions struct {
	// LocalNode is this node's name (uname -n, or /etc/ha.d/nodeinfo);
	// it must be one of the nodes. A parameter so that tests can run two
	// nodes on one host.
	LocalNode string
	// DefaultUDPPort is the port of ha-cluster/udp in /etc/services; 0
	// means 694.
	DefaultUDPPort int
	// Host checks heartbeat makes while it parses (users, programs,
	// files); nil skips them. Load sets the real ones.
	Host *HostChecks
}

// HostChecks answer heartbeat's questions to the host while parsing.
type HostChecks struct {
	UserExists  func(name string) bool
	GroupExists func(name string) bool
	Executable  func(path string) bool // access(path, X_OK)
	Readable    func(path string) bool // a file that can be opened
	Interface   func(name string) bool // a network interface of the host
}

// checkIface: heartbeat's media plugins look the interface up as they
// parse their line.
func (p *hacfParser) checkIface(kind, dev string) error {
	if h := p.host; h != nil && h.Interface != nil && !h.Interface(dev) {
		return fmt.Errorf("%s: interface %s: No such device", kind, dev)
	}
	return nil
}

// Directive kinds.
const (
	perToken  = iota // the rest of the line split at ", \t", one call per token
	wholeLine        // the rest of the line at once
)

type directive struct {
	kind int
	fn   func(p *hacfParser, v string) error
}

// directives is every ha.cf directive heartbeat 3.0.6 knows (with the
// media plugins Debian ships).
var directives map[string]directive

func init() {
	directives = map[string]directive{
		"node":          {perToken, (*hacfParser).node},
		"keepalive":     {perToken, timeSetter("keepalive", func(c *HACF) *time.Duration { return &c.Keepalive })},
		"deadtime":      {perToken, zeroTimeSetter("deadtime", func(c *HACF) *time.Duration { return &c.Deadtime })},
		"warntime":      {perToken, timeSetter("warntime", func(c *HACF) *time.Duration { return &c.Warntime })},
		"initdead":      {perToken, zeroTimeSetter("initdead", func(c *HACF) *time.Duration { return &c.Initdead })},
		"deadping":      {perToken, zeroTimeSetter("deadping", func(c *HACF) *time.Duration { return &c.Deadping })},
		"udpport":       {perToken, (*hacfParser).udpport},
		"bcast":         {perToken, (*hacfParser).bcast},
		"mcast":         {wholeLine, (*hacfParser).mcast},
		"mcast6":        {wholeLine, (*hacfParser).mcast},
		"ucast":         {wholeLine, (*hacfParser).ucast},
		"ucast6":        {wholeLine, (*hacfParser).ucast},
		"serial":        {perToken, (*hacfParser).serial},
		"baud":          {perToken, (*hacfParser).baud},
		"ping":          {perToken, (*hacfParser).ping},
		"ping_group":    {wholeLine, (*hacfParser).pingGroup},
		"auto_failback": {perToken, (*hacfParser).autoFailback},
		"nice_failback": {perToken, (*hacfParser).niceFailback},
		"logfile":       {perToken, func(p *hacfParser, v string) error { p.c.Logfile = v; return nil }},
		"debugfile":     {perToken, func(p *hacfParser, v string) error { p.c.Debugfile = v; return nil }},
		"logfacility":   {perToken, (*hacfParser).logFacility},
		"use_logd":      {perToken, (*hacfParser).useLogd},
		"respawn":       {wholeLine, (*hacfParser).child},
		"failfast":      {wholeLine, (*hacfParser).child},
		"crm":           {perToken, (*hacfParser).crm},
		"pacemaker":     {perToken, (*hacfParser).crm},
		"hopfudge": {perToken, func(p *hacfParser, v string) error {
			n, err := atoi("hopfudge", v, 0, 255)
			p.c.Hopfudge = n
			return err
		}},
		"hbgenmethod": {perToken, func(p *hacfParser, v string) error {
			return oneOf("hbgenmethod", v, &p.c.GenMethod, "file", "time")
		}},
		"autojoin": {perToken, (*hacfParser).autojoin},
		"uuidfrom": {perToken, func(p *hacfParser, v string) error {
			return oneOf("uuidfrom", v, &p.c.UUIDFrom, "file", "nodename")
		}},
		"msgfmt": {perToken, func(p *hacfParser, v string) error {
			return oneOf("msgfmt", v, &p.c.MsgFmt, "classic", "netstring")
		}},
		"debug": {perToken, func(p *hacfParser, v string) error {
			n, err := atoi("debug", v, 0, 255)
			p.c.Debug = n
			return err
		}},
		"cluster": {perToken, func(p *hacfParser, v string) error { p.c.Cluster = v; return nil }},
		"env":     {perToken, (*hacfParser).env},
		"watchdog": {perToken, func(p *hacfParser, v string) error {
			if p.c.Watchdog != "" {
				return fmt.Errorf("Watchdog device multiply specified: %s, then %s", p.c.Watchdog, v)
			}
			p.c.Watchdog = v
			return nil
		}},
		"stonith": {wholeLine, (*hacfParser).stonith},
		"stonith_host": {wholeLine, func(p *hacfParser, v string) error {
			p.warnf("stonith_host is not supported and is ignored: a dead peer's resources are taken over without fencing it")
			return nil
		}},
		"apiauth": {wholeLine, (*hacfParser).apiauth},

		// Tuning of heartbeat's own process, its client API, Pacemaker
		// or compression: checked where cheap, otherwise ignored.
		"realtime": {perToken, boolCheck("realtime")},
		"rtprio": {perToken, func(_ *hacfParser, v string) error {
			if _, err := atoi("rtprio", v, 1, 99); err != nil { // SCHED_FIFO's range
				return fmt.Errorf("Illegal realtime priority [%s]: want 1 to 99", v)
			}
			return nil
		}},
		"coredumps":               {perToken, boolCheck("coredumps")},
		"coreroot":                {perToken, ignore},
		"log_badpack":             {perToken, boolCheck("log_badpack")},
		"syslogmsgfmt":            {perToken, boolCheck("syslogmsgfmt")},
		"use_apphbd":              {perToken, boolCheck("use_apphbd")},
		"conn_logd_time":          {perToken, timeCheck("conn_logd_time")},
		"compression":             {perToken, compression},
		"compression_threshold":   {perToken, intCheck("compression_threshold", 1, math.MaxInt32)},
		"traditional_compression": {perToken, boolCheck("traditional_compression")},
		"max_rexmit_delay":        {perToken, intCheck("max_rexmit_delay", 1, math.MaxInt32)},
		"memreserve":              {perToken, intCheck("memreserve", 1, math.MaxInt32)},
		"quorum_server":           {perToken, ignore},
		"record_config_changes":   {perToken, boolCheck("record_config_changes")},
		"record_pengine_inputs":   {perToken, boolCheck("record_pengine_inputs")},
		"enable_config_writes":    {perToken, boolCheck("enable_config_writes")},

		// The ping6 medium, and Pacemaker settings with heartbeat's order
		// checks against the crm line.
		"ping6":               {perToken, (*hacfParser).ping6},
		"crm_daemon_dir":      {perToken, (*hacfParser).crmDaemonDir},
		"crmd_spawns_pengine": {perToken, (*hacfParser).crmdSpawnsPengine},
	}
}

func ignore(*hacfParser, string) error { return nil }

// timeCheck: a time above 0 (conn_logd_time is read by cl_get_msec).
func timeCheck(name string) func(*hacfParser, string) error {
	return func(_ *hacfParser, v string) error {
		d, err := ParseTime(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("invalid %s %q: want a time above 0 (seconds, or with ms/us)", name, v)
		}
		return nil
	}
}

// compression names one of the compression plugins Debian's heartbeat
// ships (/usr/lib/heartbeat/plugins/compress).
func compression(_ *hacfParser, v string) error {
	if v != "zlib" && v != "bz2" {
		return fmt.Errorf("Compression module(%s) not found: want zlib or bz2", v)
	}
	return nil
}

func boolCheck(name string) func(*hacfParser, string) error {
	return func(_ *hacfParser, v string) error {
		_, err := parseBool(name, v)
		return err
	}
}

func intCheck(name string, lo, hi int) func(*hacfParser, string) error {
	return func(_ *hacfParser, v string) error {
		_, err := atoi(name, v, lo, hi)
		return err
	}
}

func timeSetter(name string, field func(*HACF) *time.Duration) func(*hacfParser, string) error {
	return func(p *hacfParser, v string) error {
		d, err := ParseTime(v)
		if err != nil {
			return fmt.Errorf("invalid %s %q: %v", name, v, err)
		}
		if d <= 0 {
			return fmt.Errorf("invalid %s %q: must be greater than 0", name, v)
		}
		*field(p.c) = d
		return nil
	}
}

// zeroTimeSetter takes 0 as heartbeat does for deadtime, initdead and
// deadping (>= 0); the checks after the file then refuse it with
// heartbeat's reason.
func zeroTimeSetter(name string, field func(*HACF) *time.Duration) func(*hacfParser, string) error {
	return func(p *hacfParser, v string) error {
		d, err := ParseTime(v)
		if err != nil {
			return fmt.Errorf("invalid %s %q: %v", name, v, err)
		}
		*field(p.c) = d
		return nil
	}
}

func atoi(name, v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || v[0] == '+' || n < lo || n > hi {
		return 0, fmt.Errorf("invalid %s %q: want a whole number from %d to %d", name, v, lo, hi)
	}
	return n, nil
}

func oneOf(name, v string, dst *string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			*dst = v
			return nil
		}
	}
	return fmt.Errorf("invalid %s %q: want %s", name, v, strings.Join(allowed, ", "))
}

// parseBool is cl_str_to_boolean.
func parseBool(name, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "on", "yes", "y", "1":
		return true, nil
	case "false", "off", "no", "n", "0":
		return false, nil
	}
	return false, fmt.Errorf("invalid %s %q: want on or off (yes/no, true/false, y/n, 1/0)", name, v)
}

// ParseTime reads an ha.cf time as cluster-glue's cl_get_msec: a decimal
// number (fractions allowed) of seconds, or of milliseconds with a unit
// "ms"/"msec", or microseconds with "us"/"usec" (units case-insensitive,
// attached to the number), rounded to whole milliseconds.
func ParseTime(s string) (time.Duration, error) {
	i := 0
	dots := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		if s[i] == '.' {
			dots++
		}
		i++
	}
	num, unit := s[:i], s[i:]
	if num == "" || num == "." || dots > 1 {
		return 0, fmt.Errorf("not a number")
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("not a number")
	}
	switch strings.ToLower(unit) {
	case "":
		f *= 1000
	case "ms", "msec":
	case "us", "usec":
		f /= 1000
	default:
		return 0, fmt.Errorf("unknown unit %q (want none for seconds, ms or us)", unit)
	}
	ms := math.Floor(f + 0.5)
	if ms > math.MaxInt32 {
		return 0, fmt.Errorf("too large")
	}
	return time.Duration(ms) * time.Millisecond, nil
}

type hacfParser struct {
	c          *HACF
	file       string
	line       int
	port       int // udpport in force
	local      string
	failSet    bool // auto_failback or nice_failback seen
	crmSeen    bool // crm or pacemaker seen
	apiClients map[string]bool
	joinAt     int // line of an autojoin other/any
	logd       *bool

	ipfailLine int
	host       *HostChecks
}

func (p *hacfParser) warnf(format string, a ...any) {
	p.c.Warnings = append(p.c.Warnings, Warning{File: p.file, Line: p.line, Msg: fmt.Sprintf(format, a...)})
}

// delims are heartbeat's DELIMS (", \t" and line ends), whitespace its
// WHITESPACE.
const (
	delims     = ", \t\n\r\f"
	whitespace = " \t\n\r\f"
)

func splitAny(s, seps string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(seps, r) })
}

// ParseHACF reads ha.cf.
func ParseHACF(file string, r io.Reader, opt HACFOptions) (*HACF, error) {
	lines, err := readLines(r)
	if err != nil {
		return nil, err
	}
	p := &hacfParser{
		c: &HACF{
			File: file, Lines: map[string]int{}, Hopfudge: 1,
			MsgFmt: "classic", Autojoin: "none", GenMethod: "file", UUIDFrom: "file", Cluster: "linux-ha",
		},
		file:  file,
		local: strings.ToLower(opt.LocalNode),
		port:  opt.DefaultUDPPort,
		host:  opt.Host,
	}
	if p.port == 0 {
		p.port = defaultUDPPort
	}
	p.c.LocalNode = p.local
	if p.local == "" {
		return nil, &Error{File: file, Msg: "local node name unknown"}
	}
	for i, raw := range lines {
		p.line = i + 1
		if err := p.parseLine(raw); err != nil {
			return nil, &Error{File: file, Line: p.line, Msg: err.Error()}
		}
	}
	p.line = 0
	if err := p.finish(); err != nil {
		return nil, err
	}
	return p.c, nil
}

func (p *hacfParser) parseLine(raw string) error {
	s := strings.TrimLeft(raw, whitespace)
	if i := strings.IndexByte(s, '#'); i >= 0 {
		s = s[:i]
	}
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return nil
	}
	n := strings.IndexAny(s, whitespace)
	if n < 0 {
		n = len(s)
	}
	name, rest := s[:n], strings.TrimLeft(s[n:], delims)
	if name == "udp" {
		p.warnf("directive 'udp' replaced by 'bcast'")
		name = "bcast"
	}
	d, ok := directives[name]
	if !ok {
		return fmt.Errorf("Illegal directive [%s]", name)
	}
	if d.kind == wholeLine {
		p.c.Lines[name] = p.line
		return d.fn(p, name+" "+strings.TrimRight(rest, whitespace))
	}
	toks := splitAny(rest, delims)
	if len(toks) == 0 {
		p.warnf("%s without a value: ignored", name)
		return nil
	}
	p.c.Lines[name] = p.line
	for _, t := range toks {
		if err := d.fn(p, t); err != nil {
			return err
		}
	}
	return nil
}

func (p *hacfParser) node(v string) error {
	v = strings.ToLower(v)
	for _, n := range p.c.Nodes {
		if n == v {
			p.warnf("node %s listed twice", v)
			return nil
		}
	}
	for _, g := range p.c.Ping {
		if g.Name == v {
			return fmt.Errorf("node %s is already a ping node", v)
		}
	}
	p.c.Nodes = append(p.c.Nodes, v)
	p.c.NodeLines = append(p.c.NodeLines, p.line)
	return nil
}

func (p *hacfParser) udpport(v string) error {
	n, err := atoi("udpport", v, 1, 65535)
	if err != nil {
		return err
	}
	for _, m := range p.c.Media {
		if m.Kind == Bcast || m.Kind == Ucast || m.Kind == Ucast6 {
			p.warnf("udpport setting must precede media statements: %v on line %d keeps port %d", m.Kind, m.Line, m.Port)
			break
		}
	}
	p.port = n
	return nil
}

func checkDev(dev string) error {
	if dev == "" || len(dev) > 15 || strings.ContainsAny(dev, "/,"+whitespace) || dev == "." || dev == ".." {
		return fmt.Errorf("invalid interface name %q", dev)
	}
	return nil
}

func (p *hacfParser) bcast(dev string) error {
	if err := checkDev(dev); err != nil {
		return err
	}
	if err := p.checkIface("bcast", dev); err != nil {
		return err
	}
	p.c.Media = append(p.c.Media, Medium{Kind: Bcast, Dev: dev, Port: p.port, Line: p.line})
	return nil
}

// fields splits the argument of a whole-line directive (given with its
// name in front) at delimiters.
func fields(line string) (string, []string) {
	t := splitAny(line, delims)
	return t[0], t[1:]
}

// ucast dev peer [peer ...] / ucast6 dev peer [peer ...]: one medium per
// peer.
func (p *hacfParser) ucast(line string) error {
	name, args := fields(line)
	if len(args) < 2 {
		return fmt.Errorf("%s: want %s <interface> <peer address> [...]", name, name)
	}
	if err := checkDev(args[0]); err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	if err := p.checkIface(name, args[0]); err != nil {
		return err
	}
	kind := Ucast
	if name == "ucast6" {
		kind = Ucast6
	}
	for _, peer := range args[1:] {
		if a, err := netip.ParseAddr(peer); err == nil {
			if kind == Ucast && !a.Is4() {
				return fmt.Errorf("ucast: %s is not an IPv4 address (use ucast6)", peer)
			}
			if kind == Ucast6 && !a.Is6() {
				return fmt.Errorf("ucast6: %s is not an IPv6 address", peer)
			}
		} else if !validHost(peer) {
			return fmt.Errorf("%s: invalid peer address %q", name, peer)
		}
		p.c.Media = append(p.c.Media, Medium{Kind: kind, Dev: args[0], Peer: peer, Port: p.port, Line: p.line})
	}
	return nil
}

// validHost accepts something that may be a host name.
func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// mcast dev group port ttl loop / mcast6 dev group port hops loop.
func (p *hacfParser) mcast(line string) error {
	name, args := fields(line)
	if len(args) != 5 {
		return fmt.Errorf("%s: want %s <interface> <group> <port> <ttl> <loop>", name, name)
	}
	if err := checkDev(args[0]); err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	if err := p.checkIface(name, args[0]); err != nil {
		return err
	}
	kind := Mcast
	if name == "mcast6" {
		kind = Mcast6
	}
	g, err := netip.ParseAddr(args[1])
	if err != nil || !g.IsMulticast() || (kind == Mcast) != g.Is4() {
		fam := "IPv4"
		if kind == Mcast6 {
			fam = "IPv6"
		}
		return fmt.Errorf("%s: %q is not an %s multicast group", name, args[1], fam)
	}
	port, err := atoi(name+" port", args[2], 1, 65535)
	if err != nil {
		return err
	}
	ttl, err := atoi(name+" ttl", args[3], 0, 255)
	if err != nil {
		return err
	}
	var loop bool
	switch args[4] {
	case "0":
	case "1":
		loop = true
	default:
		return fmt.Errorf("invalid %s loop %q: want 0 or 1", name, args[4])
	}
	p.c.Media = append(p.c.Media, Medium{Kind: kind, Dev: args[0], Group: g, Port: port, TTL: ttl, Loop: loop, Line: p.line})
	return nil
}

func (p *hacfParser) addPing(g Ping) error {
	for _, n := range p.c.Nodes {
		if n == g.Name {
			return fmt.Errorf("ping node %s is already a node", g.Name)
		}
	}
	for _, o := range p.c.Ping {
		if o.Name == g.Name {
			return fmt.Errorf("ping node %s defined twice", g.Name)
		}
	}
	for _, a := range g.Addrs {
		if _, err := netip.ParseAddr(a); err != nil && !validHost(a) {
			return fmt.Errorf("invalid ping address %q", a)
		}
	}
	p.c.Ping = append(p.c.Ping, g)
	return nil
}

func (p *hacfParser) ping(v string) error {
	return p.addPing(Ping{Name: strings.ToLower(v), Addrs: []string{v}, Line: p.line})
}

// ping6 is heartbeat's ping6 medium: a ping node per IPv6 address (or
// host name).
func (p *hacfParser) ping6(v string) error {
	if a, err := netip.ParseAddr(v); err == nil && !a.Is6() {
		return fmt.Errorf("ping6: %s is not an IPv6 address (use ping)", v)
	}
	return p.addPing(Ping{Name: strings.ToLower(v), Addrs: []string{v}, Line: p.line})
}

func (p *hacfParser) pingGroup(line string) error {
	_, args := fields(line)
	if len(args) < 2 {
		return fmt.Errorf("ping_group: want ping_group <name> <address> [...]")
	}
	return p.addPing(Ping{Name: strings.ToLower(args[0]), Addrs: args[1:], Group: true, Line: p.line})
}

func (p *hacfParser) autoFailback(v string) error {
	p.failSet = true
	if strings.EqualFold(v, "legacy") {
		p.c.AutoFailback = FailbackLegacy
		return nil
	}
	on, err := parseBool("auto_failback", v)
	if err != nil {
		return fmt.Errorf("invalid auto_failback %q: want on, off or legacy", v)
	}
	p.c.AutoFailback = FailbackOff
	if on {
		p.c.AutoFailback = FailbackOn
	}
	return nil
}

// niceFailback reads the obsolete nice_failback as heartbeat 3.0.6 does,
// which looks at the state before the line, not at the value (any
// boolean): after an auto_failback on/off the line becomes
// 'auto_failback off', otherwise 'auto_failback legacy' (so
// "nice_failback on" alone selects the legacy protocol).
func (p *hacfParser) niceFailback(v string) error {
	if _, err := parseBool("nice_failback", v); err != nil {
		return err
	}
	if p.failSet && p.c.AutoFailback != FailbackLegacy {
		p.c.AutoFailback = FailbackOff
		p.warnf("nice_failback flag is obsolete: 'nice_failback %s' has been changed to 'auto_failback off'", v)
	} else {
		p.c.AutoFailback = FailbackLegacy
		p.warnf("nice_failback flag is obsolete: nice_failback %s has been strictly interpreted as 'auto_failback legacy' "+
			"(heartbeat 3.0.6 reads it so unless an auto_failback line comes first); write auto_failback on, off or legacy", v)
	}
	p.failSet = true
	return nil
}

var facilities = map[string]bool{
	"auth": true, "authpriv": true, "cron": true, "daemon": true, "ftp": true, "kern": true,
	"lpr": true, "mail": true, "news": true, "syslog": true, "user": true, "uucp": true,
	"local0": true, "local1": true, "local2": true, "local3": true, "local4": true,
	"local5": true, "local6": true, "local7": true, "none": true,
}

func (p *hacfParser) logFacility(v string) error {
	if !facilities[v] {
		return fmt.Errorf("invalid logfacility %q: want a syslog facility (daemon, local0..local7, ...) or none", v)
	}
	p.c.LogFacility = v
	return nil
}

func (p *hacfParser) useLogd(v string) error {
	b, err := parseBool("use_logd", v)
	if err != nil {
		return err
	}
	p.logd = &b
	return nil
}

// child parses "respawn user /path [args]" and "failfast user /path".
func (p *hacfParser) child(line string) error {
	name, rest, _ := strings.Cut(line, " ")
	toks := splitAny(rest, whitespace)
	if len(toks) < 2 {
		return fmt.Errorf("%s: want %s <user> </path/to/program> [arguments]", name, name)
	}
	user, args := toks[0], toks[1:]
	if !path.IsAbs(args[0]) {
		return fmt.Errorf("%s: Client child command [%s] is not full pathname", name, args[0])
	}
	if h := p.host; h != nil {
		if h.UserExists != nil && !h.UserExists(user) {
			return fmt.Errorf("%s: Invalid uid [%s] specified for client child", name, user)
		}
		if h.Executable != nil && !h.Executable(args[0]) {
			// ipfail runs in-process here; heartbeat would refuse the
			// line, so say so without refusing a config that works.
			if name == "respawn" && path.Base(args[0]) == "ipfail" {
				p.warnf("respawn: Client child command [%s] is not executable: heartbeat would not start; ipfail runs in-process here", args[0])
			} else {
				return fmt.Errorf("%s: Client child command [%s] is not executable", name, args[0])
			}
		}
	}
	cmd := strings.TrimLeft(strings.TrimLeft(rest, whitespace)[len(user):], whitespace)
	c := Child{User: user, Path: args[0], Args: args[1:], Command: cmd, Line: p.line}
	if name == "failfast" {
		p.warnf("failfast %s: not supported (this implementation never reboots the node); the program is not run", c.Path)
		p.c.Failfast = append(p.c.Failfast, c)
		return nil
	}
	if path.Base(c.Path) == "ipfail" {
		p.c.IPFail, p.ipfailLine = true, p.line
		return nil
	}
	p.c.Respawn = append(p.c.Respawn, c)
	return nil
}

func (p *hacfParser) crm(v string) error {
	if p.crmSeen {
		return fmt.Errorf("pacemaker/crm directive used multiple times!")
	}
	p.crmSeen = true
	switch strings.ToLower(v) {
	case "off", "false", "no", "n", "0":
		return nil
	case "on", "true", "yes", "y", "1", "respawn", "minimal", "manual", "ccm-only", "valgrind":
		return fmt.Errorf("crm %s selects Pacemaker (CRM) cluster management, which is out of scope: "+
			"this implementation runs heartbeat's v1 haresources mode only; use 'crm off'", v)
	}
	return fmt.Errorf("invalid crm %q: want off (on/respawn/... select Pacemaker, which is not supported)", v)
}

// crmDaemonDir: heartbeat 3.0.6 refuses crm_daemon_dir before the
// crm/pacemaker directive (its order check is inverted) and accepts it
// after; it only matters to Pacemaker.
func (p *hacfParser) crmDaemonDir(v string) error {
	if !p.crmSeen {
		return fmt.Errorf("crm_daemon_dir %s before the crm directive: heartbeat 3.0.6 refuses it there (it accepts it after crm)", v)
	}
	p.warnf("crm_daemon_dir only matters to Pacemaker (crm on): ignored")
	return nil
}

func (p *hacfParser) crmdSpawnsPengine(v string) error {
	if p.crmSeen {
		return fmt.Errorf("If you specify crmd_spawns_pengine, it must come before the pacemaker directive")
	}
	_, err := parseBool("crmd_spawns_pengine", v)
	return err
}

// autojoin: other and any are refused in haresources mode, as heartbeat
// does once the whole file is read (R1 style resource management).
func (p *hacfParser) autojoin(v string) error {
	l := strings.ToLower(v)
	if err := oneOf("autojoin", l, &p.c.Autojoin, "none", "other", "any"); err != nil {
		return fmt.Errorf("Invalid autojoin directive [%s]: want none, other or any", v)
	}
	if l != "none" {
		p.joinAt = p.line
	}
	return nil
}

// stonith TYPE CONFIGFILE: heartbeat loads the plugin and has it read the
// file at start, so a missing file keeps it from starting. Fencing is not
// implemented here: a usable line is a warning.
func (p *hacfParser) stonith(line string) error {
	_, args := fields(line)
	if len(args) == 0 {
		return fmt.Errorf("No Stonith type given")
	}
	file := ""
	if len(args) > 1 {
		file = strings.Join(args[1:], " ")
	}
	if h := p.host; h != nil && h.Readable != nil && (file == "" || !h.Readable(file)) {
		return fmt.Errorf("stonith %s: Cannot open its configuration file %q", args[0], file)
	}
	p.warnf("stonith is not supported and is ignored: a dead peer's resources are taken over without fencing it")
	return nil
}

// apiauth CLIENT [uid=LIST] [gid=LIST]: the client API's permissions
// (no client API here, so only checked).
func (p *hacfParser) apiauth(line string) error {
	// fields splits at commas too: "uid=a,b" is "uid=a" and "b".
	_, args := fields(line)
	bad := func(why string) error {
		return fmt.Errorf("Invalid apiauth directive [%s]: %s (apiauth client [uid=uidlist] [gid=gidlist])",
			strings.TrimPrefix(line, "apiauth "), why)
	}
	if len(args) == 0 {
		return bad("no client")
	}
	client := args[0]
	var uids, gids []string
	var cur *[]string
	for _, a := range args[1:] {
		switch {
		case strings.HasPrefix(a, "uid="):
			if uids != nil {
				return bad("Duplicate uid list")
			}
			uids, cur = []string{}, &uids
			a = a[4:]
		case strings.HasPrefix(a, "gid="):
			if gids != nil {
				return bad("Duplicate gid list")
			}
			gids, cur = []string{}, &gids
			a = a[4:]
		case cur == nil:
			return bad("Missing uid or gid")
		}
		if a != "" {
			*cur = append(*cur, a)
		}
	}
	if uids == nil && gids == nil {
		return bad("uid or gid list required")
	}
	if h := p.host; h != nil {
		for _, u := range uids {
			if h.UserExists != nil && !isNumber(u) && !h.UserExists(u) {
				return fmt.Errorf("Invalid user id name [%s] in apiauth %s", u, client)
			}
		}
		for _, g := range gids {
			if h.GroupExists != nil && !isNumber(g) && !h.GroupExists(g) {
				return fmt.Errorf("Invalid group id name [%s] in apiauth %s", g, client)
			}
		}
	}
	if p.apiClients == nil {
		p.apiClients = map[string]bool{}
	}
	if p.apiClients[client] {
		return fmt.Errorf("Duplicate apiauth directive for API client %s", client)
	}
	p.apiClients[client] = true
	return nil
}

func isNumber(s string) bool {
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

func (p *hacfParser) env(v string) error {
	name, _, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("invalid env %q: want NAME=value", v)
	}
	p.c.Env = append(p.c.Env, v)
	return nil
}

// initdeadDefault is heartbeat's initdead when ha.cf has none: deadtime
// above 10 s, 12 s below 6 s, otherwise twice deadtime.
func initdeadDefault(dead time.Duration) time.Duration {
	switch {
	case dead > 10*time.Second:
		return dead
	case dead < 6*time.Second:
		return 12 * time.Second
	}
	return 2 * dead
}

func (p *hacfParser) errAt(directive string, format string, a ...any) error {
	return &Error{File: p.file, Line: p.c.Lines[directive], Msg: fmt.Sprintf(format, a...)}
}

func ms(d time.Duration) int64 { return d.Milliseconds() }

// finish applies defaults and the start-up checks.
func (p *hacfParser) finish() error {
	c := p.c
	c.UDPPort = p.port
	if c.Keepalive == 0 {
		c.Keepalive = time.Second
	}
	if c.Lines["deadtime"] == 0 {
		c.Deadtime = 30 * time.Second
	}
	if c.Warntime == 0 {
		c.Warntime = c.Deadtime / 2
	}
	deadpingSet := c.Lines["deadping"] != 0
	if !deadpingSet {
		c.Deadping = c.Deadtime
	}
	initdeadSet := c.Lines["initdead"] != 0
	if !initdeadSet {
		c.Initdead = initdeadDefault(c.Deadtime)
	}
	if !p.failSet {
		c.AutoFailback = FailbackLegacy
		p.warnf("Deprecated 'legacy' auto_failback option selected (no auto_failback in ha.cf); " +
			"set 'auto_failback on' or 'off' to use the nice_failback protocol")
	}
	// "logfacility none" is no log entry to heartbeat.
	if c.Logfile == "" && c.Debugfile == "" && (c.LogFacility == "" || c.LogFacility == "none") {
		if p.logd != nil && !*p.logd {
			return p.errAt("use_logd", "use_logd is off and none of logfile, debugfile or logfacility is set: nowhere to log")
		}
		c.UseLogd = true
	} else if p.logd != nil {
		c.UseLogd = *p.logd
	}

	if p.joinAt > 0 {
		return &Error{File: p.file, Line: p.joinAt, Msg: "autojoin " + c.Autojoin +
			": R1 style resource management conflicts with autojoin set (haresources mode needs autojoin none)"}
	}
	if c.IPFail && len(c.Ping) == 0 {
		p.c.Warnings = append(p.c.Warnings, Warning{File: p.file, Line: p.ipfailLine,
			Msg: "ipfail without ping or ping_group nodes does nothing"})
	}
	if len(c.Media) == 0 {
		return &Error{File: p.file, Msg: "no communication media configured (bcast, mcast or ucast)"}
	}
	if len(c.Nodes) == 0 {
		return &Error{File: p.file, Msg: "no nodes configured (node directive)"}
	}
	found := false
	for _, n := range c.Nodes {
		found = found || n == p.local
	}
	if !found {
		return &Error{File: p.file, Line: c.Lines["node"],
			Msg: fmt.Sprintf("local node %s is not listed in the node directives (%s)", p.local, strings.Join(c.Nodes, " "))}
	}
	if len(c.Nodes) > 2 {
		p.line = c.NodeLines[2]
		p.warnf("%d nodes: haresources mode moves resource groups between two nodes", len(c.Nodes))
		p.line = 0
	}

	at := "deadtime"
	if c.Lines[at] == 0 {
		at = "keepalive"
	}
	if c.Deadtime <= 2*c.Keepalive {
		return p.errAt(at, "deadtime %d ms is too small compared to keepalive %d ms: it must be more than twice keepalive",
			ms(c.Deadtime), ms(c.Keepalive))
	}
	if deadpingSet && c.Deadping <= 2*c.Keepalive {
		return p.errAt("deadping", "deadping %d ms is too small compared to keepalive %d ms: it must be more than twice keepalive",
			ms(c.Deadping), ms(c.Keepalive))
	}
	if c.Initdead < c.Deadtime {
		return p.errAt("initdead", "initdead %d ms is smaller than deadtime %d ms", ms(c.Initdead), ms(c.Deadtime))
	}
	if c.Initdead < 10*time.Second {
		p.line = c.Lines["initdead"]
		p.warnf("initdead %d ms may be too small: communication may not be up before the peer is declared dead", ms(c.Initdead))
	}
	if c.Warntime <= c.Keepalive || c.Warntime >= c.Deadtime {
		p.line = c.Lines["warntime"]
		p.warnf("warntime %d ms should be between keepalive %d ms and deadtime %d ms", ms(c.Warntime), ms(c.Keepalive), ms(c.Deadtime))
	}
	p.line = 0
	return nil
}
