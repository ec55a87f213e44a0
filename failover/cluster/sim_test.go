package cluster

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// A simulated cluster: machines wired through an in-memory network that
// can drop, partition and delay, a fake resource agent per node and a fake
// clock advanced in Tick-sized steps.

var t0 = time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)

const (
	gVM1  = "192.0.2.50"
	gPeer = "192.0.2.51"
	gVM2  = "192.0.2.52"
)

func testConfig(node string, gen uint64, mode FailbackMode) Config {
	return Config{
		Node:  node,
		Nodes: []string{"vm", "peer"},
		Links: []string{"eth0", "eth1"},
		Groups: []Group{
			{Key: gVM1, Node: "vm"},
			{Key: gPeer, Node: "peer"},
			{Key: gVM2, Node: "vm"},
		},
		Keepalive:    time.Second,
		Deadtime:     10 * time.Second,
		Warntime:     5 * time.Second,
		Initdead:     12 * time.Second,
		AutoFailback: mode,
		Generation:   gen,
	}
}

type agentOp struct {
	at      time.Time
	op      int
	release bool
	groups  []string
}

type simNode struct {
	name     string
	cfg      Config
	m        *Machine
	up       bool
	held     map[string]bool
	ops      []agentOp
	failed   map[string]bool            // groups whose start fails
	stopFail map[string]int             // groups whose next N stops fail (-1: every one)
	acts     []Action                   // everything it emitted
	pinging  func(t time.Time) []string // ping nodes answering now
	lastPing time.Time
}

type delivery struct {
	at       time.Time
	from, to string
	link     string
	msg      Msg
}

type sent struct {
	at   time.Time
	node string
	msg  Msg
}

type sim struct {
	t          *testing.T
	now        time.Time
	step       time.Duration
	delay      time.Duration
	agentDelay time.Duration
	links      []string
	nodes      map[string]*simNode
	names      []string
	wire       []delivery
	trace      []sent
	// block decides whether a copy of a message is lost.
	block func(from, to, link string, m Msg) bool
}

func newSim(t *testing.T, cfgs ...Config) *sim {
	t.Helper()
	s := &sim{t: t, now: t0, step: 50 * time.Millisecond, delay: time.Millisecond,
		agentDelay: 100 * time.Millisecond, links: []string{"eth0", "eth1"},
		nodes: map[string]*simNode{}}
	for _, c := range cfgs {
		s.nodes[c.Node] = &simNode{name: c.Node, cfg: c, held: map[string]bool{}, failed: map[string]bool{}, stopFail: map[string]int{}}
		s.names = append(s.names, c.Node)
	}
	slices.Sort(s.names)
	return s
}

func (s *sim) node(name string) *simNode { return s.nodes[name] }

// start (re)starts a node with a fresh machine (its generation in cfg).
func (s *sim) start(name string) {
	s.t.Helper()
	n := s.nodes[name]
	m, err := New(n.cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	n.m, n.up, n.ops = m, true, nil
	s.apply(n, m.Start(s.now))
}

// restart starts a node again with the next generation.
func (s *sim) restart(name string) {
	n := s.nodes[name]
	n.cfg.Generation++
	s.start(name)
}

// kill stops a node dead: no ticks, nothing sent or delivered. Its
// resources stay where they were (as after a crash).
func (s *sim) kill(name string) {
	s.nodes[name].up = false
	s.wire = slices.DeleteFunc(s.wire, func(d delivery) bool { return d.from == name })
}

func (s *sim) apply(n *simNode, acts []Action) {
	for _, a := range acts {
		n.acts = append(n.acts, a)
		switch a := a.(type) {
		case Send:
			s.trace = append(s.trace, sent{at: s.now, node: n.name, msg: a.Msg})
			for _, to := range s.names {
				if to == n.name {
					continue
				}
				for _, l := range s.links {
					if s.block != nil && s.block(n.name, to, l, a.Msg) {
						continue
					}
					s.wire = append(s.wire, delivery{at: s.now.Add(s.delay), from: n.name, to: to, link: l, msg: a.Msg})
				}
			}
		case Acquire:
			n.ops = append(n.ops, agentOp{at: s.now.Add(s.agentDelay), op: a.Op, groups: a.Groups})
		case Release:
			n.ops = append(n.ops, agentOp{at: s.now.Add(s.agentDelay), op: a.Op, release: true, groups: a.Groups})
		case Exit:
			n.up = false
		}
	}
}

// deliver hands over every message due by now, in order.
func (s *sim) deliver() {
	for {
		i := slices.IndexFunc(s.wire, func(d delivery) bool { return !d.at.After(s.now) })
		if i < 0 {
			return
		}
		d := s.wire[i]
		s.wire = slices.Delete(s.wire, i, i+1)
		to := s.nodes[d.to]
		if !to.up {
			continue
		}
		s.apply(to, to.m.Receive(d.msg, d.link, s.now))
	}
}

func (s *sim) agents() {
	for _, name := range s.names {
		n := s.nodes[name]
		for len(n.ops) > 0 && !n.ops[0].at.After(s.now) && n.up {
			op := n.ops[0]
			n.ops = n.ops[1:]
			var failed []string
			for _, g := range op.groups {
				if op.release && n.stopFail[g] != 0 {
					n.stopFail[g]--
					failed = append(failed, g) // still held
				} else if op.release {
					delete(n.held, g)
				} else if n.failed[g] {
					failed = append(failed, g)
				} else {
					n.held[g] = true
				}
			}
			s.apply(n, n.m.ResourcesDone(op.op, failed, s.now))
		}
	}
}

func (s *sim) tick() {
	for _, name := range s.names {
		n := s.nodes[name]
		if !n.up {
			continue
		}
		if n.pinging != nil && s.now.Sub(n.lastPing) >= time.Second {
			n.lastPing = s.now
			for _, p := range n.pinging(s.now) {
				s.apply(n, n.m.PingStatus(p, true, s.now))
			}
		}
		s.apply(n, n.m.Tick(s.now))
	}
}

// run advances the clock by d, step by step.
func (s *sim) run(d time.Duration) {
	end := s.now.Add(d)
	for s.now.Before(end) {
		s.now = s.now.Add(s.step)
		s.deliver()
		s.agents()
		s.tick()
		s.deliver()
	}
}

// runUntil advances until cond holds, failing after max.
func (s *sim) runUntil(max time.Duration, what string, cond func() bool) time.Duration {
	s.t.Helper()
	start := s.now
	for !cond() {
		if s.now.Sub(start) > max {
			s.t.Fatalf("after %v: %s never happened\n%s", max, what, s.dump())
		}
		s.run(s.step)
	}
	return s.now.Sub(start)
}

// holders maps each group to the running nodes holding it.
func (s *sim) holders() map[string][]string {
	out := map[string][]string{}
	for _, name := range s.names {
		n := s.nodes[name]
		if !n.up {
			continue
		}
		for g := range n.held {
			out[g] = append(out[g], name)
		}
	}
	return out
}

// placed reports whether every group has exactly the expected holder.
func (s *sim) placed(want map[string]string) bool {
	h := s.holders()
	for g, n := range want {
		if len(h[g]) != 1 || h[g][0] != n {
			return false
		}
	}
	return len(h) == len(want)
}

func (s *sim) expectPlaced(want map[string]string) {
	s.t.Helper()
	if !s.placed(want) {
		s.t.Fatalf("holders = %v, want %v\n%s", s.holders(), want, s.dump())
	}
}

var preferred = map[string]string{gVM1: "vm", gPeer: "peer", gVM2: "vm"}

// protocol returns the non-status, non-NS messages sent since index from.
func (s *sim) protocol(from int) []string {
	var out []string
	for _, x := range s.trace[from:] {
		if x.msg.Type == "status" || strings.HasPrefix(x.msg.Type, "NS_") {
			continue
		}
		out = append(out, brief(x.node, x.msg))
	}
	return out
}

// brief renders "node type k=v ..." with the resource fields first.
func brief(node string, m Msg) string {
	b := []string{node, m.Type}
	if m.Dest != "" {
		b = append(b, "dest="+m.Dest)
	}
	first := []string{"rsc_hold", "rtype", "isstable", "info"}
	for _, k := range first {
		if v, ok := m.Fields[k]; ok {
			b = append(b, k+"="+v)
		}
	}
	for _, k := range sortedKeys(m.Fields) {
		if !slices.Contains(first, k) {
			b = append(b, k+"="+m.Fields[k])
		}
	}
	return strings.Join(b, " ")
}

func (s *sim) dump() string {
	var b strings.Builder
	for _, x := range s.trace {
		if x.msg.Type == "status" {
			continue
		}
		fmt.Fprintf(&b, "  %6.2fs %s\n", x.at.Sub(t0).Seconds(), brief(x.node, x.msg))
	}
	for _, name := range s.names {
		for _, a := range s.nodes[name].acts {
			if l, ok := a.(Log); ok && l.Level >= Warn {
				fmt.Fprintf(&b, "  %s log %s %s\n", name, l.Level, l.Text)
			}
		}
	}
	return b.String()
}

// actionsOf returns the actions of a type a node emitted since index from.
func actionsOf[T Action](n *simNode, from int) []T {
	var out []T
	for _, a := range n.acts[from:] {
		if x, ok := a.(T); ok {
			out = append(out, x)
		}
	}
	return out
}

func hasLog(n *simNode, from int, substr string) bool {
	for _, l := range actionsOf[Log](n, from) {
		if strings.Contains(l.Text, substr) {
			return true
		}
	}
	return false
}

// stableCluster starts both nodes together and waits for the initial placement.
func stableCluster(t *testing.T, mode FailbackMode) *sim {
	t.Helper()
	s := newSim(t, testConfig("vm", 100, mode), testConfig("peer", 200, mode))
	s.start("vm")
	s.start("peer")
	s.runUntil(20*time.Second, "initial placement", func() bool { return s.placed(preferred) })
	s.run(2 * time.Second)
	return s
}

func diffLines(got, want []string) string {
	var b strings.Builder
	for i := 0; i < max(len(got), len(want)); i++ {
		g, w := "", ""
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		mark := "  "
		if g != w {
			mark = "! "
		}
		fmt.Fprintf(&b, "%s%-60s | %s\n", mark, g, w)
	}
	return b.String()
}
