package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/lvsdirector/director/director"
	"github.com/lvsdirector/director/internal/sdnotify"
)

// serveNotify is "start" under systemd (Type=notify, $NOTIFY_SOCKET set):
// no daemonizing, systemd is the supervisor. The pid file is still taken,
// so that "ldirectord status|stop|reload" and a second start see this one.
func serveNotify(inv invocation, cfg *director.Config) int {
	lock, err := lockPidFile(pidFile(inv))
	if err != nil {
		var running errRunning
		if errors.As(err, &running) {
			fmt.Fprintf(os.Stderr, "ldirectord for %s is %v\n", inv.path, running)
		} else {
			fmt.Fprintf(os.Stderr, "cannot write pid file: %v\n", err)
		}
		return exitFail
	}
	defer lock.release()
	return serve(inv, cfg, nil, os.Stdout, os.Stderr)
}

// statusLine is STATUS= for systemctl status: "5 virtual(s), 12/14 reals up".
func statusLine(vs []director.VirtualStatus) string {
	reals, up, fallback := 0, 0, 0
	for _, v := range vs {
		for _, r := range v.Reals {
			if r.Fallback {
				if r.Weight > 0 {
					fallback++
				}
				continue
			}
			reals++
			if r.Up {
				up++
			}
		}
	}
	s := fmt.Sprintf("%d virtual(s), %d/%d reals up", len(vs), up, reals)
	if fallback > 0 {
		s += fmt.Sprintf(", %d on the fallback server", fallback)
	}
	return s
}

// notifySystemd keeps systemd told while the director runs: STATUS= when
// it changes (looked at every second) and WATCHDOG=1 while the engine and
// the check scheduler go round. It returns when ctx is done.
func notifySystemd(ctx context.Context, in *director.Instance, log *slog.Logger) {
	if !sdnotify.Enabled() {
		return
	}
	wd := &sdnotify.Watchdog{Interval: sdnotify.WatchdogInterval(), Log: log, Sources: func() []sdnotify.Source {
		return []sdnotify.Source{{Name: "director (engine, checks)", Last: in.Alive()}}
	}}
	done := make(chan struct{})
	go func() { defer close(done); wd.Run(ctx) }()
	defer func() { <-done }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if s := statusLine(in.Snapshot()); s != last && in.Alive() != (time.Time{}) {
				last = s
				_ = sdnotify.Status(s)
			}
		}
	}
}
