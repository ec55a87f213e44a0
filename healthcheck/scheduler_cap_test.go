package healthcheck

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingCheck records how many checks run at once and when each starts.
type countingCheck struct {
	mu      sync.Mutex
	now     int
	peak    int
	starts  []time.Time
	hold    time.Duration
	started atomic.Int64
}

func (c *countingCheck) build(Spec) (Checker, error) { return c, nil }

func (c *countingCheck) Check(ctx context.Context) error {
	c.mu.Lock()
	c.now++
	c.peak = max(c.peak, c.now)
	c.starts = append(c.starts, time.Now())
	c.mu.Unlock()
	c.started.Add(1)
	select {
	case <-time.After(c.hold):
	case <-ctx.Done():
	}
	c.mu.Lock()
	c.now--
	c.mu.Unlock()
	return nil
}

func runCounting(t *testing.T, c *countingCheck, concurrency, n int, interval time.Duration) (time.Time, func()) {
	t.Helper()
	s := NewScheduler(concurrency, nil)
	s.build = c.build
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	go func() {
		for {
			select {
			case <-s.Events():
			case <-ctx.Done():
				return
			}
		}
	}()
	checks := map[string]Check{}
	for i := 0; i < n; i++ {
		id := fmt.Sprint("c", i)
		checks[id] = Check{Spec: spec(id, interval, 1), Up: true}
	}
	t0 := time.Now()
	s.Set(ctx, checks)
	return t0, func() { cancel(); <-done }
}

// No more than the concurrency bound run at once, however many are due.
func TestConcurrencyCap(t *testing.T) {
	const limit, n = 4, 40
	c := &countingCheck{hold: 30 * time.Millisecond}
	_, stop := runCounting(t, c, limit, n, 10*time.Millisecond)
	deadline := time.Now().Add(20 * time.Second)
	for c.started.Load() < 3*n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.peak > limit {
		t.Errorf("%d checks ran at once, cap %d", c.peak, limit)
	}
	if c.peak < limit {
		t.Errorf("at most %d checks ran at once with %d due: the cap %d was never reached", c.peak, n, limit)
	}
}

// The default cap is 256.
func TestDefaultConcurrencyCap(t *testing.T) {
	const n = 400
	c := &countingCheck{hold: 300 * time.Millisecond}
	// Interval 1ms: all first starts fall in the first millisecond.
	_, stop := runCounting(t, c, 0, n, time.Millisecond)
	deadline := time.Now().Add(20 * time.Second)
	for c.started.Load() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.peak != 256 {
		t.Errorf("%d checks ran at once, want the default cap 256", c.peak)
	}
}

// New checks start spread over the first second (or their interval, if
// shorter), not all at once.
func TestNewChecksSpreadOverASecond(t *testing.T) {
	const n = 100
	c := &countingCheck{}
	t0, stop := runCounting(t, c, 256, n, time.Minute)
	deadline := time.Now().Add(20 * time.Second)
	for c.started.Load() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.starts) != n {
		t.Fatalf("%d of %d checks started", len(c.starts), n)
	}
	early, last := 0, time.Duration(0)
	for _, at := range c.starts {
		d := at.Sub(t0)
		if d < 300*time.Millisecond {
			early++
		}
		last = max(last, d)
	}
	// Evenly spread: 30 in the first 300 ms (a loaded box only starts
	// them later), the last one near 990 ms.
	if early > n/2 {
		t.Errorf("%d of %d new checks started in the first 300ms, want them spread over a second", early, n)
	}
	if last < 700*time.Millisecond {
		t.Errorf("the last new check started after %v, want about a second", last)
	}
	if last > 5*time.Second {
		t.Errorf("the last new check started after %v", last)
	}
}
