package main

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/lvsdirector/director/failover/resource"
	"github.com/lvsdirector/director/internal/sdnotify"
)

// sdState is what the daemon tells systemd (Type=notify); all of it is
// used on the daemon's goroutine only, but alive, read by the watchdog.
type sdState struct {
	on       bool // $NOTIFY_SOCKET set
	ready    bool
	status   string
	statusAt time.Time
	alive    sdnotify.Stamp // the heartbeat loop's last turn
}

// notifyState runs on every tick of the daemon's loop. READY=1 goes out
// once start has settled: the media are open and a heartbeat went out,
// communication is up (the peer heard, or initdead passed) and no
// resource operation is in flight, so the groups this node should hold
// are up — their addresses set and their directors' tables programmed.
// STATUS= follows the state, looked at once a second.
func (d *daemon) notifyState(now time.Time) {
	if !d.sd.on {
		return
	}
	if !d.sd.ready {
		if d.out.sent.Load() == 0 || !d.m.CommUp() || d.m.Resources() == "transition" || len(d.queue) > 0 {
			return
		}
		d.sd.ready = true
		d.sd.status, d.sd.statusAt = d.summary(), now
		if err := sdnotify.Ready(d.sd.status); err != nil {
			d.log.Warn("systemd notify: " + err.Error())
		}
		d.log.Info("ready (told systemd)", "status", d.sd.status)
		return
	}
	if now.Sub(d.sd.statusAt) < time.Second {
		return
	}
	d.sd.statusAt = now
	if s := d.summary(); s != d.sd.status {
		d.sd.status = s
		_ = sdnotify.Status(s)
	}
}

// summary is the one line systemctl status shows, e.g. "holding
// 10.0.0.100 ldirectord::l.cf (group a); peer b active; 1 virtual(s), 2/3
// reals up".
func (d *daemon) summary() string {
	var parts []string
	d.mu.Lock()
	var held []string
	for _, k := range d.order {
		if d.held[k] {
			held = append(held, k)
		}
	}
	var peers []string
	for _, n := range slices.Sorted(maps.Keys(d.nodes)) {
		if n != d.node {
			peers = append(peers, "peer "+n+" "+d.nodes[n])
		}
	}
	d.mu.Unlock()
	if len(held) == 0 {
		parts = append(parts, "holding nothing")
	} else {
		parts = append(parts, "holding group "+strings.Join(held, ", group "))
	}
	parts = append(parts, "resources "+d.m.Resources())
	parts = append(parts, peers...)
	virtuals, reals, up := 0, 0, 0
	for _, k := range held {
		for _, a := range d.groups[k].Agents {
			if r, ok := a.(*resource.Director); ok {
				for _, v := range r.Snapshot() {
					virtuals++
					for _, rs := range v.Reals {
						if rs.Fallback {
							continue
						}
						reals++
						if rs.Up {
							up++
						}
					}
				}
			}
		}
	}
	if virtuals > 0 {
		parts = append(parts, fmt.Sprintf("%d virtual(s), %d/%d reals up", virtuals, up, reals))
	}
	return strings.Join(parts, "; ")
}

// watchdog pings systemd while the heartbeat loop and, of each group
// held, the director's engine and check scheduler go round.
func (d *daemon) watchdog(log *slog.Logger) *sdnotify.Watchdog {
	return &sdnotify.Watchdog{Interval: sdnotify.WatchdogInterval(), Log: log, Sources: func() []sdnotify.Source {
		srcs := []sdnotify.Source{{Name: "heartbeat loop", Last: d.sd.alive.Last()}}
		for _, k := range d.order {
			for _, a := range d.groups[k].Agents {
				if r, ok := a.(*resource.Director); ok {
					srcs = append(srcs, sdnotify.Source{Name: "director " + r.Path + " (engine, checks)", Last: r.Alive()})
				}
			}
		}
		return srcs
	}}
}
