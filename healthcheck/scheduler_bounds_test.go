package healthcheck

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// While the consumer of events is stalled, reals that flap keep one
// waiting event each (their latest state), not one per transition; once
// the consumer reads again it ends with every real's latest state.
func TestEventQueueCoalescesPerReal(t *testing.T) {
	const reals = 20
	f := newFakes()
	s, cancel, done := start(t, f, 8)
	defer func() { cancel(); <-done }()
	checks := map[string]Check{}
	for i := 0; i < reals; i++ {
		n := fmt.Sprint("r", i)
		f.mu.Lock()
		f.flap[n] = true
		f.mu.Unlock()
		checks[n] = Check{Spec: spec(n, time.Millisecond, 1), Up: true}
	}
	s.Set(context.Background(), checks)
	// Flap until every real has changed state far more often than the
	// event channel holds.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var least int64 = 1 << 62
		for i := 0; i < reals; i++ {
			least = min(least, f.count(fmt.Sprint("r", i)))
		}
		if least > 2*int64(cap(s.events)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reals ran only %d times", least)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if q := s.Stats().Queued; q > reals {
		t.Errorf("%d events wait for a stalled consumer, want at most %d (one per real)", q, reals)
	}
	// Settle: even reals end down, odd ones up.
	want := map[string]bool{}
	f.mu.Lock()
	for i := 0; i < reals; i++ {
		n := fmt.Sprint("r", i)
		f.flap[n] = false
		f.fail[n] = i%2 == 0
		want[n] = i%2 != 0
	}
	f.mu.Unlock()
	time.Sleep(50 * time.Millisecond)
	if q := s.Stats().Queued; q > reals {
		t.Errorf("%d events wait, want at most %d", q, reals)
	}
	last := map[string]bool{}
	read := 0
	for quiet := time.After(time.Second); ; {
		select {
		case ev := <-s.Events():
			read++
			if !ev.Soft {
				last[ev.ID] = ev.Up
			}
			quiet = time.After(300 * time.Millisecond)
			continue
		case <-quiet:
		}
		break
	}
	t.Logf("consumer read %d events after the stall", read)
	for n, up := range want {
		if got, ok := last[n]; !ok || got != up {
			t.Errorf("%s: last event up=%v (seen %v), want up=%v", n, got, ok, up)
		}
	}
}

// A waiting transition to up is not replaced by a later soft failure (the
// consumer would never learn the real came up); anything else is.
func TestEventQueueKeepsTransitionOverSoft(t *testing.T) {
	var q eventQueue
	q.push(Event{ID: "a", Up: true})
	q.push(Event{ID: "b", Up: true, Soft: true, Fails: 1})
	q.push(Event{ID: "a", Up: true, Soft: true, Fails: 1})
	q.push(Event{ID: "b", Up: false, Fails: 2})
	q.push(Event{ID: "c", Up: false})
	q.push(Event{ID: "c", Up: true})
	want := []Event{{ID: "a", Up: true}, {ID: "b", Up: false, Fails: 2}, {ID: "c", Up: true}}
	if q.len() != len(want) {
		t.Fatalf("%d waiting, want %d", q.len(), len(want))
	}
	for _, w := range want {
		if got := q.first(); got != w {
			t.Errorf("got %+v, want %+v", got, w)
		}
		q.pop()
	}
}
