package media

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ucastPair opens two Sets on loopback that talk to each other: a binds
// 127.0.0.1:pa and sends to 127.0.0.2:pb, b the reverse, each knowing only
// its own address as local (on one host every address is local).
func ucastPair(t *testing.T, pa, pb int) (a, b *Set) {
	t.Helper()
	ipA, ipB := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")
	open := func(self, peer netip.Addr, port, peerPort int) *Set {
		m, err := Open(Spec{Kind: "ucast", Dev: "lo", Peer: peer, Port: peerPort, bind: netip.AddrPortFrom(self, uint16(port))})
		if err != nil {
			t.Skipf("cannot bind to lo here: %v", err)
		}
		s := newSet([]*Medium{m}, map[netip.Addr]bool{self: true}, nil)
		t.Cleanup(s.Close)
		return s
	}
	return open(ipA, ipB, pa, pb), open(ipB, ipA, pb, pa)
}

func recv(t *testing.T, s *Set, who string) Packet {
	t.Helper()
	select {
	case p := <-s.Packets():
		return p
	case <-time.After(3 * time.Second):
		t.Fatalf("%s received nothing in 3 s", who)
		return Packet{}
	}
}

// Two Sets exchange packets in both directions, and each hears exactly
// what the other sent, from the other's address and port.
func TestUcastBothWays(t *testing.T) {
	a, b := ucastPair(t, 56940, 56941)
	if err := a.Send([]byte("from a")); err != nil {
		t.Fatal(err)
	}
	if p := recv(t, b, "b"); string(p.Data) != "from a" || p.From.String() != "127.0.0.1:56940" || p.Link != "lo" {
		t.Fatalf("b got %q from %v on %s", p.Data, p.From, p.Link)
	}
	if err := b.Send([]byte("from b")); err != nil {
		t.Fatal(err)
	}
	if p := recv(t, a, "a"); string(p.Data) != "from b" || p.From.String() != "127.0.0.2:56941" {
		t.Fatalf("a got %q from %v", p.Data, p.From)
	}
	// Neither heard itself.
	select {
	case p := <-a.Packets():
		t.Fatalf("a heard %+v", p)
	case p := <-b.Packets():
		t.Fatalf("b heard %+v", p)
	case <-time.After(100 * time.Millisecond):
	}
}

// A Set drops its own packets looped back (ucast to an address of ours).
func TestOwnPacketsDropped(t *testing.T) {
	spec := Spec{Kind: "ucast", Dev: "lo", Peer: netip.MustParseAddr("127.0.0.1"), Port: 56942}
	// Positive control: with no local addresses known, the looped-back
	// packet is delivered, so its absence below is the filter's doing.
	m, err := Open(spec)
	if err != nil {
		t.Skipf("cannot bind to lo here: %v", err)
	}
	ctl := newSet([]*Medium{m}, map[netip.Addr]bool{}, nil)
	if err := ctl.Send([]byte("self")); err != nil {
		t.Fatal(err)
	}
	if p := recv(t, ctl, "control"); string(p.Data) != "self" {
		t.Fatalf("control got %q", p.Data)
	}
	ctl.Close()

	s, err := OpenAll([]Spec{spec}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Send([]byte("self")); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-s.Packets():
		t.Fatalf("heard ourselves: %+v", p)
	case <-time.After(200 * time.Millisecond):
	}
	if l := s.Links(); len(l) != 1 || l[0] != "lo" {
		t.Fatalf("links %v", l)
	}
}

// Two media of one node on one device share the port (SO_REUSEADDR).
func TestTwoMediaOneDevice(t *testing.T) {
	s, err := OpenAll([]Spec{
		{Kind: "ucast", Dev: "lo", Peer: netip.MustParseAddr("127.0.0.2"), Port: 56943},
		{Kind: "ucast", Dev: "lo", Peer: netip.MustParseAddr("127.0.0.3"), Port: 56943},
	}, nil)
	if err != nil {
		t.Fatalf("two media on lo, one port: %v", err)
	}
	s.Close()
}

func TestBadMedium(t *testing.T) {
	if _, err := Open(Spec{Kind: "serial", Dev: "lo", Port: 1}); err == nil {
		t.Fatal("serial accepted")
	}
	if _, err := Open(Spec{Kind: "ucast", Dev: "nonexistent0", Port: 1}); err == nil {
		t.Fatal("missing device accepted")
	}
}

// failConn fails every read until ok is set, then delivers one packet and
// blocks until closed.
type failConn struct {
	reads  atomic.Int64
	ok     atomic.Bool
	sent   atomic.Bool
	closed chan struct{}
	once   sync.Once
}

func newFailConn() *failConn { return &failConn{closed: make(chan struct{})} }

func (c *failConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	c.reads.Add(1)
	select {
	case <-c.closed:
		return 0, netip.AddrPort{}, net.ErrClosed
	default:
	}
	if !c.ok.Load() {
		return 0, netip.AddrPort{}, errors.New("read: no such device")
	}
	if !c.sent.Swap(true) {
		return copy(b, "back"), netip.MustParseAddrPort("192.0.2.9:694"), nil
	}
	<-c.closed
	return 0, netip.AddrPort{}, net.ErrClosed
}
func (c *failConn) WriteToUDP(b []byte, _ *net.UDPAddr) (int, error) { return len(b), nil }
func (c *failConn) Close() error                                     { c.once.Do(func() { close(c.closed) }); return nil }

// A medium whose reads keep failing backs off instead of spinning, logs
// the failure once (not once per read), and reads again when it recovers.
func TestReadErrorBacksOff(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
	c := newFailConn()
	s := newSet([]*Medium{{spec: Spec{Label: "eth9"}, conn: c}}, nil, log)
	defer s.Close()

	const window = 600 * time.Millisecond
	time.Sleep(window)
	// Back-off 10, 20, 40, ... ms: 6 reads in 600 ms, a few more on a
	// loaded box's late timers never; a spinning reader makes millions.
	if n := c.reads.Load(); n < 2 || n > 12 {
		t.Fatalf("%d reads in %v of persistent errors, want 2..12 (backing off from %v)", n, window, readBackoffMin)
	}
	mu.Lock()
	got := logs.String()
	mu.Unlock()
	if strings.Count(got, "medium read failed") != 1 || !strings.Contains(got, "link=eth9") || !strings.Contains(got, "no such device") {
		t.Fatalf("want one log line naming the link and the error, got:\n%s", got)
	}

	c.ok.Store(true)
	select {
	case p := <-s.Packets():
		if string(p.Data) != "back" {
			t.Fatalf("got %q", p.Data)
		}
	case <-time.After(3 * readBackoffMax):
		t.Fatal("no packet after the medium recovered")
	}
	mu.Lock()
	got = logs.String()
	mu.Unlock()
	if !strings.Contains(got, "medium reads again") {
		t.Fatalf("recovery not logged:\n%s", got)
	}
}

// Close ends a reader that is waiting out its back-off at once.
func TestCloseDuringBackoff(t *testing.T) {
	c := newFailConn()
	s := newSet([]*Medium{{spec: Spec{Label: "eth9"}, conn: c}}, nil, slog.New(slog.DiscardHandler))
	time.Sleep(50 * time.Millisecond)
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(readBackoffMax / 2):
		t.Fatal("Close waited for the back-off")
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// fakeMcast fails the option named in fail.
type fakeMcast struct{ fail string }

func (f fakeMcast) err(op string) error {
	if f.fail == op {
		return errors.New("setsockopt: operation not permitted")
	}
	return nil
}
func (f fakeMcast) JoinGroup(*net.Interface, net.Addr) error   { return f.err("join") }
func (f fakeMcast) SetMulticastInterface(*net.Interface) error { return f.err("if") }
func (f fakeMcast) SetMulticastTTL(int) error                  { return f.err("ttl") }
func (f fakeMcast) SetMulticastLoopback(bool) error            { return f.err("loop") }

// A multicast option that cannot be set fails the medium with the option
// and the error, instead of being dropped.
func TestMcastSetupErrors(t *testing.T) {
	s := Spec{Kind: "mcast", Dev: "eth1", Peer: netip.MustParseAddr("225.0.0.1"), TTL: 1}
	ifi := &net.Interface{Name: "eth1"}
	if err := mcastSetup(fakeMcast{}, ifi, s); err != nil {
		t.Fatalf("nothing failing: %v", err)
	}
	for op, want := range map[string]string{
		"join": "join", "if": "set the outgoing interface", "ttl": "set TTL 1", "loop": "set loopback false",
	} {
		err := mcastSetup(fakeMcast{fail: op}, ifi, s)
		if err == nil || !strings.Contains(err.Error(), "mcast eth1 group 225.0.0.1: "+want+": setsockopt: operation not permitted") {
			t.Errorf("%s failing: got %v", op, err)
		}
	}
}
