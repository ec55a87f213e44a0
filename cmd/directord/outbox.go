package main

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// sender is what the outbox sends through (the media).
type sender interface{ Send(b []byte) error }

// outboxSize bounds the packets waiting for the media: at a few per
// keepalive, far more than a stall worth keeping.
const outboxSize = 256

// outbox sends the loop's packets on a goroutine of its own, in order, as
// heartbeat's write children do: a socket that blocks (a full send
// buffer) holds up the sending, never the loop's timers and receiving.
// When it is full, new packets are dropped and counted (the peer asks for
// what it missed, as for any lost packet).
type outbox struct {
	q    chan []byte
	done chan struct{}
	log  *slog.Logger
	sent atomic.Uint64 // packets handed to the media (readiness: the first heartbeat went out)

	mu      sync.Mutex
	dropped int
	lastLog time.Time
}

func newOutbox(s sender, log *slog.Logger) *outbox {
	o := &outbox{q: make(chan []byte, outboxSize), done: make(chan struct{}), log: log}
	go func() {
		defer close(o.done)
		for b := range o.q {
			if err := s.Send(b); err != nil {
				log.Warn("send failed on every medium", "err", err)
				continue
			}
			o.sent.Add(1)
		}
	}()
	return o
}

// put queues b without waiting.
func (o *outbox) put(b []byte) {
	select {
	case o.q <- b:
	default:
		o.mu.Lock()
		o.dropped++
		if now := time.Now(); now.Sub(o.lastLog) >= time.Second {
			o.lastLog = now
			o.log.Warn("media stalled: outgoing packets dropped", "dropped", o.dropped)
		}
		o.mu.Unlock()
	}
}

// close sends what is queued (the last messages of a shutdown) and waits
// up to limit for it; a sender stuck beyond that is left to the media's
// Close, which ends it.
func (o *outbox) close(limit time.Duration) {
	close(o.q)
	select {
	case <-o.done:
	case <-time.After(limit):
		o.log.Warn("media stalled: packets still queued at exit")
	}
}
