package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"
)

// HoldConfig says what the hold mode opens and how it judges the sessions.
type HoldConfig struct {
	Addr     string        // host:port of the VIP
	Path     string        // requested path
	N        int           // concurrent sessions
	Interval time.Duration // pause between a response and the next request
	Stall    time.Duration // a request waiting longer than this is a stall
	Ramp     int           // new connections per second while setting up
	Dial     time.Duration // connect timeout
	// SetupWait bounds the wait for every session's first answer.
	SetupWait time.Duration
}

// Outcome of one session, as counted at the report.
type Outcome int

const (
	Survived Outcome = iota // answered after the mark, no wait above Stall
	Reset                   // ECONNRESET or EPIPE
	EOF                     // the peer closed the connection
	Stalled                 // open, but a request waited longer than Stall
	Other                   // any other error (timeout, unreachable, bad status)
	Lost                    // failed before the mark (or never set up)
)

// session is one keep-alive HTTP connection and what happened to it.
type session struct {
	mu        sync.Mutex
	conn      net.Conn
	ready     bool      // got its first response
	err       error     // first error, nil while healthy
	errAt     time.Time // when err happened
	sentAt    time.Time // request in flight since (zero: none)
	okAfter   bool      // a response arrived after the mark
	maxBefore time.Duration
	maxAfter  time.Duration // longest request wait that ended after the mark
	firstOK   time.Time     // first response after the mark
}

// Hold keeps N sessions busy; Mark notes the takeover; Report counts.
type Hold struct {
	cfg      HoldConfig
	mu       sync.Mutex
	mark     time.Time // zero until Mark
	sessions []*session
	wg       sync.WaitGroup
	stop     chan struct{}
	stopOnce sync.Once
	now      func() time.Time
}

// NewHold returns a Hold that has opened nothing yet.
func NewHold(cfg HoldConfig) *Hold {
	if cfg.Path == "" {
		cfg.Path = "/"
	}
	if cfg.Ramp <= 0 {
		cfg.Ramp = 250
	}
	if cfg.Dial <= 0 {
		cfg.Dial = 5 * time.Second
	}
	if cfg.SetupWait <= 0 {
		cfg.SetupWait = 60 * time.Second
	}
	return &Hold{cfg: cfg, stop: make(chan struct{}), now: time.Now}
}

// Setup opens the sessions at cfg.Ramp per second and waits until each has
// had its first answer or failed; it returns how many are ready.
func (h *Hold) Setup(ctx context.Context) int {
	tick := time.NewTicker(time.Second / time.Duration(h.cfg.Ramp))
	defer tick.Stop()
	var setup sync.WaitGroup
	for i := 0; i < h.cfg.N; i++ {
		s := &session{}
		h.mu.Lock()
		h.sessions = append(h.sessions, s)
		h.mu.Unlock()
		setup.Add(1)
		h.wg.Add(1)
		go h.run(ctx, s, setup.Done)
		select {
		case <-tick.C:
		case <-ctx.Done():
		case <-h.stop:
		}
		if ctx.Err() != nil || h.stopped() {
			break
		}
	}
	done := make(chan struct{})
	go func() { setup.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	case <-h.stop:
	case <-time.After(h.cfg.SetupWait):
		// Some first answers are late: the report says which sessions
		// never had one (they count as lost before the mark if they fail,
		// as stalled if they hang).
	}
	n := 0
	for _, s := range h.sessions {
		s.mu.Lock()
		if s.ready && s.err == nil {
			n++
		}
		s.mu.Unlock()
	}
	return n
}

// Mark notes the takeover: from now on waits count as stalls and errors as
// the takeover's.
func (h *Hold) Mark() {
	h.mu.Lock()
	h.mark = h.now()
	h.mu.Unlock()
}

func (h *Hold) markTime() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.mark
}

// Close stops every session and waits for them.
func (h *Hold) Close() {
	h.stopOnce.Do(func() { close(h.stop) })
	h.mu.Lock()
	for _, s := range h.sessions {
		s.mu.Lock()
		if s.conn != nil {
			s.conn.Close()
		}
		s.mu.Unlock()
	}
	h.mu.Unlock()
	h.wg.Wait()
}

func (h *Hold) stopped() bool {
	select {
	case <-h.stop:
		return true
	default:
		return false
	}
}

// run is one session: connect (a few tries while setting up), then a
// request every Interval until an error or the stop.
func (h *Hold) run(ctx context.Context, s *session, setupDone func()) {
	defer h.wg.Done()
	once := sync.OnceFunc(setupDone)
	defer once()
	var c net.Conn
	var err error
	d := net.Dialer{Timeout: h.cfg.Dial}
	for try := 0; try < 5; try++ {
		c, err = d.DialContext(ctx, "tcp", h.cfg.Addr)
		if err == nil || h.stopped() || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.mu.Lock()
	if err != nil {
		s.err, s.errAt = err, h.now()
		s.mu.Unlock()
		return
	}
	s.conn = c
	s.mu.Unlock()
	if h.stopped() {
		c.Close()
		return
	}
	req := []byte("GET " + h.cfg.Path + " HTTP/1.1\r\nHost: " + h.cfg.Addr + "\r\nUser-Agent: connhold\r\n\r\n")
	br := bufio.NewReader(c)
	first := true
	for {
		s.mu.Lock()
		s.sentAt = h.now()
		s.mu.Unlock()
		err := roundTrip(c, br, req)
		t := h.now()
		if h.stopped() {
			return
		}
		mark := h.markTime()
		s.mu.Lock()
		wait := t.Sub(s.sentAt)
		s.sentAt = time.Time{}
		if err != nil {
			s.err, s.errAt = err, t
			s.mu.Unlock()
			c.Close()
			return
		}
		s.ready = true
		if !mark.IsZero() && t.After(mark) {
			if !s.okAfter {
				s.okAfter, s.firstOK = true, t
			}
			s.maxAfter = max(s.maxAfter, wait)
		} else {
			s.maxBefore = max(s.maxBefore, wait)
		}
		s.mu.Unlock()
		once()
		pause := h.cfg.Interval
		if first && pause > 0 {
			// Spread the sessions' requests over the interval.
			pause = time.Duration(rand.Int64N(int64(pause)))
		}
		first = false
		select {
		case <-time.After(pause):
		case <-h.stop:
			return
		case <-ctx.Done():
			return
		}
	}
}

// errStatus is a response that was not 2xx.
var errStatus = errors.New("non-2xx status")

// roundTrip writes one request and reads its whole response. A response
// that ends the session (nginx's keepalive_requests or keepalive_timeout
// reached) is io.EOF: the next request would find the connection closed.
func roundTrip(c net.Conn, br *bufio.Reader, req []byte) error {
	closing, err := exchange(c, br, req)
	if err == nil && closing {
		return io.EOF
	}
	return err
}

// exchange writes one request and reads its whole response; closing says
// the server closes the connection after it.
func exchange(c net.Conn, br *bufio.Reader, req []byte) (closing bool, err error) {
	if _, err := c.Write(req); err != nil {
		return false, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return false, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return false, err
	}
	if resp.StatusCode/100 != 2 {
		return resp.Close, fmt.Errorf("%w: %s", errStatus, resp.Status)
	}
	return resp.Close, nil
}

// classify names an error's kind.
func classify(err error) Outcome {
	switch {
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return Reset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return EOF
	}
	return Other
}

// HoldResult is the report: counts by outcome and the waits.
type HoldResult struct {
	N                 int
	Counts            [Lost + 1]int
	LongestStall      time.Duration // longest wait after the mark, of sessions not failed by an error
	BaselineWait      time.Duration // longest wait before the mark
	AllBack           time.Duration // mark to the last survivor's first answer
	SinceMark         time.Duration // mark to the report
	FirstErr, LastErr time.Duration // after the mark, of the errors counted
	Marked            bool
	ExampleErr        string
	ExampleOther      string
	ExampleLost       string // an error of a session lost before the mark
}

// Report counts the sessions now (call it after Mark and a wait longer
// than Stall, or sessions still waiting are not yet stalls).
func (h *Hold) Report() HoldResult {
	now := h.now()
	mark := h.markTime()
	r := HoldResult{N: h.cfg.N, Marked: !mark.IsZero()}
	if r.Marked {
		r.SinceMark = now.Sub(mark)
	}
	h.mu.Lock()
	sessions := append([]*session(nil), h.sessions...)
	h.mu.Unlock()
	r.Counts[Lost] += h.cfg.N - len(sessions)
	for _, s := range sessions {
		s.mu.Lock()
		r.BaselineWait = max(r.BaselineWait, s.maxBefore)
		switch {
		case s.err != nil && (!r.Marked || !s.errAt.After(mark)):
			r.Counts[Lost]++
			if r.ExampleLost == "" {
				r.ExampleLost = s.err.Error()
			}
		case s.err != nil:
			k := classify(s.err)
			r.Counts[k]++
			at := s.errAt.Sub(mark)
			if r.FirstErr == 0 || at < r.FirstErr {
				r.FirstErr = at
			}
			r.LastErr = max(r.LastErr, at)
			if r.ExampleErr == "" {
				r.ExampleErr = s.err.Error()
			}
			if k == Other && r.ExampleOther == "" {
				r.ExampleOther = s.err.Error()
			}
		default:
			wait := s.maxAfter
			if !s.sentAt.IsZero() {
				wait = max(wait, now.Sub(s.sentAt)) // still waiting
			}
			r.LongestStall = max(r.LongestStall, wait)
			switch {
			case !r.Marked:
				r.Counts[Survived]++
			case wait > h.cfg.Stall || !s.okAfter:
				// No answer since the mark counts as a stall too: with
				// the report later than Stall after the mark, a healthy
				// session has answered by then.
				r.Counts[Stalled]++
			default:
				r.Counts[Survived]++
				r.AllBack = max(r.AllBack, s.firstOK.Sub(mark))
			}
		}
		s.mu.Unlock()
	}
	return r
}

// String is the report as one line of key=value.
func (r HoldResult) String() string {
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	var b strings.Builder
	fmt.Fprintf(&b, "n=%d survived=%d reset=%d eof=%d stalled=%d other=%d lost_before_mark=%d longest_stall_ms=%d all_back_ms=%d baseline_wait_ms=%d since_mark_ms=%d first_err_ms=%d last_err_ms=%d",
		r.N, r.Counts[Survived], r.Counts[Reset], r.Counts[EOF], r.Counts[Stalled], r.Counts[Other], r.Counts[Lost],
		ms(r.LongestStall), ms(r.AllBack), ms(r.BaselineWait), ms(r.SinceMark), ms(r.FirstErr), ms(r.LastErr))
	if !r.Marked {
		b.WriteString(" marked=no")
	}
	if r.ExampleErr != "" {
		fmt.Fprintf(&b, " example_err=%q", r.ExampleErr)
	}
	if r.ExampleOther != "" {
		fmt.Fprintf(&b, " example_other=%q", r.ExampleOther)
	}
	if r.ExampleLost != "" {
		fmt.Fprintf(&b, " example_lost=%q", r.ExampleLost)
	}
	return b.String()
}
