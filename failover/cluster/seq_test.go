package cluster

import (
	"strings"
	"testing"
	"time"
)

// fed drives one machine by hand, as the peer "peer" with generation gen.
type fed struct {
	t   *testing.T
	m   *Machine
	now time.Time
	seq uint64
	gen uint64
}

func newFed(t *testing.T, cfg Config) *fed {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &fed{t: t, m: m, now: t0, gen: 500}
	m.Start(t0)
	return f
}

// msg builds the peer's next message (seq assigned unless NS_).
func (f *fed) msg(typ string, kv ...string) Msg {
	x := newMsg(typ, kv...)
	x.Src, x.Gen = "peer", f.gen
	if !strings.HasPrefix(typ, "NS_") {
		f.seq++
		x.Seq = f.seq
	}
	return x
}

func (f *fed) recv(x Msg, link string) []Action {
	f.now = f.now.Add(10 * time.Millisecond)
	return f.m.Receive(x, link, f.now)
}

func (f *fed) tick(d time.Duration) []Action {
	f.now = f.now.Add(d)
	return f.m.Tick(f.now)
}

func sends(acts []Action) []Msg {
	var out []Msg
	for _, a := range acts {
		if s, ok := a.(Send); ok {
			out = append(out, s.Msg)
		}
	}
	return out
}

func logs(acts []Action) string {
	var b strings.Builder
	for _, a := range acts {
		if l, ok := a.(Log); ok {
			b.WriteString(l.Text + "\n")
		}
	}
	return b.String()
}

func TestReplayedGenerationIgnored(t *testing.T) {
	f := newFed(t, testConfig("vm", 100, FailbackOn))
	f.recv(f.msg("status", "st", "up", "dt", "2710"), "eth0")
	f.recv(f.msg("starting"), "eth0")
	// A captured "starting" from the previous generation, replayed.
	old := newMsg("starting")
	old.Src, old.Gen, old.Seq = "peer", f.gen-1, f.seq+1
	acts := f.recv(old, "eth0")
	if len(sends(acts)) != 0 || !strings.Contains(logs(acts), "attempted replay attack from peer? generation 499 < 500, dropped") {
		t.Fatalf("replay not dropped: %v", acts)
	}
	// The next genuine message (same seq number) is still accepted.
	if acts := f.recv(f.msg("status", "st", "active"), "eth0"); len(actionsIn[NodeState](acts)) != 1 {
		t.Errorf("genuine message after replay: %v", acts)
	}
}

func actionsIn[T Action](acts []Action) []T {
	var out []T
	for _, a := range acts {
		if x, ok := a.(T); ok {
			out = append(out, x)
		}
	}
	return out
}

func TestRestartResetsSequenceTracking(t *testing.T) {
	f := newFed(t, testConfig("vm", 100, FailbackOn))
	for range 5 {
		f.recv(f.msg("status", "st", "active"), "eth0")
	}
	f.gen++ // peer restarted: seq starts again at 1
	f.seq = 0
	acts := f.recv(f.msg("status", "st", "init"), "eth0")
	if !strings.Contains(logs(acts), "Heartbeat restart on node peer") {
		t.Errorf("restart not noticed:\n%s", logs(acts))
	}
	if ns := actionsIn[NodeState](acts); len(ns) != 1 || ns[0].State != "init" {
		t.Errorf("status after restart not taken: %v", acts)
	}
	// Seq 2 follows in order: no gap, no rexmit.
	f.recv(f.msg("status", "st", "up"), "eth0")
	if len(f.m.peers["peer"].track.missing) != 0 {
		t.Errorf("missing after restart: %v", f.m.peers["peer"].track.missing)
	}
}

func TestDuplicateOnSecondLinkProcessedOnce(t *testing.T) {
	f := newFed(t, testConfig("vm", 100, FailbackOn))
	f.recv(f.msg("status", "st", "up"), "eth0")
	f.tick(0)
	st := f.msg("starting")
	a1 := f.recv(st, "eth0")
	a2 := f.recv(st, "eth1")
	if len(sends(a1)) == 0 {
		t.Fatalf("first copy ignored")
	}
	if len(sends(a2)) != 0 {
		t.Errorf("second copy processed: %v", sends(a2))
	}
	if ls := actionsIn[LinkState](a2); len(ls) != 1 || ls[0] != (LinkState{Node: "peer", Link: "eth1", Up: true}) {
		t.Errorf("duplicate did not refresh its link: %v", a2)
	}
}

func TestGapRequestsRetransmission(t *testing.T) {
	f := newFed(t, testConfig("vm", 100, FailbackOn))
	f.recv(f.msg("status", "st", "up"), "eth0") // seq 1
	f.msg("status", "st", "up")                 // seq 2, 3, 4 lost
	f.msg("status", "st", "up")
	f.msg("status", "st", "up")
	acts := f.recv(f.msg("status", "st", "up"), "eth0") // seq 5
	if !strings.Contains(logs(acts), "peer: 3 message(s) missing between seq 1 and 5") {
		t.Errorf("gap not logged:\n%s", logs(acts))
	}
	if len(sends(acts)) != 0 {
		t.Errorf("asked at once (should wait for reordering): %v", sends(acts))
	}
	req := sends(f.tick(60 * time.Millisecond))
	if len(req) != 1 || req[0].Type != "NS_rexmit" || req[0].Dest != "peer" ||
		req[0].Get("firstseq") != "2" || req[0].Get("lastseq") != "4" || req[0].Seq != 0 {
		t.Fatalf("request: %v", req)
	}
	// seq 3 arrives late; 2 and 4 are asked again after max_rexmit_delay.
	late := newMsg("status", "st", "up")
	late.Src, late.Gen, late.Seq = "peer", f.gen, 3
	f.recv(late, "eth1")
	if req := sends(f.tick(100 * time.Millisecond)); len(req) != 0 {
		t.Errorf("asked again too soon: %v", req)
	}
	req = sends(f.tick(200 * time.Millisecond))
	if len(req) != 2 || req[0].Get("firstseq") != "2" || req[0].Get("lastseq") != "2" ||
		req[1].Get("firstseq") != "4" || req[1].Get("lastseq") != "4" {
		t.Errorf("second request: %v", req)
	}
	// A NAK for 2 and the retransmitted 4 end it.
	nak := f.msg("NS_nak_rexmit", "firstseq", "2", "info", "seqno too low")
	nak.Dest = "vm"
	acts = f.recv(nak, "eth0")
	if !strings.Contains(logs(acts), "peer cannot resend seq 2: it is lost") {
		t.Errorf("nak: %s", logs(acts))
	}
	four := newMsg("status", "st", "up")
	four.Src, four.Gen, four.Seq = "peer", f.gen, 4
	acts = f.recv(four, "eth0")
	if !strings.Contains(logs(acts), "peer: all missing messages recovered") {
		t.Errorf("retransmission not accepted: %s", logs(acts))
	}
	if req := sends(f.tick(time.Second)); len(req) != 0 && req[0].Type == "NS_rexmit" {
		t.Errorf("still asking: %v", req)
	}
}

func TestAnswerRexmitFromHistory(t *testing.T) {
	cfg := testConfig("vm", 100, FailbackOn)
	cfg.History = 8
	f := newFed(t, cfg)
	f.recv(f.msg("status", "st", "up"), "eth0")
	for range 10 {
		f.tick(time.Second) // our status messages
		f.recv(f.msg("status", "st", "active"), "eth0")
	}
	hi := f.m.tx.seq
	ask := func(first, last string, dest string) []Msg {
		r := f.msg("NS_rexmit", "firstseq", first, "lastseq", last)
		r.Dest = dest
		return sends(f.recv(r, "eth0"))
	}
	got := ask("12", "13", "vm")
	if len(got) != 2 || got[0].Seq != 12 || got[1].Seq != 13 || got[0].Type != "status" || got[0].Src != "vm" {
		t.Fatalf("resent %v (max seq %d)", got, hi)
	}
	if got := ask("12", "12", "vm"); len(got) != 0 {
		t.Errorf("resent again within max_rexmit_delay: %v", got)
	}
	if got := ask("13", "13", "other"); len(got) != 0 {
		t.Errorf("answered a request for another node: %v", got)
	}
	got = ask("2", "2", "vm") // fell out of the 8-message history
	if len(got) != 1 || got[0].Type != "NS_nak_rexmit" || got[0].Dest != "peer" ||
		got[0].Get("firstseq") != "2" || got[0].Get("info") != "seqno too low" {
		t.Errorf("nak: %v", got)
	}
	if got := ask("40", "40", "vm"); len(got) != 0 {
		t.Errorf("answered for a future seq: %v", got)
	}
}

// A lost handshake message is recovered by retransmission, end to end.
func TestLostMessageRecoveredInHandshake(t *testing.T) {
	s := stableCluster(t, FailbackOff)
	dropped := false
	s.block = func(from, _, _ string, m Msg) bool {
		if from == "peer" && m.Type == "ask_resources" && m.Get("info") == "other" && !dropped {
			return true
		}
		return false
	}
	vm := s.node("vm")
	s.apply(vm, vm.m.Standby("all", s.now))
	s.run(10 * time.Millisecond)
	dropped = true
	s.runUntil(5*time.Second, "standby despite the loss", func() bool {
		return s.placed(map[string]string{gVM1: "peer", gPeer: "peer", gVM2: "peer"})
	})
	var asked, resent bool
	for _, x := range s.trace {
		if x.node == "vm" && x.msg.Type == "NS_rexmit" {
			asked = true
		}
		if x.node == "peer" && x.msg.Type == "ask_resources" && x.msg.Get("info") == "other" && asked {
			resent = true
		}
	}
	if !asked || !resent {
		t.Errorf("asked %v, resent %v\n%s", asked, resent, s.dump())
	}
}

func TestBadMessagesDropped(t *testing.T) {
	f := newFed(t, testConfig("vm", 100, FailbackOn))
	stranger := newMsg("status", "st", "up")
	stranger.Src, stranger.Gen, stranger.Seq = "mallory", 1, 1
	if acts := f.recv(stranger, "eth0"); !strings.Contains(logs(acts), "bad node [mallory]") {
		t.Errorf("unknown node: %v", acts)
	}
	noseq := newMsg("starting")
	noseq.Src, noseq.Gen = "peer", f.gen
	if acts := f.recv(noseq, "eth0"); !strings.Contains(logs(acts), "without a valid seq") {
		t.Errorf("no seq: %v", acts)
	}
	own := newMsg("status", "st", "up")
	own.Src, own.Gen, own.Seq = "vm", 100, 1
	if acts := f.recv(own, "eth0"); len(acts) != 0 {
		t.Errorf("own echo: %v", acts)
	}
	if f.m.CommUp() {
		t.Errorf("comm up from bad messages")
	}
}

// A capture replayed at a high rate is dropped packet by packet, but the
// log says so once per interval, with a count, not once per packet: a
// replay must not fill the disk either.
func TestReplayFloodLoggedOncePerInterval(t *testing.T) {
	f := newFed(t, testConfig("vm", 100, FailbackOn))
	f.recv(f.msg("status", "st", "up", "dt", "2710"), "eth0")
	old := newMsg("starting")
	old.Src, old.Gen, old.Seq = "peer", f.gen-1, f.seq+1
	n := 0
	var all strings.Builder
	for i := 0; i < 3000; i++ { // 30 s at one packet per 10 ms
		l := logs(f.recv(old, "eth0"))
		n += strings.Count(l, "attempted replay attack")
		all.WriteString(l)
	}
	if n == 0 || n > 4 {
		t.Fatalf("3000 replayed packets over 30 s logged %d times, want 1 to 4", n)
	}
	if !strings.Contains(all.String(), "more like it") {
		t.Errorf("the suppressed count is not reported:\n%s", all.String())
	}
}
