package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/lvsdirector/director/ipvs"
)

// fakeICMP is an icmpTransport in memory: nothing leaves the process.
// Every echo request sent is recorded and handed to onSend, which may
// answer through inject.
type fakeICMP struct {
	v6     bool
	in     chan fakePacket
	fail   chan error
	closed chan struct{}
	once   sync.Once
	ended  atomic.Bool // the reader saw the transport closed

	mu     sync.Mutex
	sent   []fakeEcho
	onSend func(f *fakeICMP, e fakeEcho)
}

type fakeEcho struct {
	dst      netip.Addr
	id, seq  int
	sentTime time.Time
}

type fakePacket struct {
	b    []byte
	from net.Addr
}

func newFakeICMP(v6 bool, onSend func(*fakeICMP, fakeEcho)) *fakeICMP {
	return &fakeICMP{v6: v6, in: make(chan fakePacket, 1024), fail: make(chan error, 1),
		closed: make(chan struct{}), onSend: onSend}
}

func (f *fakeICMP) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case p := <-f.in:
		return copy(b, p.b), p.from, nil
	case err := <-f.fail:
		return 0, nil, err
	case <-f.closed:
		f.ended.Store(true)
		return 0, nil, net.ErrClosed
	}
}

func (f *fakeICMP) Close() error {
	f.once.Do(func() { close(f.closed) })
	return nil
}

func (f *fakeICMP) send(ctx context.Context, b []byte, dst netip.Addr) error {
	proto := 1
	if f.v6 {
		proto = 58
	}
	m, err := icmp.ParseMessage(proto, b)
	if err != nil {
		return err
	}
	echo, ok := m.Body.(*icmp.Echo)
	if !ok || m.Type != ipv4.ICMPTypeEcho && m.Type != ipv6.ICMPTypeEchoRequest {
		return fmt.Errorf("sent %v, not an echo request", m.Type)
	}
	e := fakeEcho{dst: dst, id: echo.ID, seq: echo.Seq, sentTime: time.Now()}
	f.mu.Lock()
	f.sent = append(f.sent, e)
	onSend := f.onSend
	f.mu.Unlock()
	if onSend != nil {
		onSend(f, e)
	}
	return nil
}

func (f *fakeICMP) sentCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sent)
}

// inject queues a message as if it came from src.
func (f *fakeICMP) inject(src netip.Addr, typ icmp.Type, id, seq int) {
	b, err := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: pingPayload}}).Marshal(nil)
	if err != nil {
		panic(err)
	}
	f.in <- fakePacket{b: b, from: &net.IPAddr{IP: src.AsSlice()}}
}

func (f *fakeICMP) reply(e fakeEcho) {
	var typ icmp.Type = ipv4.ICMPTypeEchoReply
	if f.v6 {
		typ = ipv6.ICMPTypeEchoReply
	}
	f.inject(e.dst, typ, e.id, e.seq)
}

// fakeNets is a pingNets whose listener opens fake transports made by mk.
func fakeNets(v6 bool, mk func() *fakeICMP) (*pingNets, *atomic.Int32) {
	var opens atomic.Int32
	l := newICMPListener(v6, func(bool) (icmpTransport, uint16, bool, error) {
		opens.Add(1)
		return mk(), 0x4242, false, nil
	})
	if v6 {
		return &pingNets{v6: l}, &opens
	}
	return &pingNets{v4: l}, &opens
}

func pingSpec(addr string, count int, timeout time.Duration) Spec {
	return Spec{Type: "ping", Addr: netip.MustParseAddr(addr), Protocol: ipvs.TCP, Count: count, Timeout: timeout,
		Interval: time.Second, FailureCount: 1}
}

func runPing(nets *pingNets, s Spec) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.deadline())
	defer cancel()
	return pingCheck{s: s, nets: nets}.Check(ctx)
}

func TestPingMatchesOnlyItsReply(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		dst, other := "10.1.2.3", "10.1.2.4"
		var reply, request icmp.Type = ipv4.ICMPTypeEchoReply, ipv4.ICMPTypeEcho
		if v6 {
			dst, other = "2001:db8::3", "2001:db8::4"
			reply, request = ipv6.ICMPTypeEchoReply, ipv6.ICMPTypeEchoRequest
		}
		for _, answer := range []bool{false, true} {
			nets, _ := fakeNets(v6, func() *fakeICMP {
				return newFakeICMP(v6, func(f *fakeICMP, e fakeEcho) {
					f.inject(e.dst, reply, e.id+1, e.seq)                       // another identifier
					f.inject(e.dst, reply, e.id, e.seq+1)                       // another sequence
					f.inject(netip.MustParseAddr(other), reply, e.id, e.seq)    // another source
					f.inject(e.dst, request, e.id, e.seq)                       // not a reply
					f.in <- fakePacket{b: []byte{0, 0, 1}, from: &net.IPAddr{}} // garbage
					if answer {
						f.reply(e)
					}
				})
			})
			start := time.Now()
			err := runPing(nets, pingSpec(dst, 1, 200*time.Millisecond))
			if answer && err != nil {
				t.Errorf("v6=%v: answered ping is down: %v", v6, err)
			}
			if !answer {
				if err == nil || !strings.Contains(err.Error(), "no echo reply") {
					t.Errorf("v6=%v: replies that are not ours took as ours: err %v", v6, err)
				}
				if took := time.Since(start); took < 150*time.Millisecond || took > time.Second {
					t.Errorf("v6=%v: down after %v, want the 200ms timeout", v6, took)
				}
			}
		}
	}
}

func TestPingCountAndTimeout(t *testing.T) {
	var f *fakeICMP
	answerNth := 3
	nets, _ := fakeNets(false, func() *fakeICMP {
		f = newFakeICMP(false, func(f *fakeICMP, e fakeEcho) {
			if f.sentCount() == answerNth {
				f.reply(e)
			}
		})
		return f
	})
	if err := runPing(nets, pingSpec("10.0.0.1", 3, 50*time.Millisecond)); err != nil {
		t.Fatalf("third attempt answered: %v", err)
	}
	if n := f.sentCount(); n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}
	for i := 1; i < 3; i++ {
		if gap := f.sent[i].sentTime.Sub(f.sent[i-1].sentTime); gap < 40*time.Millisecond {
			t.Errorf("attempt %d after %v, want after the 50ms timeout", i+1, gap)
		}
		if f.sent[i].seq == f.sent[i-1].seq {
			t.Errorf("attempts reuse sequence %d", f.sent[i].seq)
		}
	}

	answerNth = 100
	start := time.Now()
	err := runPing(nets, pingSpec("10.0.0.1", 2, 50*time.Millisecond))
	if err == nil || !strings.Contains(err.Error(), "2 of 2") {
		t.Fatalf("unanswered: %v", err)
	}
	if took := time.Since(start); took < 90*time.Millisecond || took > time.Second {
		t.Errorf("down after %v, want 2 x 50ms", took)
	}

	// The context's deadline wins over count x timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Millisecond)
	defer cancel()
	start = time.Now()
	if err := (pingCheck{s: pingSpec("10.0.0.1", 10, time.Second), nets: nets}).Check(ctx); err == nil {
		t.Fatal("up without a reply")
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("ran %v past a 60ms deadline", took)
	}
}

func TestPingConcurrent(t *testing.T) {
	// Many checks at once on one shared socket, replies arriving late and
	// out of order; reals .1-.9 answer, .10-.15 do not.
	nets, opens := fakeNets(false, func() *fakeICMP {
		return newFakeICMP(false, func(f *fakeICMP, e fakeEcho) {
			if e.dst.As4()[3] < 10 {
				time.AfterFunc(time.Duration(e.seq%7)*5*time.Millisecond, func() { f.reply(e) })
			}
		})
	})
	var wg sync.WaitGroup
	errs := make([]error, 150)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = runPing(nets, pingSpec(fmt.Sprintf("10.0.0.%d", 1+i%15), 1, 300*time.Millisecond))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if up := 1+i%15 < 10; (err == nil) != up {
			t.Errorf("10.0.0.%d: err %v, want up=%v", 1+i%15, err, up)
		}
	}
	if n := opens.Load(); n != 1 {
		t.Errorf("%d sockets opened, want one shared", n)
	}
	nets.v4.mu.Lock()
	if n := len(nets.v4.waiting); n != 0 {
		t.Errorf("%d requests still waiting", n)
	}
	nets.v4.mu.Unlock()
}

func TestPingSocketLifecycle(t *testing.T) {
	var (
		mu  sync.Mutex
		all []*fakeICMP
	)
	nets, opens := fakeNets(false, func() *fakeICMP {
		f := newFakeICMP(false, nil)
		mu.Lock()
		all = append(all, f)
		mu.Unlock()
		return f
	})
	l := nets.v4
	l.linger = 30 * time.Millisecond

	// The socket fails under a waiting check: the check ends at once.
	done := make(chan error)
	go func() { done <- runPing(nets, pingSpec("10.0.0.1", 1, 5*time.Second)) }()
	for {
		mu.Lock()
		n := len(all)
		mu.Unlock()
		if n == 1 && all[0].sentCount() == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	all[0].fail <- errors.New("boom")
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "boom") {
			t.Fatalf("err %v, want the socket's", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("check still waiting on a failed socket")
	}

	// The next check opens a new socket; once idle it is closed and its
	// reader ends.
	if err := runPing(nets, pingSpec("10.0.0.1", 1, 20*time.Millisecond)); err == nil {
		t.Fatal("up without a reply")
	}
	if n := opens.Load(); n != 2 {
		t.Fatalf("%d opens, want 2", n)
	}
	mu.Lock()
	second := all[1]
	mu.Unlock()
	deadline := time.Now().Add(2 * time.Second)
	for !second.ended.Load() {
		if time.Now().After(deadline) {
			t.Fatal("idle socket not closed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	l.mu.Lock()
	if l.t != nil {
		t.Error("listener still holds the closed socket")
	}
	l.mu.Unlock()
}

func TestPingLoopback(t *testing.T) {
	for _, c := range []struct {
		addr string
		v6   bool
	}{{"127.0.0.1", false}, {"127.0.0.2", false}, {"::ffff:127.0.0.1", false}, {"::1", true}} {
		t.Run(c.addr, func(t *testing.T) {
			tr, _, _, err := openICMP(c.v6)
			if err != nil {
				t.Skipf("cannot open an ICMP socket: %v", err)
			}
			tr.Close()
			l := newICMPListener(c.v6, openICMP)
			l.linger = 10 * time.Millisecond
			nets := &pingNets{v4: l, v6: l}
			var wg sync.WaitGroup
			errs := make([]error, 20)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = runPing(nets, pingSpec(c.addr, 1, 2*time.Second))
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestPingDatagramSocket(t *testing.T) {
	// Unprivileged ICMP works only where net.ipv4.ping_group_range allows.
	for _, v6 := range []bool{false, true} {
		tr, id, err := openDatagramICMP(v6)
		if err != nil {
			t.Logf("v6=%v: no datagram ICMP socket (%v)", v6, err)
			continue
		}
		tr.Close()
		l := newICMPListener(v6, func(v6 bool) (icmpTransport, uint16, bool, error) {
			t, id, err := openDatagramICMP(v6)
			return t, id, true, err
		})
		l.linger = 10 * time.Millisecond
		addr := "127.0.0.1"
		if v6 {
			addr = "::1"
		}
		if err := runPing(&pingNets{v4: l, v6: l}, pingSpec(addr, 1, 2*time.Second)); err != nil {
			t.Errorf("v6=%v (id %d): %v", v6, id, err)
		}
	}
}

func TestPingBuilt(t *testing.T) {
	for _, s := range []Spec{
		{Type: "ping", Addr: netip.MustParseAddr("127.0.0.1")},
		{Type: "connect", Protocol: ipvs.UDP, Addr: netip.MustParseAddr("127.0.0.1"), Port: 53},
	} {
		c, err := New(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := c.(pingCheck); !ok {
			t.Errorf("%s/%s builds %T, want a ping check", s.Type, s.Protocol, c)
		}
	}
	if c, _ := New(Spec{Type: "connect", Protocol: ipvs.TCP}); c == nil {
		t.Error("connect on TCP not built")
	} else if _, ok := c.(pingCheck); ok {
		t.Error("connect on TCP is a ping check")
	}
	if err := Supported("ping", ""); err != nil {
		t.Error(err)
	}
}
