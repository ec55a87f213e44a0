package media

import (
	"net/netip"
	"testing"
	"time"
)

// Two ucast media on loopback, in the same process: packets go both ways,
// and a node never hears itself (its own address is local).
func TestUcastOnLoopback(t *testing.T) {
	a, err := Open(Spec{Kind: "ucast", Dev: "lo", Peer: netip.MustParseAddr("127.0.0.1"), Port: 56940})
	if err != nil {
		t.Skipf("cannot bind to lo here: %v", err)
	}
	defer a.Close()
	if err := a.Send([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	a.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 100)
	n, from, err := a.conn.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:n]) != "hello" || from.Port() != 56940 {
		t.Fatalf("got %q from %v: %v", buf[:n], from, err)
	}
	// In a Set, our own looped-back packet is dropped.
	s, err := OpenAll([]Spec{{Kind: "ucast", Dev: "lo", Peer: netip.MustParseAddr("127.0.0.1"), Port: 56941}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Send([]byte("self"))
	select {
	case p := <-s.Packets():
		t.Fatalf("heard ourselves: %+v", p)
	case <-time.After(200 * time.Millisecond):
	}
	if l := s.Links(); len(l) != 1 || l[0] != "lo" {
		t.Fatalf("links %v", l)
	}
}

func TestBadMedium(t *testing.T) {
	if _, err := Open(Spec{Kind: "serial", Dev: "lo", Port: 1}); err == nil {
		t.Fatal("serial accepted")
	}
	if _, err := Open(Spec{Kind: "ucast", Dev: "nonexistent0", Port: 1}); err == nil {
		t.Fatal("missing device accepted")
	}
}
