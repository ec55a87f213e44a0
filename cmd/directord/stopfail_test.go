package main

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvsdirector/director/failover/resource"
)

// stubborn is a resource whose stop fails while fail is set.
type stubborn struct{ fail atomic.Bool }

func (s *stubborn) Start(context.Context) error { return nil }
func (s *stubborn) Stop(context.Context) error {
	if s.fail.Load() {
		return errors.New("stuck stop: exit status 1")
	}
	return nil
}
func (s *stubborn) Running(context.Context) (bool, error) { return true, nil }
func (s *stubborn) String() string                        { return "stuck" }

// A group whose stop fails stays held and status says so, with the count
// of failed stops in a row, the error and since when; a stop that then
// succeeds clears it.
func TestStatusReportsAFailingStop(t *testing.T) {
	d := testDaemon(t)
	r := &stubborn{}
	d.groups["10.0.0.100"] = &resource.Group{Key: "10.0.0.100", Agents: []resource.Agent{r}}
	d.jobs, d.done = make(chan job), make(chan jobResult)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); d.worker(ctx) }()
	defer func() { cancel(); <-ran }()
	run := func(j job) jobResult {
		t.Helper()
		d.jobs <- j
		select {
		case res := <-d.done:
			return res
		case <-time.After(5 * time.Second):
			t.Fatal("no result")
		}
		return jobResult{}
	}
	group := func() (held bool, n int, errText string, since time.Time) {
		for _, g := range d.status().Groups {
			if g.Key == "10.0.0.100" {
				return g.Held, g.StopFailures, g.StopError, g.StopSince
			}
		}
		t.Fatal("group missing from status")
		return
	}

	if res := run(job{op: 1, acquire: true, groups: []string{"10.0.0.100"}}); len(res.failed) != 0 {
		t.Fatalf("start failed: %v", res.failed)
	}
	r.fail.Store(true)
	t0 := time.Now()
	for i := 1; i <= 2; i++ {
		res := run(job{op: 1 + i, groups: []string{"10.0.0.100"}})
		if len(res.failed) != 1 {
			t.Fatalf("stop %d: failed %v, want the group", i, res.failed)
		}
		held, n, e, since := group()
		if !held || n != i || !strings.Contains(e, "stuck stop: exit status 1") || since.Before(t0.Add(-time.Second)) || since.After(time.Now()) {
			t.Fatalf("after %d failed stops: held %v, failures %d, error %q, since %v", i, held, n, e, since)
		}
	}
	r.fail.Store(false)
	if res := run(job{op: 9, groups: []string{"10.0.0.100"}}); len(res.failed) != 0 {
		t.Fatalf("stop failed: %v", res.failed)
	}
	if held, n, e, _ := group(); held || n != 0 || e != "" {
		t.Fatalf("after a good stop: held %v, failures %d, error %q", held, n, e)
	}
}
