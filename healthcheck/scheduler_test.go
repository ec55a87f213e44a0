package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakes maps a spec's request to its behaviour.
type fakes struct {
	mu   sync.Mutex
	fail map[string]bool
	hang map[string]bool
	flap map[string]bool // fail every other run
	runs map[string]*atomic.Int64
}

func newFakes() *fakes {
	return &fakes{fail: map[string]bool{}, hang: map[string]bool{}, flap: map[string]bool{}, runs: map[string]*atomic.Int64{}}
}

func (f *fakes) build(s Spec) (Checker, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.runs[s.Request] == nil {
		f.runs[s.Request] = &atomic.Int64{}
	}
	return fakeCheck{f: f, name: s.Request}, nil
}

func (f *fakes) count(name string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.runs[name] == nil {
		return 0
	}
	return f.runs[name].Load()
}

func (f *fakes) set(name string, fail bool) { f.mu.Lock(); f.fail[name] = fail; f.mu.Unlock() }

type fakeCheck struct {
	f    *fakes
	name string
}

func (c fakeCheck) Check(ctx context.Context) error {
	c.f.mu.Lock()
	fail, hang, flap, runs := c.f.fail[c.name], c.f.hang[c.name], c.f.flap[c.name], c.f.runs[c.name]
	c.f.mu.Unlock()
	if n := runs.Add(1); flap {
		fail = n%2 == 0
	}
	if hang {
		<-ctx.Done()
		return ctx.Err()
	}
	if fail {
		return errors.New("fake failure")
	}
	return nil
}

func spec(name string, interval time.Duration, failures int) Spec {
	return Spec{Type: "fake", Request: name, Addr: netip.MustParseAddr("10.0.1.11"), Interval: interval,
		Timeout: 5 * time.Second, NegotiateTimeout: 5 * time.Second, FailureCount: failures}
}

func start(t *testing.T, f *fakes, concurrency int) (*Scheduler, context.CancelFunc, chan struct{}) {
	s := NewScheduler(concurrency, nil)
	s.build = f.build
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	return s, cancel, done
}

func next(t *testing.T, s *Scheduler) Event {
	t.Helper()
	select {
	case ev := <-s.Events():
		return ev
	case <-time.After(3 * time.Second):
		t.Fatal("no event")
	}
	return Event{}
}

func TestFailurecountDebouncesAndSuccessResets(t *testing.T) {
	f := newFakes()
	s, cancel, done := start(t, f, 4)
	defer func() { cancel(); <-done }()
	sp := spec("a", 20*time.Millisecond, 3)
	s.Set(context.Background(), map[string]Check{"a": {Spec: sp, Up: false}})
	if ev := next(t, s); !ev.Up || ev.Soft {
		t.Fatalf("first success: %+v", ev)
	}
	f.set("a", true)
	for i := 1; i <= 2; i++ {
		if ev := next(t, s); !ev.Soft || ev.Fails != i || !ev.Up {
			t.Fatalf("soft failure %d: %+v", i, ev)
		}
	}
	if ev := next(t, s); ev.Up || ev.Soft {
		t.Fatalf("third failure must take it down: %+v", ev)
	}
	f.set("a", false)
	if ev := next(t, s); !ev.Up {
		t.Fatalf("heal: %+v", ev)
	}
	// One failure, then success: the count resets, so two more failures
	// are still soft.
	f.set("a", true)
	if ev := next(t, s); !ev.Soft || ev.Fails != 1 {
		t.Fatalf("%+v", ev)
	}
	f.set("a", false)
	time.Sleep(60 * time.Millisecond)
	f.set("a", true)
	if ev := next(t, s); !ev.Soft || ev.Fails != 1 {
		t.Fatalf("count not reset by success: %+v", ev)
	}
}

func TestHungRealDelaysNobody(t *testing.T) {
	f := newFakes()
	f.hang["slow"] = true
	s, cancel, done := start(t, f, 2)
	checks := map[string]Check{"slow": {Spec: spec("slow", 50*time.Millisecond, 1), Up: true}}
	for i := 0; i < 5; i++ {
		n := fmt.Sprint("fast", i)
		checks[n] = Check{Spec: spec(n, 50*time.Millisecond, 1), Up: true}
	}
	s.Set(context.Background(), checks)
	time.Sleep(600 * time.Millisecond)
	for i := 0; i < 5; i++ {
		n := fmt.Sprint("fast", i)
		if r := f.count(n); r < 6 {
			t.Errorf("%s ran %d times in 600ms at 50ms interval", n, r)
		}
	}
	if r := f.count("slow"); r != 1 {
		t.Errorf("hung check overlapped itself: %d runs", r)
	}
	// Stop returns promptly although a check hangs, leaving no goroutine.
	before := time.Now()
	cancel()
	<-done
	if d := time.Since(before); d > time.Second {
		t.Fatalf("stop took %v", d)
	}
}

func TestSetKeepsStateAndDropsRemoved(t *testing.T) {
	f := newFakes()
	s, cancel, done := start(t, f, 4)
	base := runtime.NumGoroutine()
	f.set("b", true)
	s.Set(context.Background(), map[string]Check{
		"a": {Spec: spec("a", 20*time.Millisecond, 1), Up: false},
		"b": {Spec: spec("b", 20*time.Millisecond, 1), Up: true},
	})
	got := map[string]bool{}
	for len(got) < 2 {
		ev := next(t, s)
		got[ev.ID] = ev.Up
	}
	if !got["a"] || got["b"] {
		t.Fatalf("events %v", got)
	}
	// Reload: a is kept (state up must survive, given Up=false), b goes, c comes.
	s.Set(context.Background(), map[string]Check{
		"a": {Spec: spec("a", 20*time.Millisecond, 1), Up: false},
		"c": {Spec: spec("c", 20*time.Millisecond, 1), Up: false},
	})
	if ev := next(t, s); ev.ID != "c" || !ev.Up {
		t.Fatalf("want c up, got %+v", ev)
	}
	time.Sleep(100 * time.Millisecond)
	st := s.States()
	if _, ok := st["b"]; ok || !st["a"].Up || len(st) != 2 {
		t.Fatalf("states after reload: %+v", st)
	}
	select {
	case ev := <-s.Events():
		t.Fatalf("unexpected event %+v (a must not flap on reload)", ev)
	default:
	}
	cancel()
	<-done
	time.Sleep(50 * time.Millisecond)
	if n := runtime.NumGoroutine(); n > base {
		t.Fatalf("goroutines %d > %d after stop", n, base)
	}
}

// A maintenancedir file takes a real down at once, whatever failurecount
// says; removing it lets the next check bring it back.
func TestMaintenanceForcesDownAtOnce(t *testing.T) {
	dir := t.TempDir()
	s := NewScheduler(4, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	sp := Spec{Type: "on", Addr: netip.MustParseAddr("10.0.1.11"), Port: 80, Interval: 20 * time.Millisecond,
		Timeout: time.Second, FailureCount: 5, MaintenanceDir: dir}
	s.Set(ctx, map[string]Check{"a": {Spec: sp, Up: true}})
	time.Sleep(60 * time.Millisecond)
	os.WriteFile(dir+"/10.0.1.11:80", nil, 0o644)
	ev := next(t, s)
	if ev.Up || ev.Soft || !errors.Is(ev.Err, ErrMaintenance) {
		t.Fatalf("want forced down, got %+v", ev)
	}
	os.Remove(dir + "/10.0.1.11:80")
	if ev := next(t, s); !ev.Up {
		t.Fatalf("want up after the file goes, got %+v", ev)
	}
	os.WriteFile(dir+"/10.0.1.11", nil, 0o644) // the bare address works too
	if ev := next(t, s); ev.Up {
		t.Fatalf("want down, got %+v", ev)
	}
}
