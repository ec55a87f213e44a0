package resource

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lvsdirector/director/director"
	"github.com/lvsdirector/director/ipvs"
	"github.com/lvsdirector/director/ipvs/ipvstest"
)

// Snapshot and CheckStats answer at once while Start waits for the first
// table write and while Stop waits for cleanstop: both hold the agent's
// lock, and a status or metrics scrape must not wait behind them.
func TestDirectorReportsWhileStartAndStopWrite(t *testing.T) {
	cf := filepath.Join(t.TempDir(), "ld.cf")
	os.WriteFile(cf, []byte("logfile=\"/dev/null\"\nvirtual=10.0.0.100:80\n\treal=10.0.1.11:80 masq\n\tchecktype=on\n"), 0o644)
	tb := ipvstest.NewHeldTable()
	defer close(tb.Let)
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
		case <-tb.Entered:
		case <-ctx.Done():
			t.Fatalf("%s never wrote the table", what)
		}
	}

	started := make(chan error, 1)
	go func() { started <- r.Start(ctx) }()
	arrived("Start")
	promptly("Start waited for the first table write")
	tb.Let <- struct{}{}
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
	tb.Let <- struct{}{}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if s := promptly("stopped"); s != nil {
		t.Fatalf("stopped: %+v", s)
	}
}
