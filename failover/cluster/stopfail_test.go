package cluster

import (
	"strings"
	"testing"
	"time"
)

// A group whose stop fails is still held by the node that could not stop
// it: the other node must not take it until the stop has really succeeded
// (heartbeat reboots rather than let that happen), and the stop is tried
// again until it does.

// runOneHolder advances the clock by d, failing at the first step at which
// a group has two holders.
func (s *sim) runOneHolder(d time.Duration) {
	s.t.Helper()
	end := s.now.Add(d)
	for s.now.Before(end) {
		s.run(s.step)
		for g, h := range s.holders() {
			if len(h) > 1 {
				s.t.Fatalf("at %v: group %s held by %v\n%s", s.now.Sub(t0), g, h, s.dump())
			}
		}
	}
}

func releasesOf(n *simNode, group string) int {
	c := 0
	for _, r := range actionsOf[Release](n, 0) {
		for _, g := range r.Groups {
			if g == group {
				c++
			}
		}
	}
	return c
}

func TestFailedStopStandbyNotHandedOver(t *testing.T) {
	s := stableCluster(t, FailbackOff)
	vm := s.node("vm")
	vm.stopFail[gVM1] = 3
	s.apply(vm, vm.m.Standby("all", s.now))
	s.runOneHolder(40 * time.Second)
	s.expectPlaced(map[string]string{gVM1: "peer", gPeer: "peer", gVM2: "peer"})
	if n := releasesOf(vm, gVM1); n != 4 {
		t.Errorf("vm released %s %d times, want 4 (3 failures, then success)", gVM1, n)
	}
	if !hasLog(vm, 0, "Resource group "+gVM1+" failed to stop") {
		t.Errorf("failed stop not logged")
	}
}

func TestFailedStopShutdownWaits(t *testing.T) {
	s := stableCluster(t, FailbackOn)
	vm, peer := s.node("vm"), s.node("peer")
	peer.stopFail[gPeer] = 2
	from := len(s.trace)
	s.apply(peer, peer.m.Shutdown(s.now))
	s.runOneHolder(3 * time.Second)
	if !peer.up || vm.held[gPeer] {
		t.Fatalf("peer exited (up=%v) or vm took %s while peer could not stop it", peer.up, gPeer)
	}
	for _, l := range s.protocol(from) {
		if strings.Contains(l, "shutdone") {
			t.Fatalf("shutdone sent while %s failed to stop", gPeer)
		}
	}
	s.runOneHolder(30 * time.Second)
	if peer.up {
		t.Fatalf("peer did not exit once its stop succeeded\n%s", s.dump())
	}
	s.expectPlaced(map[string]string{gVM1: "vm", gPeer: "vm", gVM2: "vm"})
}

func TestFailedStopAutoFailback(t *testing.T) {
	s := stableCluster(t, FailbackOn)
	failOver(t, s)
	s.node("vm").stopFail[gPeer] = 2
	s.runOneHolder(40 * time.Second)
	s.expectPlaced(preferred)
}

// A stop that never succeeds: the group stays where it is, the stop is
// tried again with a bounded back-off, and the peer never gets it.
func TestFailedStopForever(t *testing.T) {
	s := stableCluster(t, FailbackOff)
	vm, peer := s.node("vm"), s.node("peer")
	vm.stopFail[gVM1] = -1
	s.apply(vm, vm.m.Standby("all", s.now))
	s.runOneHolder(10 * time.Minute)
	if peer.held[gVM1] || !vm.held[gVM1] {
		t.Fatalf("holders %v", s.holders())
	}
	// Back-off capped at stopRetryMax: at least 10 min / cap tries.
	if n := releasesOf(vm, gVM1); n < int(10*time.Minute/(30*time.Second)) || n > 40 {
		t.Errorf("%d stop attempts in 10 min, want between %d and 40", n, int(10*time.Minute/(30*time.Second)))
	}
	if got := vm.m.Releasing(); len(got) != 1 || got[0] != gVM1 {
		t.Errorf("Releasing() = %v, want [%s]", got, gVM1)
	}
	if vm.m.Resources() != "transition" {
		t.Errorf("resources %q while a stop is failing, want transition", vm.m.Resources())
	}
}
