package healthcheck

import (
	"context"
	"testing"
	"time"
)

// An idle scheduler (nothing due) still goes round every second: its
// Alive stamp is what a systemd watchdog judges it by.
func TestSchedulerAliveWhileIdle(t *testing.T) {
	s := NewScheduler(1, nil)
	if !s.Alive().IsZero() {
		t.Fatal("Alive before Run")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	time.Sleep(100 * time.Millisecond)
	first := s.Alive()
	time.Sleep(aliveEvery + 500*time.Millisecond)
	second := s.Alive()
	if first.IsZero() || !second.After(first) || time.Since(second) > aliveEvery+500*time.Millisecond {
		t.Errorf("Alive %v then %v (now %v): the idle loop did not go round", first, second, time.Now())
	}
}
