package director

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsdirector/director/ipvs"
)

// faultTable is ipvs.Memory behind the faults a kernel's netlink socket
// shows: calls failing with errno, ops failing within a batch, ops done but
// reported failed (a lost ack), and calls that hang until ctx ends.
type faultTable struct {
	*ipvs.Memory
	mu        sync.Mutex
	failApply int                // Apply calls left to fail whole
	failRead  int                // Services/Destinations calls left to fail
	failOp    func(ipvs.Op) bool // ops refused in a batch (the rest is done)
	lostAck   func(ipvs.Op) bool // ops done but reported failed
	hangApply int                // Apply calls left to hang until ctx ends
	hangRead  int                // Services calls left to hang until ctx ends
	release   chan struct{}      // closed: hung calls go on (a late answer)
	failed    int                // calls or ops failed so far
	hung      int                // calls that hung so far
}

func newFaultTable() *faultTable { return &faultTable{Memory: ipvs.NewMemory()} }

func (f *faultTable) set(fn func(f *faultTable)) { f.mu.Lock(); fn(f); f.mu.Unlock() }

func (f *faultTable) counts() (failed, hung int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed, f.hung
}

var errNetlink = &ipvs.KernelError{Cmd: "get-service", Errno: syscall.ENOBUFS}

// hang blocks until ctx ends or release is closed if a hang is due
// (*left > 0).
func (f *faultTable) hang(ctx context.Context, left *int) error {
	f.mu.Lock()
	due := *left > 0
	if due {
		*left--
		f.hung++
	}
	release := f.release
	f.mu.Unlock()
	if !due {
		return nil
	}
	select {
	case <-release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *faultTable) readFault() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failRead > 0 {
		f.failRead--
		f.failed++
		return errNetlink
	}
	return nil
}

func (f *faultTable) Services(ctx context.Context) ([]ipvs.Service, error) {
	if err := f.hang(ctx, &f.hangRead); err != nil {
		return nil, err
	}
	if err := f.readFault(); err != nil {
		return nil, err
	}
	return f.Memory.Services(ctx)
}

func (f *faultTable) Destinations(ctx context.Context, k ipvs.ServiceKey) ([]ipvs.Destination, error) {
	if err := f.readFault(); err != nil {
		return nil, err
	}
	return f.Memory.Destinations(ctx, k)
}

func allFailed(ops []ipvs.Op, err error) error {
	ae := &ipvs.ApplyError{Total: len(ops)}
	for _, op := range ops {
		ae.Failed = append(ae.Failed, ipvs.OpError{Op: op, Err: err})
	}
	return ae
}

func (f *faultTable) Apply(ctx context.Context, ops []ipvs.Op) error {
	if err := f.hang(ctx, &f.hangApply); err != nil {
		return allFailed(ops, err)
	}
	f.mu.Lock()
	whole := f.failApply > 0
	if whole {
		f.failApply--
		f.failed++
	}
	failOp, lostAck := f.failOp, f.lostAck
	f.mu.Unlock()
	if whole {
		return allFailed(ops, &ipvs.KernelError{Cmd: "new-dest", Errno: syscall.ENOBUFS})
	}
	var do []ipvs.Op
	var failed []ipvs.OpError
	for _, op := range ops {
		switch {
		case failOp != nil && failOp(op):
			failed = append(failed, ipvs.OpError{Op: op, Err: &ipvs.KernelError{Cmd: op.Kind.String(), Errno: syscall.EBUSY}})
		case lostAck != nil && lostAck(op):
			do = append(do, op)
			failed = append(failed, ipvs.OpError{Op: op, Err: &ipvs.KernelError{Cmd: op.Kind.String(), Errno: syscall.ETIMEDOUT}})
		default:
			do = append(do, op)
		}
	}
	var ae *ipvs.ApplyError
	if err := f.Memory.Apply(ctx, do); err != nil {
		ae = err.(*ipvs.ApplyError)
		failed = append(failed, ae.Failed...)
	}
	if len(failed) == 0 {
		return nil
	}
	f.mu.Lock()
	f.failed += len(failed)
	f.mu.Unlock()
	return &ipvs.ApplyError{Failed: failed, Total: len(ops)}
}

// syncBuf is a log sink safe for the director's goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// faultRun runs a director on ft with a short resync. stop cancels Run and
// fails the test unless Run returns within limit.
type faultRun struct {
	d    *Director
	logs *syncBuf
	done chan error
	stop func(limit time.Duration)
}

func runFaulty(t *testing.T, cfg *Config, ft *faultTable, opts Options) *faultRun {
	t.Helper()
	r := &faultRun{logs: &syncBuf{}, done: make(chan error, 1)}
	opts.Log = slog.New(slog.NewTextHandler(r.logs, nil))
	if opts.Resync == 0 {
		opts.Resync = 50 * time.Millisecond
	}
	ready := make(chan struct{})
	opts.Ready = func() { close(ready) }
	r.d = New(cfg, ft, opts)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { r.done <- r.d.Run(ctx) }()
	select {
	case <-ready:
	case err := <-r.done:
		cancel()
		t.Fatalf("Run ended before the table was programmed: %v", err)
	case <-time.After(5 * time.Second):
		cancel()
		t.Fatal("not ready after 5 s")
	}
	stopped := false
	r.stop = func(limit time.Duration) {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(limit):
			t.Fatalf("Run did not return within %v of cancel; log:\n%s", limit, r.logs)
		}
		noDirectorGoroutines(t)
	}
	t.Cleanup(func() { r.stop(10 * time.Second) })
	return r
}

// noDirectorGoroutines fails if a goroutine of the director, the check
// scheduler or the fake table is still running shortly after Run returned.
func noDirectorGoroutines(t *testing.T) {
	t.Helper()
	var left string
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		left = ""
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "director/director.(*Director)") || strings.Contains(g, "(*faultTable)") ||
				strings.Contains(g, "director/healthcheck.") {
				left += g + "\n\n"
			}
		}
		if left == "" {
			return
		}
	}
	t.Fatalf("goroutines left after Run returned:\n%s", left)
}

// waitFaults waits until the fake has failed (or hung) at least n more
// times than before: the director kept trying through the fault.
func waitFaults(t *testing.T, ft *faultTable, hung bool, n int) {
	t.Helper()
	f0, h0 := ft.counts()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		f, h := ft.counts()
		if !hung && f-f0 >= n || hung && h-h0 >= n {
			return
		}
	}
	t.Fatalf("the director did not retry through the fault (%d faults wanted)", n)
}

func alive(t *testing.T, r *faultRun) {
	t.Helper()
	select {
	case err := <-r.done:
		t.Fatalf("Run ended during a kernel fault: %v", err)
	default:
	}
}

// Every netlink call fails for a while; health changes during the fault
// reach the table once the kernel answers again, without a restart.
func TestKernelErrorsThenRecovery(t *testing.T) {
	f := newFarm(t, 2)
	v := f.virtual("10.0.0.100", false)
	ft := newFaultTable()
	r := runFaulty(t, &Config{Virtuals: []*Virtual{v}}, ft, Options{})
	r0 := fmt.Sprintf("-> 127.0.0.1:%d masq 2", f.ports[0])
	r1 := fmt.Sprintf("-> 127.0.0.1:%d masq 3", f.ports[1])
	waitTable(t, ft.Memory, has(r0), "r0 in")
	waitTable(t, ft.Memory, has(r1), "r1 in")

	const always = 1 << 30
	ft.set(func(f *faultTable) { f.failApply, f.failRead = always, always })
	f.set(0, true) // down during the fault
	waitFaults(t, ft, false, 10)
	if tb := table(t, ft.Memory); !strings.Contains(tb, r0) {
		t.Fatalf("the fake kernel changed while refusing every call:\n%s", tb)
	}
	alive(t, r)
	ft.set(func(f *faultTable) { f.failApply, f.failRead = 0, 0 })
	waitTable(t, ft.Memory, lacks(r0), "r0 removed after the kernel recovered")

	// Down and up again, and another real down, all during a second fault.
	ft.set(func(f *faultTable) { f.failApply, f.failRead = always, always })
	f.set(0, false)
	f.set(1, true)
	waitFaults(t, ft, false, 10)
	alive(t, r)
	ft.set(func(f *faultTable) { f.failApply, f.failRead = 0, 0 })
	waitTable(t, ft.Memory, has(r0), "r0 back after the second fault")
	waitTable(t, ft.Memory, lacks(fmt.Sprintf("127.0.0.1:%d", f.ports[1])), "r1 removed after the second fault")

	logs := r.logs.String()
	for _, want := range []string{"ipvs: some changes failed", "ipvs: cannot read the table", "no buffer space available"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	r.stop(5 * time.Second)
	if tb := table(t, ft.Memory); tb != "" {
		t.Fatalf("cleanstop left:\n%s", tb)
	}
}

// A hung call that ends (released by the kernel answering): the director
// answers Snapshot meanwhile, and afterwards changes still reach the table.
// Here the hang ends when the director's own deadline ends it: a kernel
// that never answers must not hold the director for good.
func TestKernelCallHangs(t *testing.T) {
	for _, which := range []string{"apply", "read"} {
		t.Run(which, func(t *testing.T) {
			f := newFarm(t, 2)
			v := f.virtual("10.0.0.100", false)
			ft := newFaultTable()
			r := runFaulty(t, &Config{Virtuals: []*Virtual{v}}, ft, Options{TableTimeout: 300 * time.Millisecond})
			r0 := fmt.Sprintf("-> 127.0.0.1:%d masq 2", f.ports[0])
			waitTable(t, ft.Memory, has(r0), "r0 in")
			ft.set(func(f *faultTable) {
				if which == "apply" {
					f.hangApply = 1
				} else {
					f.hangRead = 1
				}
			})
			f.set(0, true)
			waitFaults(t, ft, true, 1)
			snap := make(chan []VirtualStatus, 1)
			go func() { snap <- r.d.Snapshot() }()
			select {
			case <-snap:
			case <-time.After(time.Second):
				t.Fatal("Snapshot waits on a hung kernel call")
			}
			waitTable(t, ft.Memory, lacks(r0), "r0 removed after the hung call")
			f.set(0, false)
			waitTable(t, ft.Memory, has(r0), "a later change reaches the table")
			alive(t, r)
			if !strings.Contains(r.logs.String(), "context deadline exceeded") {
				t.Errorf("the hung call is not logged:\n%s", r.logs)
			}
		})
	}
}

// A hung call that the kernel answers late: meanwhile Snapshot answers
// and Reload gives up on its own ctx; the late answer and later changes
// reach the table.
func TestKernelCallHangsThenAnswers(t *testing.T) {
	f := newFarm(t, 2)
	v := f.virtual("10.0.0.100", false)
	ft := newFaultTable()
	ft.release = make(chan struct{})
	cfg := &Config{Virtuals: []*Virtual{v}}
	r := runFaulty(t, cfg, ft, Options{})
	r0 := fmt.Sprintf("-> 127.0.0.1:%d masq 2", f.ports[0])
	waitTable(t, ft.Memory, has(r0), "r0 in")
	ft.set(func(f *faultTable) { f.hangApply = 1 })
	f.set(0, true)
	waitFaults(t, ft, true, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	err := r.d.Reload(ctx, cfg)
	cancel()
	if err == nil {
		t.Fatal("Reload returned nil while Run was held by a hung call")
	}
	done := make(chan struct{})
	go func() { r.d.Snapshot(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("Snapshot waits on a hung kernel call")
	}
	if tb := table(t, ft.Memory); !strings.Contains(tb, r0) {
		t.Fatalf("changed while the call hangs:\n%s", tb)
	}
	close(ft.release)
	waitTable(t, ft.Memory, lacks(r0), "r0 removed by the late answer")
	f.set(0, false)
	waitTable(t, ft.Memory, has(r0), "a later change reaches the table")
	alive(t, r)
}

// Stop while a kernel call hangs (and the cleanstop call hangs too): Run
// returns promptly, leaving no goroutine behind.
func TestStopWhileKernelCallHangs(t *testing.T) {
	f := newFarm(t, 1)
	v := f.virtual("10.0.0.100", false)
	ft := newFaultTable()
	r := runFaulty(t, &Config{Virtuals: []*Virtual{v}}, ft, Options{TableTimeout: 300 * time.Millisecond})
	r0 := fmt.Sprintf("-> 127.0.0.1:%d masq 2", f.ports[0])
	waitTable(t, ft.Memory, has(r0), "r0 in")
	ft.set(func(f *faultTable) { f.hangApply = 1 << 30 }) // the reconcile, the cleanstop and any retry between
	f.set(0, true)
	waitFaults(t, ft, true, 1)
	t0 := time.Now()
	r.stop(3 * time.Second)
	if _, hung := ft.counts(); hung < 2 {
		t.Errorf("%d calls hung, want at least 2 (the reconcile and the cleanstop)", hung)
	}
	t.Logf("Run returned %v after cancel", time.Since(t0))
	if !strings.Contains(r.logs.String(), "cleanstop: some virtuals could not be removed") {
		t.Errorf("the failed cleanstop is not logged:\n%s", r.logs)
	}
}

// Some ops of a batch fail, or are done but reported failed (a lost
// ack): the table converges at the next resync.
func TestPartialFailureConverges(t *testing.T) {
	f := newFarm(t, 2)
	v := f.virtual("10.0.0.100", false)
	ft := newFaultTable()
	r1Key := v.Reals[1].Dest.DestKey
	refusals := 3
	ft.set(func(f *faultTable) {
		f.failOp = func(op ipvs.Op) bool { // r1's add refused 3 times
			if op.Kind == ipvs.AddDest && op.Dest.DestKey == r1Key && refusals > 0 {
				refusals--
				return true
			}
			return false
		}
	})
	r := runFaulty(t, &Config{Virtuals: []*Virtual{v}}, ft, Options{})
	r0 := fmt.Sprintf("-> 127.0.0.1:%d masq 2", f.ports[0])
	r1 := fmt.Sprintf("-> 127.0.0.1:%d masq 3", f.ports[1])
	waitTable(t, ft.Memory, has(r0), "r0 in")
	waitTable(t, ft.Memory, has(r1), "r1 in once its add is no longer refused")
	ft.mu.Lock()
	left := refusals
	ft.mu.Unlock()
	if left != 0 {
		t.Fatalf("r1 in with %d refusals left: the fault never happened", left)
	}

	// Lost acks: r0's delete, then its add, are done but reported failed.
	r0Key := v.Reals[0].Dest.DestKey
	ft.set(func(f *faultTable) {
		f.lostAck = func(op ipvs.Op) bool {
			return op.Dest.DestKey == r0Key && (op.Kind == ipvs.DeleteDest || op.Kind == ipvs.AddDest)
		}
	})
	f.set(0, true)
	waitTable(t, ft.Memory, lacks(r0), "r0 deleted")
	waitWeight(t, r.d, r0Key, -1)
	f.set(0, false)
	waitTable(t, ft.Memory, has(r0), "r0 added")
	waitWeight(t, r.d, r0Key, 2)
	ft.set(func(f *faultTable) { f.lostAck = nil })
	f.set(1, true)
	waitTable(t, ft.Memory, lacks(r1), "r1 deleted")
	if tb := table(t, ft.Memory); !strings.Contains(tb, r0) {
		t.Fatalf("r0 lost:\n%s", tb)
	}
	if !strings.Contains(r.logs.String(), "ipvs op failed") {
		t.Errorf("the failed ops are not logged:\n%s", r.logs)
	}
}

// waitWeight waits until Snapshot (the director's view of the kernel)
// shows weight w for dest k (-1: absent).
func waitWeight(t *testing.T, d *Director, k ipvs.DestKey, w int32) {
	t.Helper()
	var got int32
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		got = -2
		for _, v := range d.Snapshot() {
			for _, r := range v.Reals {
				if r.Addr == k.String() {
					got = r.Weight
				}
			}
		}
		if got == w {
			return
		}
	}
	t.Fatalf("director's view of %v: weight %d, want %d", k, got, w)
}
