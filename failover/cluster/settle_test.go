package cluster

import (
	"strings"
	"testing"
	"time"
)

// syncCluster is stableCluster with connection sync on both nodes.
func syncCluster(t *testing.T, mode FailbackMode) *sim {
	t.Helper()
	a, b := testConfig("vm", 100, mode), testConfig("peer", 200, mode)
	a.SyncSettle, b.SyncSettle = true, true
	s := newSim(t, a, b)
	s.start("vm")
	s.start("peer")
	s.settle("vm")
	s.settle("peer")
	s.runUntil(20*time.Second, "initial placement", func() bool { return s.placed(preferred) })
	s.run(2 * time.Second)
	return s
}

func (s *sim) settle(name string) {
	n := s.nodes[name]
	s.apply(n, n.m.SyncSettled(s.now))
}

// A restarted node with sync on does not take its groups back by
// auto_failback before its backup has settled, however long that takes;
// once settled it asks for them and gets them.
func TestSyncSettleDelaysAutoFailback(t *testing.T) {
	s := syncCluster(t, FailbackOn)
	from := failOver(t, s)
	allOnVM := map[string]string{gVM1: "vm", gPeer: "vm", gVM2: "vm"}
	s.runOneHolder(40 * time.Second)
	s.expectPlaced(allOnVM)
	peer := s.node("peer")
	for _, x := range s.trace[from:] {
		if x.node == "peer" && x.msg.Type == "resource" && x.msg.Get("isstable") == "1" {
			t.Fatalf("peer reported stable before settle: %s\n%s", brief(x.node, x.msg), s.dump())
		}
	}
	_ = peer
	if got := s.node("peer").m.Resources(); got != "none" {
		t.Errorf("peer resources %s", got)
	}
	s.settle("peer")
	took := s.runUntil(30*time.Second, "failback after settle", func() bool { return s.placed(preferred) })
	if took > 3*time.Second {
		t.Errorf("failback took %v after settle", took)
	}
	s.runOneHolder(5 * time.Second)
	s.expectPlaced(preferred)
	// peer said it was in flux until settled, stable after.
	var stable []bool
	for _, x := range s.trace[from:] {
		if x.node == "peer" && x.msg.Type == "resource" {
			stable = append(stable, x.msg.Get("isstable") == "1")
		}
	}
	if len(stable) < 2 || stable[0] || !stable[len(stable)-1] {
		t.Errorf("peer's isstable sequence %v: want 0... then 1\n%s", stable, s.dump())
	}
}

// Settled soon after the restart.
func TestSyncSettleSoon(t *testing.T) {
	s := syncCluster(t, FailbackOn)
	failOver(t, s)
	s.run(3 * time.Second)
	s.settle("peer")
	s.runUntil(30*time.Second, "failback", func() bool { return s.placed(preferred) })
	s.runOneHolder(5 * time.Second)
	s.expectPlaced(preferred)
}

// Takeover on the death of the holder is never delayed by the settle
// rule: an unsettled node takes everything as fast as one without sync.
func TestSyncSettleNeverDelaysTakeover(t *testing.T) {
	measure := func(sync bool) time.Duration {
		var s *sim
		if sync {
			s = syncCluster(t, FailbackOn)
		} else {
			s = stableCluster(t, FailbackOn)
		}
		failOver(t, s)
		s.run(5 * time.Second) // peer up, not settled
		s.kill("vm")
		s.node("vm").held = map[string]bool{}
		// vm's groups: with sync, peer has not had its own back yet
		// and takes that one after (one more agent run).
		took := s.runUntil(30*time.Second, "takeover by the unsettled node", func() bool {
			h := s.holders()
			return len(h[gVM1]) == 1 && h[gVM1][0] == "peer" && len(h[gVM2]) == 1 && h[gVM2][0] == "peer"
		})
		s.runUntil(5*time.Second, "all on peer", func() bool {
			return s.placed(map[string]string{gVM1: "peer", gPeer: "peer", gVM2: "peer"})
		})
		return took
	}
	with, without := measure(true), measure(false)
	if with != without {
		t.Errorf("takeover took %v with sync (not settled), %v without", with, without)
	}
}

// Without sync nothing changes: SyncSettled is a no-op and the failback
// runs as heartbeat's.
func TestSyncSettleOffUnchanged(t *testing.T) {
	s := stableCluster(t, FailbackOn)
	from := failOver(t, s)
	s.settle("peer")
	s.runUntil(10*time.Second, "failback", func() bool { return s.placed(preferred) })
	for _, l := range s.protocol(from) {
		if strings.Contains(l, "hb_takeover") || strings.Contains(l, "info=sync") {
			t.Errorf("unexpected %s", l)
		}
	}
}

// auto_failback legacy: the restarted node sends no ip-request before it
// has settled.
func TestSyncSettleLegacy(t *testing.T) {
	s := syncCluster(t, FailbackLegacy)
	from := failOver(t, s)
	s.runOneHolder(30 * time.Second)
	s.expectPlaced(map[string]string{gVM1: "vm", gPeer: "vm", gVM2: "vm"})
	for _, l := range s.protocol(from) {
		if strings.HasPrefix(l, "peer ip-request") {
			t.Fatalf("ip-request before settle: %s", l)
		}
	}
	s.settle("peer")
	s.runUntil(10*time.Second, "legacy failback after settle", func() bool { return s.placed(preferred) })
}

func TestSettleRule(t *testing.T) {
	st := Settle{Min: 5 * time.Second, Quiet: 3 * time.Second, Max: 60 * time.Second}
	st.Start(t0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	steps := []struct {
		t     float64
		conns int
		want  bool
	}{
		{0, 0, false}, {1, 10, false}, {2, 40, false}, {4, 40, false}, // grows, min not reached
		{5, 41, false}, {7, 41, false}, // grew at 5: quiet until 8
		{8, 41, true},
	}
	for _, x := range steps {
		if got := st.Observe(at(x.t), x.conns); got != x.want {
			t.Fatalf("at %vs with %d: settled=%v, want %v", x.t, x.conns, got, x.want)
		}
	}
	// Always growing: the maximum ends the wait.
	st = Settle{Min: 5 * time.Second, Quiet: 3 * time.Second, Max: 20 * time.Second}
	st.Start(t0)
	for i := 0; i <= 20; i++ {
		got := st.Observe(at(float64(i)), i*100)
		if got != (i >= 20) {
			t.Fatalf("growing, at %ds: settled=%v", i, got)
		}
	}
	// Nothing to learn (an idle peer): settled at the minimum.
	st = Settle{Min: 5 * time.Second, Quiet: 3 * time.Second, Max: 20 * time.Second}
	st.Start(t0)
	for i := 0; i <= 5; i++ {
		if got := st.Observe(at(float64(i)), 0); got != (i >= 5) {
			t.Fatalf("idle, at %ds: settled=%v", i, got)
		}
	}
	// Once settled it stays settled.
	if !st.Observe(at(6), 1000) {
		t.Error("unsettled again")
	}
}

// Both nodes starting together, nothing to fail back: the initial
// placement does not wait for the settle (no one holds a group to hand
// back), however long it takes.
func TestSyncSettleColdStartNotDelayed(t *testing.T) {
	place := func(sync bool) time.Duration {
		a, b := testConfig("vm", 100, FailbackOn), testConfig("peer", 200, FailbackOn)
		a.SyncSettle, b.SyncSettle = sync, sync
		s := newSim(t, a, b)
		s.start("vm")
		s.start("peer")
		return s.runUntil(30*time.Second, "initial placement", func() bool { return s.placed(preferred) })
	}
	with, without := place(true), place(false)
	if with != without {
		t.Errorf("initial placement took %v with sync (never settled), %v without", with, without)
	}
}
