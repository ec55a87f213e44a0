package cluster

import (
	"strings"
	"testing"
	"time"
)

func TestLegacy(t *testing.T) {
	s := newSim(t, testConfig("vm", 100, FailbackLegacy), testConfig("peer", 200, FailbackLegacy))
	s.start("vm")
	s.start("peer")
	s.runUntil(3*time.Second, "initial placement", func() bool { return s.placed(preferred) })
	if got := s.protocol(0); len(got) != 0 {
		t.Errorf("legacy start sent %v (both alone at comm up: no ip-request)", got)
	}
	s.run(2 * time.Second)

	s.kill("peer")
	s.runUntil(15*time.Second, "takeover", func() bool {
		return s.placed(map[string]string{gVM1: "vm", gPeer: "vm", gVM2: "vm"})
	})
	s.run(5 * time.Second)
	s.node("peer").held = map[string]bool{}
	from := len(s.trace)
	s.restart("peer")
	s.runUntil(5*time.Second, "failback", func() bool { return s.placed(preferred) })
	want := []string{
		"peer ip-request ipaddr=" + gPeer,
		"vm ip-request-resp dest=peer ipaddr=" + gPeer + " ok=OK weown=yes",
	}
	if got := s.protocol(from); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("legacy failback:\n%s", diffLines(got, want))
	}
	vm := s.node("vm")
	s.apply(vm, vm.m.Standby("all", s.now))
	if !hasLog(vm, 0, "standby needs auto_failback on or off, not legacy") {
		t.Errorf("standby in legacy mode not refused")
	}
}
