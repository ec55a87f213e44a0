package resource

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsdirector/director/ipvs"
)

type rec struct {
	name  string
	log   *[]string
	fail  string // "start" or "stop": fail that many times (see n)
	n     int
	state bool
}

func (r *rec) Start(context.Context) error {
	*r.log = append(*r.log, "start "+r.name)
	if r.fail == "start" {
		return errors.New("boom")
	}
	r.state = true
	return nil
}
func (r *rec) Stop(context.Context) error {
	*r.log = append(*r.log, "stop "+r.name)
	if r.fail == "stop" && r.n > 0 {
		r.n--
		return errors.New("busy")
	}
	r.state = false
	return nil
}
func (r *rec) Running(context.Context) (bool, error) { return r.state, nil }
func (r *rec) String() string                        { return r.name }

func TestGroupOrderRollbackAndRetry(t *testing.T) {
	var log []string
	a, b, c := &rec{name: "a", log: &log}, &rec{name: "b", log: &log}, &rec{name: "c", log: &log}
	g := &Group{Key: "a", Agents: []Agent{a, b, c}}
	ctx := context.Background()
	if err := g.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	b.fail, b.n = "stop", 2
	if err := g.Release(ctx); err != nil {
		t.Fatal(err)
	}
	want := "start a,start b,start c,stop c,stop b,stop b,stop b,stop a"
	if got := strings.Join(log, ","); got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	// A start failure rolls back what was started.
	log = nil
	b.fail = "start"
	if err := g.Acquire(ctx); err == nil {
		t.Fatal("acquire succeeded")
	}
	if got := strings.Join(log, ","); got != "start a,start b,stop a" {
		t.Fatalf("rollback: %s", got)
	}
	// A stop that never works is reported after the retries, the rest still stop.
	log = nil
	b.fail, b.n = "stop", 100
	err := g.Release(ctx)
	if err == nil || !strings.Contains(err.Error(), "failed 4 times") || !strings.Contains(strings.Join(log, ","), "stop a") {
		t.Fatalf("release: %v %v", err, log)
	}
}

func TestScriptArgsAndStatusRule(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "svc"), []byte("#!/bin/sh\necho \"$@\" >> "+dir+"/calls\ncase $3 in status) cat "+dir+"/status 2>/dev/null; exit 3;; esac\n"), 0o755)
	s := &Script{Name: "svc", Args: []string{"x", "y"}, Dirs: []string{filepath.Join(dir, "none"), dir}}
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "status"), []byte("svc is running\n"), 0o644)
	if ok, _ := s.Running(ctx); !ok {
		t.Fatal("running not seen (exit status must not matter)")
	}
	os.WriteFile(filepath.Join(dir, "status"), []byte("svc is not running\n"), 0o644)
	if ok, _ := s.Running(ctx); ok {
		t.Fatal("not running seen as running")
	}
	s.Stop(ctx)
	calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
	if string(calls) != "x y start\nx y status\nx y status\nx y stop\n" {
		t.Fatalf("calls %q", calls)
	}
	if _, err := (&Script{Name: "nope", Dirs: []string{dir}}).path(); err == nil {
		t.Fatal("missing script found")
	}
}

// ldirectord::CFG runs the director in-process: start programs the table,
// stop runs its cleanstop.
func TestDirectorInProcess(t *testing.T) {
	dir := t.TempDir()
	cf := filepath.Join(dir, "ld.cf")
	os.WriteFile(cf, []byte("checkinterval=1\nlogfile=\"/dev/null\"\nvirtual=10.0.0.100:80\n\treal=10.0.1.11:80 masq\n\tchecktype=on\n"), 0o644)
	m := ipvs.NewMemory()
	r := &Director{Path: cf, Table: func() (ipvs.Table, error) { return m, nil }}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _ := r.Running(ctx); !ok {
		t.Fatal("not running")
	}
	if ds, err := m.Destinations(ctx, ipvs.ServiceKey{Family: ipvs.INET, Protocol: ipvs.TCP, Addr: mustAddr("10.0.0.100"), Port: 80}); err != nil || len(ds) != 1 {
		t.Fatalf("table: %v %v", ds, err)
	}
	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if s, _ := m.Services(ctx); len(s) != 0 {
		t.Fatalf("cleanstop left %v", s)
	}
	os.WriteFile(cf, []byte("virtual=10.0.0.100:80\n\treal=10.0.1.11:80 route\n"), 0o644)
	if err := r.Start(ctx); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("broken config: %v", err)
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// Snapshot and CheckStats report the director while it runs and nothing
// before it starts or after it stops (a released group's table is gone).
func TestDirectorReportsOnlyWhileRunning(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	rsAddr := strings.TrimPrefix(srv.URL, "http://")
	dir := t.TempDir()
	cf := filepath.Join(dir, "ld.cf")
	os.WriteFile(cf, []byte("checkinterval=1\nlogfile=\"/dev/null\"\nvirtual=10.0.0.100:80\n\treal="+rsAddr+" masq\n\tservice=http\n\trequest=\"/\"\n\treceive=\"ok\"\n"), 0o644)
	m := ipvs.NewMemory()
	r := &Director{Path: cf, Table: func() (ipvs.Table, error) { return m, nil }}
	if r.Snapshot() != nil || r.CheckStats().Runs != 0 {
		t.Fatal("reports before Start")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.CheckStats().Runs == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if st := r.CheckStats(); st.Runs == 0 || len(st.Lateness) == 0 {
		t.Fatalf("no check ran: %+v", st)
	}
	snap := r.Snapshot()
	if len(snap) != 1 || len(snap[0].Reals) != 1 || snap[0].Reals[0].Addr != rsAddr {
		t.Fatalf("snapshot while running: %+v", snap)
	}
	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if snap := r.Snapshot(); snap != nil {
		t.Fatalf("snapshot after Stop: %+v", snap)
	}
	if st := r.CheckStats(); st.Runs != 0 {
		t.Fatalf("check stats after Stop: %+v", st)
	}
}

// A start that fails after earlier resources started rolls them back; if
// that rollback stop fails too, Acquire must not return with them still
// up: the group would be neither held (the machine counts a failed start
// as not ours, and hands the group's kind to the peer) nor released, and
// the peer would bring up the same address.
func TestFailedStartCleanupStopFailsNotHalfHeld(t *testing.T) {
	defer func(d, c time.Duration) { stopRetryDelay, cleanupRetry = d, c }(stopRetryDelay, cleanupRetry)
	stopRetryDelay, cleanupRetry = time.Millisecond, time.Millisecond
	var log []string
	a, b := &rec{name: "a", log: &log}, &rec{name: "b", log: &log, fail: "start"}
	a.fail, a.n = "stop", StopRetries+3 // the first rollback stop fails every try
	g := &Group{Key: "a", Agents: []Agent{a, b}}
	if err := g.Acquire(context.Background()); err == nil {
		t.Fatal("acquire succeeded")
	}
	if a.state {
		t.Fatalf("acquire returned with %s still running (half held): %v", a, log)
	}
	if got := strings.Count(strings.Join(log, ","), "stop a"); got != StopRetries+4 {
		t.Fatalf("rollback stops of a: %d, want %d: %v", got, StopRetries+4, log)
	}
}

// A rollback stop that never succeeds ends with ctx, reported.
func TestFailedStartCleanupGivesUpWithContext(t *testing.T) {
	defer func(d, c time.Duration) { stopRetryDelay, cleanupRetry = d, c }(stopRetryDelay, cleanupRetry)
	stopRetryDelay, cleanupRetry = time.Millisecond, time.Millisecond
	var log []string
	a, b := &rec{name: "a", log: &log, fail: "stop", n: 1 << 30}, &rec{name: "b", log: &log, fail: "start"}
	g := &Group{Key: "a", Agents: []Agent{a, b}}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := g.Acquire(ctx)
	if err == nil || !strings.Contains(err.Error(), "start b") || !strings.Contains(err.Error(), "still running") {
		t.Fatalf("err %v", err)
	}
}
