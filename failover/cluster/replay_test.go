package cluster

import (
	"slices"
	"testing"
	"time"
)

// captured returns every message node sent so far (as a sniffer on the
// heartbeat link would have recorded them).
func (s *sim) captured(node string) []Msg {
	var out []Msg
	for _, x := range s.trace {
		if x.node == node {
			out = append(out, x.msg)
		}
	}
	return out
}

// replayTo puts a capture on the wire again, as if from its sender, to one
// node on eth0.
func (s *sim) replayTo(to string, capture []Msg) {
	for _, m := range capture {
		s.wire = append(s.wire, delivery{at: s.now, from: m.Src, to: to, link: "eth0", msg: m})
	}
}

// replayWhile runs d, replaying the capture to "to" every 200 ms.
func (s *sim) replayWhile(d time.Duration, to string, capture []Msg, check func()) {
	end := s.now.Add(d)
	for s.now.Before(end) {
		s.replayTo(to, capture)
		s.run(200 * time.Millisecond)
		check()
	}
}

// A capture of peer, replayed at vm all through peer's death, vm's takeover
// and long after, must change nothing: packets vm has already seen (or
// older ones) never bring a dead node back or move a group. The capture
// holds resource messages of every kind: starting, resource isstable=0/1
// with each rsc_hold, ask_resources me/other/done (a standby each way) and,
// in legacy mode, ip-request.
func TestReplayAfterDeathChangesNothing(t *testing.T) {
	all := map[string]string{gVM1: "vm", gPeer: "vm", gVM2: "vm"}
	for _, mode := range []FailbackMode{FailbackOn, FailbackOff, FailbackLegacy} {
		t.Run(mode.String(), func(t *testing.T) {
			s := stableCluster(t, mode)
			vm, peer := s.node("vm"), s.node("peer")
			if mode == FailbackLegacy {
				// A legacy failback: peer restarts and asks for its group.
				s.kill("peer")
				s.runUntil(15*time.Second, "takeover", func() bool { return s.placed(all) })
				s.run(5 * time.Second)
				peer.held = map[string]bool{}
				s.restart("peer")
				s.runUntil(5*time.Second, "failback", func() bool { return s.placed(preferred) })
			} else {
				s.apply(peer, peer.m.Standby("", s.now))
				s.runUntil(5*time.Second, "peer standby", func() bool { return s.placed(all) })
				s.run(2 * time.Second)
				s.apply(vm, vm.m.Standby("foreign", s.now))
				s.runUntil(5*time.Second, "vm standby foreign", func() bool { return s.placed(preferred) })
			}
			s.run(2 * time.Second)
			capture := s.captured("peer")
			types := map[string]bool{}
			for _, m := range capture {
				types[m.Type] = true
			}
			wantTypes := []string{"status", "ip-request"}
			if mode != FailbackLegacy {
				wantTypes = []string{"status", "starting", "resource", "ask_resources"}
			}
			for _, ty := range wantTypes {
				if !types[ty] {
					t.Fatalf("capture has no %s message: %v", ty, types)
				}
			}

			from := len(vm.acts)
			s.kill("peer")
			peer.held = map[string]bool{} // not running: holds nothing that counts
			s.replayWhile(20*time.Second, "vm", capture, func() {})
			if !s.placed(all) {
				t.Fatalf("vm did not take over under replay: holders %v\n%s", s.holders(), s.dump())
			}
			// And after the takeover: still vm's, peer still dead.
			s.replayWhile(15*time.Second, "vm", capture, func() {
				if !s.placed(all) {
					t.Fatalf("replay after takeover moved a group: holders %v\n%s", s.holders(), s.dump())
				}
				if st := vm.m.NodeStatus("peer"); st != stDead {
					t.Fatalf("replay made dead peer %q", st)
				}
			})
			if rel := actionsOf[Release](vm, from); len(rel) != 0 {
				t.Errorf("vm released under replay: %v", rel)
			}
			if ns := slices.DeleteFunc(actionsOf[NodeState](vm, from), func(x NodeState) bool {
				return x.Node != "peer" || x.State == stDead
			}); len(ns) != 0 {
				t.Errorf("replay changed peer's state at vm: %v", ns)
			}
		})
	}
}

// A node declared dead comes back as heartbeat lets it: with newer
// sequence numbers (a healed partition) or a higher generation (a restart).
func TestDeadNodeReturnsOnlyWithNewerPackets(t *testing.T) {
	f := newFed(t, testConfig("vm", 100, FailbackOn))
	for range 3 {
		f.recv(f.msg("status", "st", "active", "dt", "2710"), "eth0")
	}
	old := f.msg("status", "st", "active", "dt", "2710")
	f.recv(old, "eth0")
	rsc := f.msg("resource", "rsc_hold", "local", "rtype", "full", "isstable", "1")
	f.recv(rsc, "eth0")
	f.tick(11 * time.Second)
	if st := f.m.NodeStatus("peer"); st != stDead {
		t.Fatalf("peer is %q after deadtime, want dead", st)
	}
	for _, x := range []Msg{old, rsc} {
		acts := f.recv(x, "eth0")
		if st := f.m.NodeStatus("peer"); st != stDead {
			t.Fatalf("replayed seq %d (%s) made peer %q", x.Seq, x.Type, st)
		}
		if n := len(actionsIn[LinkState](acts)) + len(sends(acts)); n != 0 {
			t.Errorf("replayed seq %d (%s) did something: %v", x.Seq, x.Type, acts)
		}
	}
	// The genuine next status (a healed partition) is taken.
	acts := f.recv(f.msg("status", "st", "active", "dt", "2710"), "eth0")
	if st := f.m.NodeStatus("peer"); st != stActive {
		t.Fatalf("newer status after death: peer is %q, want active\n%s", st, logs(acts))
	}
	// So is a restart (higher generation, seq from 1), after another death.
	f.tick(11 * time.Second)
	f.gen++
	f.seq = 0
	acts = f.recv(f.msg("status", "st", "init"), "eth0")
	if st := f.m.NodeStatus("peer"); st != stInit {
		t.Fatalf("restarted peer is %q, want init\n%s", st, logs(acts))
	}
}

// A healed partition starts from the returning node's current state: what
// it sent while it was held dead is not asked for again (and, being older
// than its return, would be dropped anyway).
func TestHealedNodeNotAskedForThePartition(t *testing.T) {
	s := stableCluster(t, FailbackOn)
	s.block = func(_, _, _ string, _ Msg) bool { return true }
	s.run(15 * time.Second)
	s.block = nil
	from := len(s.trace)
	s.run(3 * time.Second)
	if !hasLog(s.node("vm"), 0, "node peer returning after partition") {
		t.Fatalf("partition heal not seen")
	}
	for _, x := range s.trace[from:] {
		if x.node == "vm" && x.msg.Type == "NS_rexmit" {
			t.Errorf("vm asked the healed peer for the partition's messages: %s", x.msg)
		}
	}
	s.runUntil(5*time.Second, "one holder per group", func() bool { return s.placed(preferred) })
}
