package cluster

import (
	"strings"
	"testing"
	"time"
)

func TestIPFailHandsOverAndBack(t *testing.T) {
	mk := func(node string, gen uint64) Config {
		c := testConfig(node, gen, FailbackOn)
		c.PingNodes = []string{"192.0.2.1"}
		c.IPFail = true
		c.Deadping = 5 * time.Second
		return c
	}
	s := newSim(t, mk("vm", 100), mk("peer", 200))
	vmSees := true
	s.node("vm").pinging = func(time.Time) []string {
		if vmSees {
			return []string{"192.0.2.1"}
		}
		return nil
	}
	s.node("peer").pinging = func(time.Time) []string { return []string{"192.0.2.1"} }
	s.start("vm")
	s.start("peer")
	s.runUntil(20*time.Second, "initial placement", func() bool { return s.placed(preferred) })
	s.run(2 * time.Second)

	// vm loses its uplink: after deadping it sees no ping node, peer sees one.
	from := len(s.trace)
	vmSees = false
	took := s.runUntil(10*time.Second, "hand-over", func() bool {
		return s.placed(map[string]string{gVM1: "peer", gPeer: "peer", gVM2: "peer"})
	})
	t.Logf("handed over %v after losing the ping node", took)
	got := s.protocol(from)
	want := []string{
		"vm num_ping_nodes dest=peer num_ping=0",
		"peer you_are_dead dest=vm",
		"vm ask_resources rsc_hold=all info=me",
	}
	if len(got) < 3 || strings.Join(got[:3], "\n") != strings.Join(want, "\n") {
		t.Errorf("ipfail messages:\n%s", diffLines(got, want))
	}
	if ns := actionsOf[NodeState](s.node("vm"), 0); !containsState(ns, NodeState{Node: "192.0.2.1", State: "dead"}) {
		t.Errorf("ping node death not reported: %v", ns)
	}

	// The uplink comes back: counts are balanced and, auto_failback on,
	// peer gives vm its groups back.
	from = len(s.trace)
	vmSees = true
	s.runUntil(10*time.Second, "failback", func() bool { return s.placed(preferred) })
	got = s.protocol(from)
	for len(got) > 0 && !strings.Contains(got[0], "num_ping_nodes") {
		got = got[1:] // the tail of the hand-over
	}
	if len(got) < 3 || got[0] != "vm num_ping_nodes dest=peer num_ping=1" ||
		got[1] != "peer abort_giveup dest=vm" || got[2] != "peer ask_resources rsc_hold=foreign info=me" {
		t.Errorf("after recovery:\n%s", strings.Join(got, "\n"))
	}
}

func containsState(ns []NodeState, x NodeState) bool {
	for _, n := range ns {
		if n == x {
			return true
		}
	}
	return false
}

func TestIPFailBalancedDoesNothing(t *testing.T) {
	mk := func(node string, gen uint64) Config {
		c := testConfig(node, gen, FailbackOn)
		c.PingNodes = []string{"192.0.2.1"}
		c.IPFail = true
		return c
	}
	s := newSim(t, mk("vm", 100), mk("peer", 200))
	up := true
	for _, n := range []string{"vm", "peer"} {
		s.node(n).pinging = func(time.Time) []string {
			if up {
				return []string{"192.0.2.1"}
			}
			return nil
		}
	}
	s.start("vm")
	s.start("peer")
	s.runUntil(20*time.Second, "initial placement", func() bool { return s.placed(preferred) })
	up = false // the router dies for both
	s.run(30 * time.Second)
	s.expectPlaced(preferred)
}
