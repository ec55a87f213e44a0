package cluster

import (
	"strings"
	"testing"
	"time"
)

func TestBothStartTogether(t *testing.T) {
	s := newSim(t, testConfig("vm", 100, FailbackOn), testConfig("peer", 200, FailbackOn))
	s.start("vm")
	s.start("peer")
	s.run(9 * time.Second)
	if h := s.holders(); len(h) != 0 {
		t.Fatalf("groups taken before RQSTDELAY: %v", h)
	}
	took := s.runUntil(5*time.Second, "initial placement", func() bool { return s.placed(preferred) })
	t.Logf("placed %v after RQSTDELAY", 9*time.Second+took)
	for _, name := range []string{"vm", "peer"} {
		if n := s.node(name); n.m.NodeStatus(otherName(name)) != stActive || !n.m.CommUp() {
			t.Errorf("%s: sees %s as %q, comm up %v", name, otherName(name), n.m.NodeStatus(otherName(name)), n.m.CommUp())
		}
	}
	// Both start: starting, then the none/unstable answers, then each takes
	// its own groups once RQSTDELAY expires.
	got := s.protocol(0)
	want := []string{
		"peer starting", "vm starting",
		"vm resource rsc_hold=none rtype=full isstable=0",
		"peer resource rsc_hold=none rtype=full isstable=0",
		// RQSTDELAY expired: take our own groups, say so (stable)...
		"peer resource rsc_hold=local rtype=full isstable=1",
		"vm resource rsc_hold=local rtype=full isstable=1",
		// ...each answers the other's first stable report...
		"vm resource rsc_hold=local rtype=full isstable=1",
		"peer resource rsc_hold=local rtype=full isstable=1",
		// ...and reports again when the acquisition finished.
		"peer resource rsc_hold=local rtype=full isstable=1 info=req_our_resources()",
		"vm resource rsc_hold=local rtype=full isstable=1 info=req_our_resources()",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("start-up messages:\n%s", diffLines(got, want))
	}
}

func otherName(n string) string {
	if n == "vm" {
		return "peer"
	}
	return "vm"
}

func TestStartAloneTakesEverythingAfterInitdead(t *testing.T) {
	s := newSim(t, testConfig("vm", 100, FailbackOn), testConfig("peer", 200, FailbackOn))
	s.start("vm")
	s.run(11900 * time.Millisecond)
	vm := s.node("vm")
	if acq := actionsOf[Acquire](vm, 0); len(acq) > 0 || vm.m.CommUp() {
		t.Fatalf("acted before initdead: %v, comm up %v", acq, vm.m.CommUp())
	}
	s.run(200 * time.Millisecond)
	if !vm.m.CommUp() || vm.m.NodeStatus("peer") != stDead {
		t.Fatalf("after initdead: comm up %v, peer %q", vm.m.CommUp(), vm.m.NodeStatus("peer"))
	}
	acq := actionsOf[Acquire](vm, 0)
	if len(acq) != 1 || strings.Join(acq[0].Groups, " ") != gPeer {
		t.Fatalf("first acquisition = %v, want the dead node's group", acq)
	}
	s.run(12 * time.Second)
	s.expectPlaced(map[string]string{gVM1: "vm", gPeer: "vm", gVM2: "vm"})
	// The captured heartbeat 3.0.6 sequence (evidence/pkts.bin).
	want := []string{
		"vm stonith node=peer result=n_stnth",
		"vm starting",
		"vm resource rsc_hold=foreign info=mach_down",
		"vm resource rsc_hold=all rtype=full isstable=1 info=req_our_resources()",
		"vm resource rsc_hold=all rtype=full isstable=1",
	}
	if got := s.protocol(0); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("messages:\n%s", diffLines(got, want))
	}
}

func TestStatusMessages(t *testing.T) {
	m, err := New(testConfig("vm", 0x6b05269d, FailbackOn))
	if err != nil {
		t.Fatal(err)
	}
	var st []Msg
	collect := func(acts []Action) {
		for _, a := range acts {
			if s, ok := a.(Send); ok && s.Msg.Type == "status" {
				st = append(st, s.Msg)
			}
		}
	}
	collect(m.Start(t0))
	for d := 50 * time.Millisecond; d <= 7*time.Second; d += 50 * time.Millisecond {
		collect(m.Tick(t0.Add(d)))
	}
	if len(st) != 9 {
		t.Fatalf("%d status messages in 7 s, want 2 at start + 7", len(st))
	}
	if st[0].Get("st") != "init" || st[1].Get("st") != "up" || st[0].Seq != 1 || st[1].Seq != 2 {
		t.Errorf("first messages: %v / %v", st[0], st[1])
	}
	// Heartbeat pads its advertised dead time by 2 s for the first 5 s.
	if st[0].Get("dt") != "2ee0" || st[len(st)-1].Get("dt") != "2710" {
		t.Errorf("dt: first %s, last %s; want 2ee0 then 2710", st[0].Get("dt"), st[len(st)-1].Get("dt"))
	}
	for _, x := range st {
		if x.Src != "vm" || x.Gen != 0x6b05269d || x.Dest != "" {
			t.Errorf("bad stamp: %+v", x)
		}
	}
}

func TestDeadOnlyAfterDeadtime(t *testing.T) {
	s := stableCluster(t, FailbackOn)
	vm := s.node("vm")
	from := len(vm.acts)
	s.kill("peer")
	killed := s.now
	// The last status from peer arrived at most one keepalive before.
	s.run(9 * time.Second)
	if len(actionsOf[Acquire](vm, from)) > 0 || vm.m.NodeStatus("peer") == stDead {
		t.Fatalf("took over %v before deadtime", s.now.Sub(killed))
	}
	took := s.runUntil(2*time.Second, "takeover", func() bool { return len(actionsOf[Acquire](vm, from)) > 0 })
	t.Logf("takeover %v after the kill", 9*time.Second+took)
	s.run(time.Second)
	if h := s.holders(); len(h[gPeer]) != 1 || h[gPeer][0] != "vm" {
		t.Fatalf("holders %v", h)
	}
	if ns := actionsOf[NodeState](vm, from); len(ns) == 0 || ns[0] != (NodeState{Node: "peer", State: stDead}) {
		t.Errorf("node states: %v", ns)
	}
	got := s.protocol(0)
	want := []string{
		"vm stonith node=peer result=n_stnth",
		"vm resource rsc_hold=foreign info=mach_down",
		"vm resource rsc_hold=all rtype=full isstable=1 info=req_our_resources()",
	}
	if tail := got[len(got)-3:]; strings.Join(tail, "\n") != strings.Join(want, "\n") {
		t.Errorf("after death:\n%s", diffLines(tail, want))
	}
}

func TestOneSilentLinkDoesNotKill(t *testing.T) {
	s := stableCluster(t, FailbackOn)
	vm := s.node("vm")
	from := len(vm.acts)
	s.block = func(_, _, link string, _ Msg) bool { return link == "eth1" }
	s.run(30 * time.Second)
	if ns := actionsOf[NodeState](vm, from); len(ns) != 0 {
		t.Fatalf("node state changes: %v", ns)
	}
	ls := actionsOf[LinkState](vm, from)
	if len(ls) != 1 || ls[0] != (LinkState{Node: "peer", Link: "eth1", Up: false}) {
		t.Fatalf("link states: %v", ls)
	}
	s.expectPlaced(preferred)
	s.block = nil
	s.run(2 * time.Second)
	ls = actionsOf[LinkState](vm, from)
	if last := ls[len(ls)-1]; last != (LinkState{Node: "peer", Link: "eth1", Up: true}) {
		t.Errorf("link did not come back: %v", ls)
	}
}

func TestLateHeartbeatWarning(t *testing.T) {
	s := stableCluster(t, FailbackOn)
	vm := s.node("vm")
	from := len(vm.acts)
	s.block = func(from, _, _ string, m Msg) bool { return from == "peer" && m.Type == "status" }
	s.run(6 * time.Second)
	s.block = nil
	s.run(2 * time.Second)
	if !hasLog(vm, from, "late status from peer") {
		t.Errorf("no late heartbeat warning")
	}
	if vm.m.NodeStatus("peer") != stActive {
		t.Errorf("peer is %s", vm.m.NodeStatus("peer"))
	}
}

func TestConfigChecks(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"ok", func(*Config) {}, ""},
		{"no node", func(c *Config) { c.Node = "" }, "no local node"},
		{"not listed", func(c *Config) { c.Node = "other" }, "not a configured node"},
		{"duplicate node", func(c *Config) { c.Nodes = []string{"vm", "peer", "vm"} }, "duplicate node"},
		{"deadtime", func(c *Config) { c.Deadtime = 2 * time.Second }, "deadtime must be > 2*keepalive"},
		{"initdead", func(c *Config) { c.Initdead = 5 * time.Second }, "initdead must be >= deadtime"},
		{"generation", func(c *Config) { c.Generation = 0 }, "generation"},
		{"group node", func(c *Config) { c.Groups[0].Node = "x" }, "not a configured node"},
		{"group key", func(c *Config) { c.Groups[1].Key = gVM1 }, "duplicate group key"},
		{"three nodes", func(c *Config) { c.Nodes = append(c.Nodes, "third") }, "two-node"},
	} {
		c := testConfig("vm", 1, FailbackOn)
		tc.edit(&c)
		_, err := New(c)
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	c := testConfig("vm", 1, FailbackOn)
	c.Initdead, c.Warntime = 0, 0
	c.Deadtime = 20 * time.Second
	m, _ := New(c)
	if m.cfg.Initdead != 20*time.Second || m.cfg.Warntime != 10*time.Second || m.cfg.Deadping != 20*time.Second {
		t.Errorf("defaults: %+v", m.cfg)
	}
	// Membership alone works for more nodes.
	c = testConfig("a", 1, FailbackOn)
	c.Nodes, c.Groups = []string{"a", "b", "c"}, nil
	if _, err := New(c); err != nil {
		t.Errorf("three nodes without groups: %v", err)
	}
}

func TestThreeNodeMembership(t *testing.T) {
	mk := func(n string, gen uint64) Config {
		c := testConfig(n, gen, FailbackOn)
		c.Nodes, c.Groups = []string{"a", "b", "c"}, nil
		return c
	}
	s := newSim(t, mk("a", 1), mk("b", 2), mk("c", 3))
	s.start("a")
	s.start("b")
	s.run(2 * time.Second)
	if s.node("a").m.CommUp() {
		t.Fatalf("comm up without hearing c")
	}
	s.start("c")
	s.run(2 * time.Second)
	for _, n := range []string{"a", "b", "c"} {
		if !s.node(n).m.CommUp() {
			t.Errorf("%s: comm not up", n)
		}
	}
	s.kill("c")
	s.run(12 * time.Second)
	for _, n := range []string{"a", "b"} {
		if st := s.node(n).m.NodeStatus("c"); st != stDead {
			t.Errorf("%s sees c as %s", n, st)
		}
		other := map[string]string{"a": "b", "b": "a"}[n]
		if st := s.node(n).m.NodeStatus(other); st != stActive {
			t.Errorf("%s sees %s as %s", n, other, st)
		}
	}
}

// An advertised dead time is bounded (twice ours, here 20 s): one status
// with dt=ffffffff (49 days) must not keep a silent peer alive. A dt under
// the bound (heartbeat's start-up 12 s) is taken as it is.
func TestAdvertisedDeadtimeClamped(t *testing.T) {
	for _, tc := range []struct {
		dt       string
		deadAt   time.Duration // silent for longer than this: dead
		quietLog bool
	}{
		{"ffffffff", 20 * time.Second, false},
		{"2ee0", 12 * time.Second, true},
		{"4e21", 20 * time.Second, false}, // 20.001 s: just over
	} {
		f := newFed(t, testConfig("vm", 100, FailbackOn))
		f.recv(f.msg("status", "st", "active", "dt", "2710"), "eth0")
		f.recv(f.msg("starting"), "eth0")
		acts := f.recv(f.msg("status", "st", "active", "dt", tc.dt), "eth0")
		if clamped := strings.Contains(logs(acts), "advertises a dead time"); clamped == tc.quietLog {
			t.Errorf("dt=%s: clamp logged %v:\n%s", tc.dt, clamped, logs(acts))
		}
		last := f.now
		for f.m.NodeStatus("peer") != stDead {
			if f.now.Sub(last) > tc.deadAt+time.Second {
				t.Fatalf("dt=%s: peer still %q after %v of silence", tc.dt, f.m.NodeStatus("peer"), f.now.Sub(last))
			}
			f.tick(100 * time.Millisecond)
		}
		if silent := f.now.Sub(last); silent <= tc.deadAt-time.Second {
			t.Errorf("dt=%s: dead after %v, want about %v", tc.dt, silent, tc.deadAt)
		}
	}
}
