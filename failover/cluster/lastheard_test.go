package cluster

import (
	"testing"
	"time"
)

// LastHeard follows the peer's packets: recent while it talks, frozen
// once it is dead, zero for a node never heard or unknown.
func TestLastHeard(t *testing.T) {
	s := newSim(t, testConfig("vm", 1, FailbackOn), testConfig("peer", 1, FailbackOn))
	s.start("vm")
	if !s.node("vm").m.LastHeard("peer").IsZero() {
		t.Fatal("b heard before it started")
	}
	s.start("peer")
	s.run(15 * time.Second)
	a := s.node("vm").m
	if got := s.now.Sub(a.LastHeard("peer")); got < 0 || got > 2*a.cfg.Keepalive {
		t.Fatalf("b last heard %v ago, keepalive %v", got, a.cfg.Keepalive)
	}
	s.kill("peer")
	killed := s.now
	s.run(15 * time.Second)
	if last := a.LastHeard("peer"); last.After(killed) || killed.Sub(last) > 2*a.cfg.Keepalive {
		t.Fatalf("b last heard at %v, killed at %v", last, killed)
	}
	if !a.LastHeard("nobody").IsZero() {
		t.Fatal("unknown node heard")
	}
}
