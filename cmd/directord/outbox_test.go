package main

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// stuckMedia blocks every Send until let is closed, then records.
type stuckMedia struct {
	let  chan struct{}
	mu   sync.Mutex
	sent [][]byte
}

func (m *stuckMedia) Send(b []byte) error {
	<-m.let
	m.mu.Lock()
	m.sent = append(m.sent, b)
	m.mu.Unlock()
	return nil
}

// A medium that blocks never holds up the loop: put returns at once, the
// overflow is dropped and logged, and what was queued goes out in order
// once the medium moves again, the queue flushed by close.
func TestOutboxNeverWaitsForTheMedia(t *testing.T) {
	m := &stuckMedia{let: make(chan struct{})}
	var logs syncBuf
	o := newOutbox(m, slog.New(slog.NewTextHandler(&logs, nil)))
	t0 := time.Now()
	for i := 0; i < 3*outboxSize; i++ {
		o.put([]byte{byte(i), byte(i >> 8)})
	}
	if took := time.Since(t0); took > time.Second {
		t.Fatalf("put waited %v for a stuck medium", took)
	}
	if !bytes.Contains([]byte(logs.String()), []byte("outgoing packets dropped")) {
		t.Errorf("drops not logged: %s", logs.String())
	}
	close(m.let)
	o.close(5 * time.Second)
	m.mu.Lock()
	defer m.mu.Unlock()
	// One packet may be in Send when the queue filled: outboxSize or +1.
	if n := len(m.sent); n < outboxSize || n > outboxSize+1 {
		t.Fatalf("%d sent", n)
	}
	// In order, the first ones without a gap; the one extra (taken by the
	// sender while the queue was full) is whichever put found the slot.
	prev := -1
	for i, b := range m.sent {
		n := int(b[0]) | int(b[1])<<8
		if n <= prev || (i < outboxSize-1 && n != i) {
			t.Fatalf("packet %d out of order: %d after %d", i, n, prev)
		}
		prev = n
	}
}
