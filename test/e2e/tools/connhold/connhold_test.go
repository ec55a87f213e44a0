package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// behaviour of a test server's connection once the takeover is on.
type behaviour int

const (
	serve behaviour = iota // keeps answering
	rst                    // resets at the next request
	fin                    // closes at the next request
	hang                   // stops answering
	slow                   // answers the next request late, once
)

// server is a keep-alive HTTP server on loopback whose connections, after
// takeover(), behave as pick(index of the connection) says.
type server struct {
	ln       net.Listener
	pick     func(i int) behaviour
	slowFor  time.Duration
	on       atomic.Bool
	accepted atomic.Int64
	quit     chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
}

func newServer(t *testing.T, pick func(int) behaviour) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{ln: ln, pick: pick, slowFor: 200 * time.Millisecond, quit: make(chan struct{})}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

func (s *server) addr() string { return s.ln.Addr().String() }
func (s *server) takeover()    { s.on.Store(true) }

func (s *server) close() {
	close(s.quit)
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		i := int(s.accepted.Add(1)) - 1
		s.wg.Add(1)
		go s.handle(c, i)
	}
}

func (s *server) handle(c net.Conn, i int) {
	defer s.wg.Done()
	defer c.Close()
	br := bufio.NewReader(c)
	slowDone := false
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		req.Body.Close()
		if s.on.Load() {
			switch s.pick(i) {
			case rst:
				c.(*net.TCPConn).SetLinger(0)
				return
			case fin:
				return
			case hang:
				<-s.quit
				return
			case slow:
				if !slowDone {
					slowDone = true
					select {
					case <-time.After(s.slowFor):
					case <-s.quit:
						return
					}
				}
			}
		}
		if _, err := fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\nok\n"); err != nil {
			return
		}
	}
}

func holdCfg(addr string, n int) HoldConfig {
	return HoldConfig{Addr: addr, N: n, Interval: 20 * time.Millisecond, Stall: 300 * time.Millisecond, Ramp: 1000, SetupWait: 10 * time.Second}
}

// setupAndMark opens the sessions, marks, switches the server over, waits
// past the stall limit and reports.
func setupAndMark(t *testing.T, s *server, cfg HoldConfig) HoldResult {
	t.Helper()
	h := NewHold(cfg)
	defer h.Close()
	if got := h.Setup(context.Background()); got != cfg.N {
		t.Fatalf("Setup: %d ready, want %d", got, cfg.N)
	}
	time.Sleep(50 * time.Millisecond)
	h.Mark()
	s.takeover()
	time.Sleep(cfg.Stall + 400*time.Millisecond)
	return h.Report()
}

func TestHoldCountsEachOutcome(t *testing.T) {
	// Of 12 connections: 3 keep answering, 3 are reset, 3 closed, 3 hang.
	s := newServer(t, func(i int) behaviour { return []behaviour{serve, rst, fin, hang}[i%4] })
	r := setupAndMark(t, s, holdCfg(s.addr(), 12))
	t.Log(r)
	want := map[Outcome]int{Survived: 3, Reset: 3, EOF: 3, Stalled: 3, Other: 0, Lost: 0}
	for k, n := range want {
		if r.Counts[k] != n {
			t.Errorf("outcome %d: %d, want %d (%s)", k, r.Counts[k], n, r)
		}
	}
	// The hanging ones have waited from their request to the report.
	if r.LongestStall < 300*time.Millisecond {
		t.Errorf("longest stall %v, want over the 300ms limit", r.LongestStall)
	}
	if !strings.Contains(r.String(), "n=12 survived=3 reset=3 eof=3 stalled=3 other=0 lost_before_mark=0 ") {
		t.Errorf("line: %s", r)
	}
}

func TestHoldShortWaitSurvivesLongWaitStalls(t *testing.T) {
	// Every connection answers one request late: 150 ms is under the 300 ms
	// stall limit, 500 ms over it (and answered before the report).
	for _, tc := range []struct {
		delay            time.Duration
		survived, stalls int
	}{{150 * time.Millisecond, 5, 0}, {500 * time.Millisecond, 0, 5}} {
		s := newServer(t, func(int) behaviour { return slow })
		s.slowFor = tc.delay
		cfg := holdCfg(s.addr(), 5)
		cfg.Stall = 300 * time.Millisecond
		h := NewHold(cfg)
		if got := h.Setup(context.Background()); got != 5 {
			t.Fatalf("Setup: %d ready", got)
		}
		h.Mark()
		s.takeover()
		time.Sleep(tc.delay + 400*time.Millisecond)
		r := h.Report()
		h.Close()
		t.Logf("delay %v: %s", tc.delay, r)
		if r.Counts[Survived] != tc.survived || r.Counts[Stalled] != tc.stalls {
			t.Errorf("delay %v: survived %d stalled %d, want %d and %d", tc.delay, r.Counts[Survived], r.Counts[Stalled], tc.survived, tc.stalls)
		}
		if r.LongestStall < tc.delay || r.LongestStall > tc.delay+250*time.Millisecond {
			t.Errorf("delay %v: longest stall %v", tc.delay, r.LongestStall)
		}
		if tc.survived > 0 && r.AllBack <= 0 {
			t.Errorf("all_back %v, want > 0", r.AllBack)
		}
	}
}

func TestHoldFailureBeforeMarkIsLost(t *testing.T) {
	// The server resets connection 0 before the mark: it is lost, not a
	// reset of the takeover.
	s := newServer(t, func(i int) behaviour {
		if i == 0 {
			return rst
		}
		return serve
	})
	cfg := holdCfg(s.addr(), 4)
	h := NewHold(cfg)
	defer h.Close()
	if got := h.Setup(context.Background()); got != 4 {
		t.Fatalf("Setup: %d ready", got)
	}
	s.takeover() // server side first: connection 0 dies now
	time.Sleep(200 * time.Millisecond)
	h.Mark()
	time.Sleep(cfg.Stall + 200*time.Millisecond)
	r := h.Report()
	if r.Counts[Lost] != 1 || r.Counts[Survived] != 3 || r.Counts[Reset] != 0 {
		t.Errorf("got %s, want lost 1, survived 3, reset 0", r)
	}
	if !strings.Contains(r.String(), `example_lost="`) {
		t.Errorf("no example_lost in %s", r)
	}
}

func TestHoldUnreachableIsLost(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: connection refused
	cfg := holdCfg(addr, 3)
	h := NewHold(cfg)
	defer h.Close()
	if got := h.Setup(context.Background()); got != 0 {
		t.Fatalf("Setup: %d ready, want 0", got)
	}
	h.Mark()
	if r := h.Report(); r.Counts[Lost] != 3 || r.Counts[Survived] != 0 {
		t.Errorf("got %s", r)
	}
}

func TestRateCountsOKAndFailed(t *testing.T) {
	// Every third connection is reset at its request.
	s := newServer(t, func(i int) behaviour {
		if i%3 == 0 {
			return rst
		}
		return serve
	})
	s.takeover()
	r := RunRate(context.Background(), RateConfig{Addr: s.addr(), Rate: 300, Duration: 500 * time.Millisecond})
	t.Log(r)
	if r.Want != 150 || r.Started != 150 || r.OK+r.Failed != 150 || r.Skipped != 0 {
		t.Fatalf("got %s, want 150 started and accounted for", r)
	}
	if r.Failed != 50 || r.OK != 100 {
		t.Errorf("ok %d failed %d, want 100 and 50", r.OK, r.Failed)
	}
	if got := s.accepted.Load(); got != 150 {
		t.Errorf("server accepted %d connections, want 150", got)
	}
	if r.Elapsed < 450*time.Millisecond {
		t.Errorf("took %v: not paced at 300/s", r.Elapsed)
	}
}
