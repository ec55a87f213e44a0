package resource

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lvsdirector/director/director"
	"github.com/lvsdirector/director/ipvs"
)

// heldTable is a memory table whose writes wait until let is sent to (or
// closed), like a kernel table write that takes seconds.
type heldTable struct {
	*ipvs.Memory
	entered chan struct{}
	let     chan struct{}
}

func (t heldTable) Apply(ctx context.Context, ops []ipvs.Op) error {
	t.entered <- struct{}{}
	select {
	case <-t.let:
	case <-ctx.Done():
		return ctx.Err()
	}
	return t.Memory.Apply(ctx, ops)
}

// Snapshot and CheckStats answer at once while Start waits for the first
// table write and while Stop waits for cleanstop: both hold the agent's
// lock, and a status or metrics scrape must not wait behind them.
func TestDirectorReportsWhileStartAndStopWrite(t *testing.T) {
	cf := filepath.Join(t.TempDir(), "ld.cf")
	os.WriteFile(cf, []byte("logfile=\"/dev/null\"\nvirtual=10.0.0.100:80\n\treal=10.0.1.11:80 masq\n\tchecktype=on\n"), 0o644)
	tb := heldTable{ipvs.NewMemory(), make(chan struct{}, 4), make(chan struct{})}
	defer close(tb.let)
	r := &Director{Path: cf, Table: func() (ipvs.Table, error) { return tb, nil }}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	promptly := func(while string) []director.VirtualStatus {
		t.Helper()
		got := make(chan []director.VirtualStatus, 1)
		go func() { r.CheckStats(); got <- r.Snapshot() }()
		select {
		case s := <-got:
			return s
		case <-time.After(200 * time.Millisecond):
			t.Fatalf("Snapshot blocked while %s", while)
			return nil
		}
	}
	arrived := func(what string) {
		t.Helper()
		select {
		case <-tb.entered:
		case <-ctx.Done():
			t.Fatalf("%s never wrote the table", what)
		}
	}

	started := make(chan error, 1)
	go func() { started <- r.Start(ctx) }()
	arrived("Start")
	promptly("Start waited for the first table write")
	tb.let <- struct{}{}
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	if s := promptly("running"); len(s) != 1 || s[0].Reals[0].Weight != 1 {
		t.Fatalf("running: %+v", s)
	}

	stopped := make(chan error, 1)
	go func() { stopped <- r.Stop(ctx) }()
	arrived("Stop's cleanstop")
	promptly("Stop waited for cleanstop")
	tb.let <- struct{}{}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if s := promptly("stopped"); s != nil {
		t.Fatalf("stopped: %+v", s)
	}
}
