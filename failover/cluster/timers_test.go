package cluster

import (
	"strings"
	"testing"
	"time"
)

// A reload's timers take effect at once: status goes out at the new
// keepalive, with the new deadtime advertised; bad timers change nothing.
func TestSetTimers(t *testing.T) {
	t0 := time.Unix(1000, 0)
	m, err := New(Config{Node: "a", Nodes: []string{"a", "b"}, Keepalive: 2 * time.Second, Deadtime: 10 * time.Second, Generation: 1})
	if err != nil {
		t.Fatal(err)
	}
	m.Start(t0)
	if _, err := m.SetTimers(Timers{Keepalive: time.Second, Deadtime: time.Second}, t0); err == nil || !strings.Contains(err.Error(), "deadtime") {
		t.Fatalf("deadtime <= 2*keepalive accepted: %v", err)
	}
	if m.cfg.Keepalive != 2*time.Second {
		t.Fatalf("a refused reload changed keepalive to %v", m.cfg.Keepalive)
	}
	acts, err := m.SetTimers(Timers{Keepalive: 200 * time.Millisecond, Deadtime: time.Second}, t0.Add(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if !logged(acts, "keepalive 200ms, deadtime 1s") {
		t.Errorf("change not logged: %v", acts)
	}
	var sent []string
	for now := t0.Add(150 * time.Millisecond); now.Before(t0.Add(1100 * time.Millisecond)); now = now.Add(50 * time.Millisecond) {
		for _, a := range m.Tick(now) {
			if s, ok := a.(Send); ok && s.Msg.Type == "status" {
				sent = append(sent, s.Msg.Fields["dt"])
			}
		}
	}
	// 0.3, 0.5, 0.7, 0.9 s (the old keepalive: none before 2 s), each with
	// the new deadtime plus the startup pad (comm is not up): 3 s.
	if len(sent) != 4 || sent[0] != "bb8" {
		t.Fatalf("status sent after the reload: %v (dt in hex ms)", sent)
	}
}

func logged(acts []Action, text string) bool {
	for _, a := range acts {
		if l, ok := a.(Log); ok && strings.Contains(l.Text, text) {
			return true
		}
	}
	return false
}
