package director

import (
	"context"
	"testing"
	"time"

	"github.com/lvsdirector/director/ipvs"
)

// gate blocks every caller at wait until open is closed, and tells
// entered about each arrival.
type gate struct {
	entered chan struct{}
	open    chan struct{}
}

func newGate() *gate { return &gate{entered: make(chan struct{}, 16), open: make(chan struct{})} }

func (g *gate) wait(ctx context.Context) error {
	g.entered <- struct{}{}
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// slowTable is a memory table whose writes wait at a gate, like a kernel
// table write that takes seconds.
type slowTable struct {
	*ipvs.Memory
	g *gate
}

func (t slowTable) Apply(ctx context.Context, ops []ipvs.Op) error {
	if err := t.g.wait(ctx); err != nil {
		return err
	}
	return t.Memory.Apply(ctx, ops)
}

// promptly calls Snapshot and fails unless it returns within 200 ms.
func promptly(t *testing.T, d *Director, while string) []VirtualStatus {
	t.Helper()
	got := make(chan []VirtualStatus, 1)
	go func() { got <- d.Snapshot() }()
	select {
	case s := <-got:
		return s
	case <-time.After(200 * time.Millisecond):
		t.Fatalf("Snapshot blocked while %s", while)
		return nil
	}
}

func arrived(t *testing.T, g *gate, what string) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s never started", what)
	}
}

// Snapshot answers at once while the table is written and while a
// fallbackcommand runs (reconcile holds the director's lock through both),
// and it shows the table as written.
func TestSnapshotDoesNotWaitForApplyOrFallbackCommand(t *testing.T) {
	f := newFarm(t, 1)
	f.set(0, true) // down: the fallback goes in and fallbackcommand starts
	v := f.virtual("10.0.0.100", false)
	v.FallbackCommand = "/bin/sorry"
	apply, command := newGate(), newGate()
	d := New(&Config{Virtuals: []*Virtual{v}}, slowTable{ipvs.NewMemory(), apply}, Options{Resync: time.Hour,
		RunCommand: func(ctx context.Context, _ string) error { return command.wait(ctx) }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		close(apply.open)
		close(command.open)
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	arrived(t, apply, "the first table write")
	if s := promptly(t, d, "the table was written"); len(s) != 1 || s[0].Reals[0].Weight != -1 {
		t.Fatalf("before the write: %+v", s)
	}
	apply.open <- struct{}{} // not a close: let exactly this write through
	arrived(t, command, "fallbackcommand")
	s := promptly(t, d, "fallbackcommand ran")
	if len(s) != 1 || len(s[0].Reals) != 2 || !s[0].Reals[1].Fallback || s[0].Reals[1].Weight != 1 {
		t.Fatalf("after the write the fallback is in: %+v", s)
	}
}
