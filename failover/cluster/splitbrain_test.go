package cluster

import (
	"testing"
	"time"
)

func TestPartitionHeal(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mode  FailbackMode
		block func(from, to, link string, m Msg) bool
	}{
		{"full partition", FailbackOn, func(_, _, _ string, _ Msg) bool { return true }},
		{"full partition, auto_failback off", FailbackOff, func(_, _, _ string, _ Msg) bool { return true }},
		{"vm cannot reach peer", FailbackOn, func(from, _, _ string, _ Msg) bool { return from == "vm" }},
		{"peer cannot reach vm", FailbackOn, func(from, _, _ string, _ Msg) bool { return from == "peer" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := stableCluster(t, tc.mode)
			s.block = tc.block
			s.runUntil(15*time.Second, "double ownership", func() bool {
				h := s.holders()
				return len(h[gVM1]) == 2 || len(h[gPeer]) == 2
			})
			s.run(3 * time.Second)
			s.block = nil
			took := s.runUntil(5*time.Second, "one holder per group", func() bool { return s.placed(preferred) })
			t.Logf("repaired %v after the heal", took)
			s.run(10 * time.Second) // and it stays so
			s.expectPlaced(preferred)
			// The node that gave a group up announced nothing; the keeper
			// announced again once the other let go.
			for _, name := range []string{"vm", "peer"} {
				n := s.node(name)
				for _, a := range actionsOf[Announce](n, 0) {
					for _, g := range a.Groups {
						if preferred[g] != name {
							t.Errorf("%s announced %s it does not prefer", name, g)
						}
					}
				}
			}
			announced := len(actionsOf[Announce](s.node("vm"), 0)) + len(actionsOf[Announce](s.node("peer"), 0))
			if announced == 0 {
				t.Errorf("no keeper re-announced")
			}
		})
	}
}

func TestPartitionHealDetected(t *testing.T) {
	s := stableCluster(t, FailbackOn)
	s.block = func(_, _, _ string, _ Msg) bool { return true }
	s.run(15 * time.Second)
	s.block = nil
	vm := s.node("vm")
	from := len(vm.acts)
	s.run(2 * time.Second)
	if !hasLog(vm, from, "node peer returning after partition") {
		t.Errorf("healed partition not detected")
	}
	if vm.m.NodeStatus("peer") != stActive {
		t.Errorf("peer is %s", vm.m.NodeStatus("peer"))
	}
}
