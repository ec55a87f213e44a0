package sdnotify

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// listen stands in for systemd: a unixgram socket at $NOTIFY_SOCKET.
func listen(t *testing.T) func() string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: p, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", p)
	return func() string {
		t.Helper()
		buf := make([]byte, 4096)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			return "(nothing: " + err.Error() + ")"
		}
		return string(buf[:n])
	}
}

func TestMessages(t *testing.T) {
	recv := listen(t)
	if !Enabled() {
		t.Fatal("Enabled false with NOTIFY_SOCKET set")
	}
	Ready("holding group a;\npeer b active")
	if got := recv(); got != "READY=1\nSTATUS=holding group a; peer b active" {
		t.Errorf("ready: %q", got)
	}
	Reloading()
	if got := recv(); !strings.HasPrefix(got, "RELOADING=1\nMONOTONIC_USEC=") || len(got) < len("RELOADING=1\nMONOTONIC_USEC=1") {
		t.Errorf("reloading: %q", got)
	}
	Status("5 virtuals, 12 reals up")
	if got := recv(); got != "STATUS=5 virtuals, 12 reals up" {
		t.Errorf("status: %q", got)
	}
	Stopping("")
	if got := recv(); got != "STOPPING=1" {
		t.Errorf("stopping: %q", got)
	}
}

func TestNoSocketIsQuiet(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if Enabled() || Ready("x") != nil {
		t.Error("without NOTIFY_SOCKET: enabled or an error")
	}
}

// The watchdog pings while every loop moves, stops pinging while one is
// stuck longer than half the interval, and resumes when it moves again.
func TestWatchdogPingsOnlyWhileLoopsMove(t *testing.T) {
	recv := listen(t)
	now := time.Unix(1000, 0)
	var loop, sched Stamp
	tick := make(chan time.Time)
	judged := make(chan bool)
	w := &Watchdog{Interval: 30 * time.Second, Tick: tick, Judged: judged,
		Sources: func() []Source {
			return []Source{{"heartbeat loop", loop.Last()}, {"check scheduler", sched.Last()}, {"not started", time.Time{}}}
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	defer func() { cancel(); <-done }()

	step := func(d time.Duration, touchLoop, touchSched bool) {
		now = now.Add(d)
		if touchLoop {
			loop.TouchAt(now)
		}
		if touchSched {
			sched.TouchAt(now)
		}
		tick <- now
		<-judged // the next touches must not reach this tick's judgement
	}
	step(0, true, true)
	if got := recv(); got != "WATCHDOG=1" {
		t.Fatalf("fresh: %q", got)
	}
	step(10*time.Second, true, false) // scheduler 10 s old: within 15 s
	if got := recv(); got != "WATCHDOG=1" {
		t.Fatalf("10 s: %q", got)
	}
	step(10*time.Second, true, false) // scheduler 20 s old: stuck
	step(10*time.Second, true, true)  // moves again
	if got := recv(); got != "WATCHDOG=1" {
		t.Fatalf("after recovery: %q", got)
	}
	// Exactly one ping per fresh tick: the stuck tick sent nothing.
	step(0, false, false)
	recv()
	step(16*time.Second, false, false)
	if got := recv(); !strings.HasPrefix(got, "(nothing") {
		t.Fatalf("both stuck 16 s: %q", got)
	}
}

func TestStale(t *testing.T) {
	now := time.Unix(100, 0)
	got := Stale(now, 5*time.Second, []Source{{"a", now.Add(-6 * time.Second)}, {"b", now.Add(-5 * time.Second)}, {"c", time.Time{}}})
	if len(got) != 1 || got[0] != "a (6s)" {
		t.Errorf("got %v", got)
	}
}
