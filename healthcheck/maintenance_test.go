package healthcheck

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeResolver answers reverse lookups from names, or blocks until the
// lookup's context ends when block is set.
type fakeResolver struct {
	mu      sync.Mutex
	names   map[string]string
	block   bool
	calls   atomic.Int64
	release chan struct{} // closed at the test's end: blocked lookups return
}

func (r *fakeResolver) lookup(ctx context.Context, addr string) ([]string, error) {
	r.calls.Add(1)
	r.mu.Lock()
	name, block := r.names[addr], r.block
	r.mu.Unlock()
	if block {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-r.release:
			return nil, fmt.Errorf("resolver gone")
		}
	}
	if name == "" {
		return nil, fmt.Errorf("no name for %s", addr)
	}
	return []string{name + "."}, nil
}

func useResolver(t *testing.T, r *fakeResolver) {
	t.Helper()
	r.release = make(chan struct{})
	old := reverseNames
	c := newNameCache(r.lookup)
	reverseNames = c
	t.Cleanup(func() {
		close(r.release)
		for len(c.slots) > 0 { // lookups in flight hold a slot
			time.Sleep(time.Millisecond)
		}
		reverseNames = old
	})
}

// A resolver that never answers delays no check: the first checks of N
// reals with a maintenancedir come at once, not one lookup timeout after
// another (issue 9 item 7: 2 s each, 10 reals = first check after 20 s).
func TestMaintenanceSilentResolverDelaysNoCheck(t *testing.T) {
	useResolver(t, &fakeResolver{block: true})
	const reals = 10
	s := NewScheduler(64, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	checks := map[string]Check{}
	for i := 0; i < reals; i++ {
		sp := Spec{Type: "on", Addr: netip.AddrFrom4([4]byte{10, 0, 1, byte(10 + i)}), Port: 80,
			Interval: 100 * time.Millisecond, Timeout: time.Second, FailureCount: 1, MaintenanceDir: t.TempDir()}
		checks[fmt.Sprint("r", i)] = Check{Spec: sp, Up: false}
	}
	t0 := time.Now()
	setDone := make(chan struct{})
	go func() { s.Set(ctx, checks); close(setDone) }()
	up := map[string]bool{}
	limit := time.After(1500 * time.Millisecond) // one lookup timeout is 2 s
	for len(up) < reals {
		select {
		case ev := <-s.Events():
			up[ev.ID] = ev.Up
		case <-limit:
			t.Fatalf("after %v only %d of %d reals were checked: name resolution sits on the check path", time.Since(t0), len(up), reals)
		}
	}
	<-setDone
	t.Logf("%d reals up after %v", reals, time.Since(t0))
}

// Names found in the background are used once known: the fqdn and short
// forms then put a real in maintenance, as in ldirectord.
func TestMaintenanceNamesResolvedInBackground(t *testing.T) {
	r := &fakeResolver{names: map[string]string{"10.0.1.11": "web1.example.com"}}
	useResolver(t, r)
	dir := t.TempDir()
	sp := Spec{Type: "on", Addr: netip.MustParseAddr("10.0.1.11"), Port: 80, Timeout: time.Second, MaintenanceDir: dir}
	c, err := New(sp)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "web1"), nil, 0o644)
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := c.Check(context.Background())
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the short name never put the real in maintenance")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// A second check of the same address (a reload) asks nothing new.
	before := r.calls.Load()
	c2, _ := New(sp)
	if err := c2.Check(context.Background()); err == nil {
		t.Error("a rebuilt check forgot the name")
	}
	if n := r.calls.Load() - before; n != 0 {
		t.Errorf("a rebuilt check looked the name up again (%d lookups)", n)
	}
}
