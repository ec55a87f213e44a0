// Package sdnotify tells systemd how a Type=notify daemon is doing: ready,
// reloading, stopping, a one-line status, and watchdog pings that are sent
// only while every loop of the daemon shows progress, so that a wedged
// loop gets the daemon restarted rather than pinged on by a healthy
// ticker. The messages go through go-systemd's daemon.SdNotify; without
// $NOTIFY_SOCKET (not under systemd) each call does nothing.
package sdnotify

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"
)

// Enabled reports whether systemd listens ($NOTIFY_SOCKET is set).
func Enabled() bool { return os.Getenv("NOTIFY_SOCKET") != "" }

// send is daemon.SdNotify; a failure is not the daemon's problem (systemd
// gone, or not asked for), so it is only returned for tests and logs.
var send = func(state string) error { _, err := daemon.SdNotify(false, state); return err }

// Ready says the daemon is up (or back from a reload), with its status.
func Ready(status string) error { return send(daemon.SdNotifyReady + statusLine(status)) }

// Reloading says a reload began; Ready ends it. MONOTONIC_USEC is what
// systemd 253's notify-reload asks for; older ones ignore it.
func Reloading() error {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return send(fmt.Sprintf("%s\nMONOTONIC_USEC=%d", daemon.SdNotifyReloading, ts.Nano()/1000))
}

// Stopping says the daemon is shutting down.
func Stopping(status string) error { return send(daemon.SdNotifyStopping + statusLine(status)) }

// Status sets the line systemctl status shows.
func Status(status string) error { return send(strings.TrimPrefix(statusLine(status), "\n")) }

func statusLine(s string) string {
	if s == "" {
		return ""
	}
	// One line: a newline would start another assignment.
	return "\nSTATUS=" + strings.Join(strings.Fields(s), " ")
}

// Stamp is a loop's last sign of progress: the loop touches it each time
// round (at least every second or so), the watchdog reads it.
type Stamp struct{ ns atomic.Int64 }

// Touch records progress now.
func (s *Stamp) Touch() { s.TouchAt(time.Now()) }

// TouchAt records progress at t.
func (s *Stamp) TouchAt(t time.Time) { s.ns.Store(t.UnixNano()) }

// Last is the last progress; the zero time if never touched.
func (s *Stamp) Last() time.Time {
	if n := s.ns.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Source is one loop the watchdog watches.
type Source struct {
	Name string
	Last time.Time // zero: not started yet, not counted
}

// Stale lists the sources that made no progress within maxAge.
func Stale(now time.Time, maxAge time.Duration, srcs []Source) []string {
	var out []string
	for _, s := range srcs {
		if !s.Last.IsZero() && now.Sub(s.Last) > maxAge {
			out = append(out, fmt.Sprintf("%s (%s)", s.Name, now.Sub(s.Last).Round(time.Millisecond)))
		}
	}
	return out
}

// WatchdogInterval is WatchdogSec as systemd passed it (WATCHDOG_USEC for
// this pid), 0 when there is no watchdog.
func WatchdogInterval() time.Duration {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return 0
	}
	return d
}

// Watchdog pings systemd (WATCHDOG=1) three times per Interval, each time
// only if no source is stale: a loop is stale once it has not moved for
// half the interval, which leaves systemd the other half to see the pings
// stop.
type Watchdog struct {
	Interval time.Duration
	Sources  func() []Source
	Log      *slog.Logger
	// Tick replaces the ticker in tests; each tick's time is "now".
	Tick <-chan time.Time
	// Judged, in tests, gets whether each tick pinged, once it is decided.
	Judged chan<- bool
}

// Run pings until ctx is done.
func (w *Watchdog) Run(ctx context.Context) {
	if w.Interval <= 0 {
		return
	}
	tick := w.Tick
	if tick == nil {
		t := time.NewTicker(w.Interval / 3)
		defer t.Stop()
		tick = t.C
	}
	log := w.Log
	if log == nil {
		log = slog.Default()
	}
	withheld := false
	for {
		var now time.Time
		select {
		case <-ctx.Done():
			return
		case now = <-tick:
		}
		stale := Stale(now, w.Interval/2, w.Sources())
		if len(stale) > 0 {
			if !withheld {
				log.Error("watchdog: no progress, not pinging systemd (it restarts the daemon at WatchdogSec)",
					"stale", strings.Join(stale, ", "), "watchdog", w.Interval)
			}
			withheld = true
			w.judged(false)
			continue
		}
		if withheld {
			log.Warn("watchdog: progress again, pinging systemd")
		}
		withheld = false
		if err := send(daemon.SdNotifyWatchdog); err != nil {
			log.Debug("watchdog ping", "err", err)
		}
		w.judged(true)
	}
}

func (w *Watchdog) judged(pinged bool) {
	if w.Judged != nil {
		w.Judged <- pinged
	}
}
