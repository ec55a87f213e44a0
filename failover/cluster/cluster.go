// Package cluster is the heartbeat v1 (haresources mode) state machine of a
// director: membership (status messages, dead times, links), the reliable
// delivery rules of heartbeat's receive side (generations, sequence numbers,
// retransmission), and the nice_failback / legacy resource protocols,
// including standby, takeover, graceful shutdown, split-brain repair and
// ipfail.
//
// The Machine is pure: it owns no goroutine, socket or clock. The caller
// feeds it authenticated messages (Receive), the passage of time (Tick),
// completions of resource work (ResourcesDone) and operator requests
// (Standby, Takeover, Shutdown, PingStatus); every call returns the Actions
// to carry out, in order. The same inputs always give the same outputs, so
// the whole protocol is tested with a fake clock and an in-memory network.
//
// Resource protocol scope: like heartbeat's nice_failback, the resource
// handshake is defined for two nodes ("local" groups are those whose
// preferred node is us, "foreign" all others). Membership works for any
// number of nodes; New refuses resource groups with more than two nodes.
package cluster

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// FailbackMode is ha.cf auto_failback.
type FailbackMode int

const (
	// FailbackLegacy is heartbeat's default: the ip-request protocol.
	FailbackLegacy FailbackMode = iota
	// FailbackOn: nice_failback, groups return to their preferred node.
	FailbackOn
	// FailbackOff: nice_failback, groups stay where they are.
	FailbackOff
)

func (f FailbackMode) String() string {
	switch f {
	case FailbackOn:
		return "on"
	case FailbackOff:
		return "off"
	}
	return "legacy"
}

// Group is one haresources line: its key (first resource) and preferred node.
type Group struct {
	Key  string
	Node string
}

// Config is what the machine needs from ha.cf and haresources. Node names
// are compared as given; the parser lowercases them as heartbeat does.
type Config struct {
	Node  string   // local node name (uname -n, lowercased)
	Nodes []string // every `node` of ha.cf, the local one included
	// Links names the media (e.g. "eth0", "eth1"). Optional: links are
	// also learnt from Receive; listed ones are reported dead when silent.
	Links  []string
	Groups []Group // haresources order

	Keepalive time.Duration
	Deadtime  time.Duration
	Warntime  time.Duration // 0: Deadtime/2
	Initdead  time.Duration // 0: heartbeat's default from Deadtime
	Deadping  time.Duration // 0: Deadtime

	AutoFailback FailbackMode

	PingNodes []string // ping / ping_group names
	IPFail    bool     // run the ipfail logic (needs PingNodes, nice_failback)

	// SyncSettle: the IPVS connection sync runs. A node then takes no
	// group back from a live peer (auto_failback, legacy ip-request)
	// before SyncSettled says its backup daemon has the peer's
	// connections. Takeover from a dead peer is never delayed.
	SyncSettle bool

	// Generation is this run's heartbeat generation (hg); the caller bumps
	// and persists it on every start (heartbeat: /var/lib/heartbeat/hb_generation).
	Generation uint64
	// History is how many sent messages are kept for retransmission
	// (heartbeat: MAXMSGHIST 500). 0 means 500.
	History int
}

func (c *Config) fill() error {
	if c.Node == "" {
		return errors.New("cluster: no local node name")
	}
	if len(slices.Compact(slices.Sorted(slices.Values(c.Nodes)))) != len(c.Nodes) {
		return errors.New("cluster: duplicate node name")
	}
	if !slices.Contains(c.Nodes, c.Node) {
		return fmt.Errorf("cluster: local node %q is not a configured node", c.Node)
	}
	if c.Keepalive <= 0 {
		return errors.New("cluster: keepalive must be > 0")
	}
	if c.Deadtime <= 2*c.Keepalive {
		return errors.New("cluster: deadtime must be > 2*keepalive")
	}
	if c.Warntime <= 0 {
		c.Warntime = c.Deadtime / 2
	}
	if c.Initdead <= 0 {
		switch {
		case c.Deadtime > 10*time.Second:
			c.Initdead = c.Deadtime
		case c.Deadtime < 6*time.Second:
			c.Initdead = 12 * time.Second
		default:
			c.Initdead = 2 * c.Deadtime
		}
	}
	if c.Initdead < c.Deadtime {
		return errors.New("cluster: initdead must be >= deadtime")
	}
	if c.Deadping <= 0 {
		c.Deadping = c.Deadtime
	}
	if c.Generation == 0 {
		return errors.New("cluster: generation must be > 0")
	}
	if c.History <= 0 {
		c.History = maxMsgHist
	}
	seen := map[string]bool{}
	for _, g := range c.Groups {
		if g.Key == "" || seen[g.Key] {
			return fmt.Errorf("cluster: empty or duplicate group key %q", g.Key)
		}
		seen[g.Key] = true
		if !slices.Contains(c.Nodes, g.Node) {
			return fmt.Errorf("cluster: group %s: node %q is not a configured node", g.Key, g.Node)
		}
	}
	if len(c.Groups) > 0 && len(c.Nodes) > 2 {
		return errors.New("cluster: haresources groups need a two-node cluster (nice_failback and ip-request are two-node protocols)")
	}
	return nil
}

// Msg is one heartbeat message as the machine sees it. The wire codec maps
// t, src, dest, seq and hg to the struct fields (seq and hg are hex on the
// wire) and every other field to Fields; when sending it adds ts, ttl and
// the auth trailer. The machine fills Src, Seq and Gen of what it sends.
type Msg struct {
	Type   string
	Src    string
	Dest   string // "" = to everyone
	Seq    uint64 // 0 for NS_* types (they carry no seq)
	Gen    uint64 // hg
	Fields map[string]string
}

// Get returns a field ("" if absent).
func (m Msg) Get(name string) string { return m.Fields[name] }

func (m Msg) has(name string) bool { _, ok := m.Fields[name]; return ok }

func (m Msg) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "t=%s src=%s", m.Type, m.Src)
	if m.Dest != "" {
		fmt.Fprintf(&b, " dest=%s", m.Dest)
	}
	for _, k := range slices.Sorted(maps.Keys(m.Fields)) {
		fmt.Fprintf(&b, " %s=%s", k, m.Fields[k])
	}
	return b.String()
}

func newMsg(typ string, kv ...string) Msg {
	m := Msg{Type: typ, Fields: make(map[string]string, len(kv)/2)}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Fields[kv[i]] = kv[i+1]
	}
	return m
}

// Action is something the caller must do; see the concrete types.
type Action interface{ action() }

// Send: transmit Msg on every medium (Dest, if set, is a field, not a route).
type Send struct{ Msg Msg }

// Acquire: start the groups in the given order (each group's resources left
// to right, skipping what already runs), announce their addresses, then call
// ResourcesDone(Op, failed, now).
type Acquire struct {
	Op     int
	Groups []string
}

// Release: stop the groups in the given order (each group's resources right
// to left), never announcing anything, then call ResourcesDone(Op, failed, now).
type Release struct {
	Op     int
	Groups []string
}

// Announce: re-send gratuitous ARP / neighbour advertisements for groups we
// already hold (after a split brain, once the other holder has let go).
type Announce struct{ Groups []string }

// NodeState reports a node's new status: init, up, active, dead (cluster
// nodes) or ping, dead (ping nodes).
type NodeState struct{ Node, State string }

// LinkState reports a medium to a node going up or dead.
type LinkState struct {
	Node, Link string
	Up         bool
}

// Level is a log severity.
type Level int

const (
	Debug Level = iota
	Info
	Warn
	Error
	Crit
)

func (l Level) String() string {
	return [...]string{"debug", "info", "WARN", "ERROR", "CRIT"}[l]
}

// Log is a line for the log, worded like heartbeat's where there is one.
type Log struct {
	Level Level
	Text  string
}

// Exit: the graceful shutdown is complete (shutdone has been sent).
type Exit struct{}

func (Send) action()      {}
func (Acquire) action()   {}
func (Release) action()   {}
func (Announce) action()  {}
func (NodeState) action() {}
func (LinkState) action() {}
func (Log) action()       {}
func (Exit) action()      {}

// Node status values.
const (
	stInit   = "init"
	stUp     = "up"
	stActive = "active"
	stDead   = "dead"
	stPing   = "ping"
)

// Machine is one node's heartbeat state. Not safe for concurrent use: the
// caller serialises calls (one goroutine owns it).
type Machine struct {
	cfg Config
	now time.Time
	out []Action

	started, stopped bool
	startedAt        time.Time
	commUp           bool
	status           string
	nextStatus       time.Time

	peers map[string]*peer
	order []string // peer names, sorted: deterministic iteration

	limited map[string]*limitedLog // rate-limited complaints, by kind
	pings   []*pingNode

	tx  outbound // seq.go
	rs  resources
	ipf ipfailState
}

// New checks cfg and returns a machine; Start begins the protocol.
func New(cfg Config) (*Machine, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	m := &Machine{cfg: cfg, peers: map[string]*peer{}, status: stInit}
	for _, n := range cfg.Nodes {
		if n == cfg.Node {
			continue
		}
		m.peers[n] = &peer{name: n, status: stInit, links: map[string]*link{}, hasResources: true}
		m.order = append(m.order, n)
	}
	slices.Sort(m.order)
	for _, p := range slices.Sorted(slices.Values(cfg.PingNodes)) {
		m.pings = append(m.pings, &pingNode{name: p, status: stInit})
	}
	m.tx.init(cfg.History)
	m.rs.init()
	m.rs.syncSettled = !cfg.SyncSettle
	return m, nil
}

// Start sends the first status messages and starts the timers.
func (m *Machine) Start(now time.Time) []Action {
	if m.started {
		return nil
	}
	m.begin(now)
	m.started = true
	m.startedAt = now
	for _, name := range m.order {
		p := m.peers[name]
		p.lastStatus = now
		for _, l := range m.cfg.Links {
			p.links[l] = &link{last: now}
		}
	}
	for _, pn := range m.pings {
		pn.last = now
	}
	m.logf(Info, "starting with generation %d", m.cfg.Generation)
	m.sendStatus() // st=init
	m.status = stUp
	m.sendStatus()
	m.nextStatus = now.Add(m.cfg.Keepalive)
	return m.flush()
}

// Times given to the machine must not go backwards (use readings of
// time.Now, which are monotonic); an earlier time is treated as the latest.

// Tick advances the clock: status messages, dead times, retransmission
// requests and the resource protocol's timers. Call it often (e.g. 50 ms).
func (m *Machine) Tick(now time.Time) []Action {
	if !m.running() {
		return nil
	}
	m.begin(now)
	m.checkTimeouts()
	m.checkCommUp()
	if !now.Before(m.nextStatus) {
		m.sendStatus()
		m.nextStatus = m.nextStatus.Add(m.cfg.Keepalive)
		if !m.nextStatus.After(now) {
			m.nextStatus = now.Add(m.cfg.Keepalive)
		}
	}
	m.rexmitTick()
	m.resourceTick()
	m.ipfailTick()
	return m.flush()
}

// Receive handles one authenticated message that arrived on medium link.
func (m *Machine) Receive(msg Msg, link string, now time.Time) []Action {
	if !m.running() {
		return nil
	}
	m.begin(now)
	if msg.Src == m.cfg.Node {
		return m.flush() // our own packet looped back by the medium
	}
	p := m.peers[msg.Src]
	if p == nil {
		m.logf(Error, "bad node [%s] in message", msg.Src)
		return m.flush()
	}
	m.checkTimeouts() // a late packet must not hide that its sender died
	v := m.classify(p, msg)
	if v.verdict == drop {
		return m.flush()
	}
	m.touchLink(p, link)
	if v.verdict == duplicate {
		return m.flush()
	}
	p.anyPackets = true
	if msg.Type == "status" {
		m.onStatus(p, msg)
		if v.healed {
			m.onPartitionHealed(p)
		}
		m.checkCommUp()
	} else {
		m.checkCommUp()
		m.dispatch(p, msg)
	}
	m.shutdownIfNeeded()
	return m.flush()
}

// ResourcesDone reports that the Acquire or Release with this Op finished;
// failed lists the groups that could not be started (or stopped).
func (m *Machine) ResourcesDone(op int, failed []string, now time.Time) []Action {
	if !m.started {
		return nil
	}
	m.begin(now)
	m.jobDone(op, failed)
	m.shutdownIfNeeded()
	return m.flush()
}

// Standby is hb_standby [all|local|foreign|failback]: hand our groups of
// that kind to the other node ("" = all).
func (m *Machine) Standby(which string, now time.Time) []Action {
	if !m.running() {
		return nil
	}
	m.begin(now)
	m.requestStandby(which)
	return m.flush()
}

// Takeover is hb_takeover [all|local|foreign|failback]: ask the other node
// to hand us groups of that kind ("" = all).
func (m *Machine) Takeover(which string, now time.Time) []Action {
	if !m.running() {
		return nil
	}
	m.begin(now)
	m.requestTakeover(which)
	return m.flush()
}

// Shutdown starts a graceful stop: release everything, send shutdone, Exit.
func (m *Machine) Shutdown(now time.Time) []Action {
	if !m.running() {
		return nil
	}
	m.begin(now)
	m.requestShutdown()
	return m.flush()
}

// PingStatus reports whether a ping node answered (up) or is unreachable.
// A ping node with no "up" report for deadping is dead as well.
func (m *Machine) PingStatus(node string, up bool, now time.Time) []Action {
	if !m.running() {
		return nil
	}
	m.begin(now)
	m.pingReport(node, up)
	return m.flush()
}

// Holding returns the groups this node holds (as reported through
// ResourcesDone), in haresources order.
func (m *Machine) Holding() []string {
	var out []string
	for _, g := range m.cfg.Groups {
		if m.rs.owned[g.Key] {
			out = append(out, g.Key)
		}
	}
	return out
}

// Releasing returns the groups being released now or, after a failed
// stop, waiting to be tried again: still held, so the daemon must not exit
// and leave them to the other node while they may be up.
func (m *Machine) Releasing() []string {
	var out []string
	for _, j := range []*job{m.rs.inflight, m.rs.retry} {
		if j == nil || !j.release {
			continue
		}
		for _, g := range j.todo {
			if m.rs.owned[g] && !slices.Contains(out, g) {
				out = append(out, g)
			}
		}
	}
	return out
}

// Resources is heartbeat's resource state (cl_status rscstatus): none,
// local, foreign or all, or "transition" while anything is in flux.
func (m *Machine) Resources() string {
	if !m.isStable() {
		return "transition"
	}
	return m.rs.hold.String()
}

// CommUp reports whether communications are up (every node heard or dead).
func (m *Machine) CommUp() bool { return m.commUp }

// LastHeard is when a packet from node last arrived on any link (zero if
// never, or for an unknown node).
func (m *Machine) LastHeard(node string) time.Time {
	var t time.Time
	if p := m.peers[node]; p != nil {
		for _, l := range p.links {
			// A link never heard is neither up nor dead; its time is the start.
			if (l.up || l.dead) && l.last.After(t) {
				t = l.last
			}
		}
	}
	return t
}

// NodeStatus returns a peer's status as this node sees it ("" if unknown).
func (m *Machine) NodeStatus(node string) string {
	if p := m.peers[node]; p != nil {
		return p.status
	}
	return ""
}

func (m *Machine) running() bool { return m.started && !m.stopped }

func (m *Machine) begin(now time.Time) {
	if now.After(m.now) {
		m.now = now
	}
}

func (m *Machine) flush() []Action {
	out := m.out
	m.out = nil
	return out
}

func (m *Machine) emit(a Action) { m.out = append(m.out, a) }

func (m *Machine) logf(l Level, format string, args ...any) {
	m.emit(Log{Level: l, Text: fmt.Sprintf(format, args...)})
}

// limitedLogEvery is how often one kind of per-packet complaint is logged.
const limitedLogEvery = 10 * time.Second

// limitedLog is the state of one kind of rate-limited message.
type limitedLog struct {
	last       time.Time
	suppressed int
}

// logLimited logs what a hostile or broken peer can make us say once per
// packet (a replayed capture, malformed requests) at most once every
// limitedLogEvery per kind, with the number of those left out since: the
// packets are still dropped one by one, but the log cannot fill the disk.
func (m *Machine) logLimited(kind string, l Level, format string, args ...any) {
	if m.limited == nil {
		m.limited = map[string]*limitedLog{}
	}
	st := m.limited[kind]
	if st == nil {
		if len(m.limited) >= 64 { // kinds are a fixed set; bound it anyway
			return
		}
		st = &limitedLog{}
		m.limited[kind] = st
	} else if m.now.Sub(st.last) < limitedLogEvery {
		st.suppressed++
		return
	}
	text := fmt.Sprintf(format, args...)
	if st.suppressed > 0 {
		text += fmt.Sprintf(" (%d more like it in the last %s)", st.suppressed, m.now.Sub(st.last).Round(time.Second))
	}
	st.last, st.suppressed = m.now, 0
	m.emit(Log{Level: l, Text: text})
}
