package healthcheck

import (
	"container/heap"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Check is a check to schedule with the state its real starts in (ldirectord
// takes a real that is already in the kernel with weight > 0 as up).
type Check struct {
	Spec Spec
	Up   bool
}

// Event reports a real's transition (Up changed) or, with Soft set, a
// failure that failurecount still absorbs.
type Event struct {
	ID    string
	Up    bool
	Soft  bool
	Fails int // consecutive failures so far
	Err   error
}

// State is the scheduler's view of one check.
type State struct {
	Spec      Spec
	Up        bool
	Fails     int
	LastErr   error
	LastCheck time.Time
	Duration  time.Duration
}

// Stats are totals since the scheduler started.
type Stats struct {
	Runs     uint64
	Queued   int             // events waiting for the consumer beyond the channel's buffer
	Lateness []time.Duration // recent start lateness samples (ring of up to 4096)
}

// Scheduler runs every check every Spec.Interval, each on its own clock, so
// that a slow or hung real server delays nobody else. At most Concurrency
// checks are in flight; a check never overlaps itself.
type Scheduler struct {
	concurrency int
	log         *slog.Logger
	now         func() time.Time
	build       func(Spec) (Checker, error)

	setCh  chan map[string]Check
	events chan Event
	alive  atomic.Int64 // unix ns of the loop's last turn (Alive)

	mu     sync.Mutex
	states map[string]State
	runs   uint64
	queued int
	late   []time.Duration
	lateAt int
}

// NewScheduler returns a scheduler; Run starts it.
func NewScheduler(concurrency int, log *slog.Logger) *Scheduler {
	if concurrency <= 0 {
		concurrency = 256
	}
	if log == nil {
		log = slog.Default()
	}
	return &Scheduler{
		concurrency: concurrency,
		log:         log,
		now:         time.Now,
		build:       New,
		setCh:       make(chan map[string]Check),
		// A small buffer lets the consumer take a burst as one batch;
		// beyond it events wait coalesced per real (eventQueue).
		events: make(chan Event, 64),
		states: map[string]State{},
	}
}

// Events delivers transitions; the consumer must keep reading while Run runs.
func (s *Scheduler) Events() <-chan Event { return s.events }

// Set replaces the set of checks. Checks whose ID is kept keep their state
// (a reload does not reset health); new ones start in their given state.
func (s *Scheduler) Set(ctx context.Context, checks map[string]Check) {
	select {
	case s.setCh <- checks:
	case <-ctx.Done():
	}
}

// States returns a snapshot of every check's state.
func (s *Scheduler) States() map[string]State {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]State, len(s.states))
	for k, v := range s.states {
		out[k] = v
	}
	return out
}

// Stats returns run totals and recent lateness samples.
func (s *Scheduler) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Runs: s.runs, Queued: s.queued, Lateness: append([]time.Duration(nil), s.late...)}
}

type entry struct {
	id      string
	spec    Spec
	checker Checker
	due     time.Time
	up      bool
	fails   int
	running bool
	removed bool
	index   int
}

type dueHeap []*entry

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i]; h[i].index = i; h[j].index = j }
func (h *dueHeap) Push(x any)        { e := x.(*entry); e.index = len(*h); *h = append(*h, e) }
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	e.index = -1
	return e
}

type result struct {
	e       *entry
	err     error
	started time.Time
	took    time.Duration
}

// aliveEvery bounds the scheduler loop's sleep (see Alive).
const aliveEvery = time.Second

// Alive is when the scheduler's loop last went round (zero before Run):
// at least every aliveEvery while it is not stuck.
func (s *Scheduler) Alive() time.Time {
	if n := s.alive.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Run schedules checks until ctx is done, then waits for the checks in
// flight (their contexts are cancelled) and returns.
func (s *Scheduler) Run(ctx context.Context) {
	entries := map[string]*entry{}
	var due dueHeap
	done := make(chan result)
	var wg sync.WaitGroup
	inflight := 0
	var pending eventQueue
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	defer wg.Wait()

	for {
		now := s.now()
		s.alive.Store(time.Now().UnixNano())
		for inflight < s.concurrency && len(due) > 0 && !due[0].due.After(now) {
			e := heap.Pop(&due).(*entry)
			if e.removed {
				continue
			}
			e.running = true
			inflight++
			s.noteStart(now.Sub(e.due))
			wg.Add(1)
			// The goroutine gets its own copies: apply may swap e's
			// checker and spec while it runs.
			go func(e *entry, c Checker, timeout time.Duration, started time.Time) {
				defer wg.Done()
				cctx, cancel := context.WithTimeout(ctx, timeout)
				err := c.Check(cctx)
				cancel()
				select {
				case done <- result{e: e, err: err, started: started, took: s.now().Sub(started)}:
				case <-ctx.Done():
				}
			}(e, e.checker, e.spec.deadline(), now)
		}
		// The loop turns at least every second, due or not, so that
		// Alive tells a wedged scheduler from an idle one.
		wait := aliveEvery
		if inflight < s.concurrency && len(due) > 0 {
			wait = min(wait, due[0].due.Sub(now))
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
		timerC := timer.C
		s.mu.Lock()
		s.queued = pending.len()
		s.mu.Unlock()
		var out chan Event
		var next Event
		if pending.len() > 0 {
			out, next = s.events, pending.first()
		}

		select {
		case <-ctx.Done():
			return
		case <-timerC:
		case out <- next:
			pending.pop()
		case checks := <-s.setCh:
			s.apply(checks, entries, &due, now)
		case r := <-done:
			inflight--
			e := r.e
			e.running = false
			if e.removed {
				continue
			}
			if ev, ok := s.judge(e, r.err); ok {
				pending.push(ev)
			}
			s.record(e, r)
			e.due = r.started.Add(e.spec.Interval)
			if now := s.now(); e.due.Before(now) {
				e.due = now
			}
			heap.Push(&due, e)
		}
	}
}

// eventQueue holds the events the consumer has not taken yet, at most one
// per real: while the consumer is busy only a real's latest state matters,
// so a newer event replaces the waiting one in its place in the queue.
// Its size is bounded by the number of reals however long the consumer
// stalls and however often they flap.
type eventQueue struct {
	order []string         // IDs in the order their first waiting event came
	byID  map[string]Event // the event to deliver for each waiting ID
}

func (q *eventQueue) len() int { return len(q.order) }

func (q *eventQueue) first() Event { return q.byID[q.order[0]] }

func (q *eventQueue) pop() {
	delete(q.byID, q.order[0])
	q.order[0] = ""
	q.order = q.order[1:]
}

func (q *eventQueue) push(ev Event) {
	if q.byID == nil {
		q.byID = map[string]Event{}
	}
	old, waiting := q.byID[ev.ID]
	if !waiting {
		q.order = append(q.order, ev.ID)
		q.byID[ev.ID] = ev
		return
	}
	// A soft failure means "still up": it must not hide a waiting
	// transition to up, which the consumer has not seen yet.
	if ev.Soft && !old.Soft {
		return
	}
	q.byID[ev.ID] = ev
}

// judge applies ldirectord's up/down rules: one success brings a real up
// and resets its failures; failurecount consecutive failures take it down.
func (s *Scheduler) judge(e *entry, err error) (Event, bool) {
	if err == nil {
		if e.fails > 0 && e.up {
			s.log.Info("Resetting soft failure count", "check", e.id)
		}
		e.fails = 0
		if !e.up {
			e.up = true
			return Event{ID: e.id, Up: true}, true
		}
		return Event{}, false
	}
	if !e.up {
		return Event{}, false
	}
	e.fails++
	if e.fails < max(e.spec.FailureCount, 1) && !errors.Is(err, ErrMaintenance) {
		return Event{ID: e.id, Up: true, Soft: true, Fails: e.fails, Err: err}, true
	}
	e.up = false
	return Event{ID: e.id, Up: false, Fails: e.fails, Err: err}, true
}

func (s *Scheduler) apply(checks map[string]Check, entries map[string]*entry, due *dueHeap, now time.Time) {
	for id, e := range entries {
		if _, ok := checks[id]; !ok {
			e.removed = true
			if e.index >= 0 && e.index < len(*due) && (*due)[e.index] == e {
				heap.Remove(due, e.index)
			}
			delete(entries, id)
		}
	}
	// New checks start spread over at most a second (or their interval,
	// if shorter) instead of all at once.
	var fresh []*entry
	for id, c := range checks {
		checker, err := s.build(c.Spec)
		if err != nil {
			s.log.Error("cannot build check", "check", id, "err", err)
			continue
		}
		if e, ok := entries[id]; ok {
			e.spec, e.checker = c.Spec, checker
			continue
		}
		e := &entry{id: id, spec: c.Spec, checker: checker, up: c.Up, index: -1}
		entries[id] = e
		fresh = append(fresh, e)
	}
	for i, e := range fresh {
		window := min(e.spec.Interval, time.Second)
		e.due = now.Add(window * time.Duration(i) / time.Duration(len(fresh)))
		heap.Push(due, e)
	}
	s.mu.Lock()
	for id := range s.states {
		if _, ok := entries[id]; !ok {
			delete(s.states, id)
		}
	}
	for id, e := range entries {
		st := s.states[id]
		st.Spec, st.Up, st.Fails = e.spec, e.up, e.fails
		s.states[id] = st
	}
	s.mu.Unlock()
}

func (s *Scheduler) record(e *entry, r result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runs++
	s.states[e.id] = State{Spec: e.spec, Up: e.up, Fails: e.fails, LastErr: r.err, LastCheck: r.started, Duration: r.took}
}

func (s *Scheduler) noteStart(late time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.late) < 4096 {
		s.late = append(s.late, late)
	} else {
		s.late[s.lateAt] = late
		s.lateAt = (s.lateAt + 1) % len(s.late)
	}
}
