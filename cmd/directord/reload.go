package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lvsdirector/director/failover/cluster"
	"github.com/lvsdirector/director/failover/haconf"
	"github.com/lvsdirector/director/failover/resource"
	"github.com/lvsdirector/director/failover/wire"
	"github.com/lvsdirector/director/internal/sdnotify"
)

// reloadPlan is what a re-read configuration changes in a running daemon,
// as heartbeat does on SIGHUP: keys, timers and logging are taken on at
// once; what would need a restart (nodes, media, ping nodes, resource
// groups, ...) is only reported, and the running values stay.
type reloadPlan struct {
	keys    bool
	timers  bool
	logs    bool
	restart []string // "FILE:LINE: directive changed: needs a restart"
}

// planReload compares the configuration in force with a re-read one.
func planReload(old, new *haconf.Config) reloadPlan {
	var p reloadPlan
	o, n := old.HA, new.HA
	p.keys = !keysEqual(old.Keys, new.Keys)
	p.timers = o.Keepalive != n.Keepalive || o.Deadtime != n.Deadtime || o.Warntime != n.Warntime ||
		o.Initdead != n.Initdead || o.Deadping != n.Deadping
	p.logs = o.Logfile != n.Logfile || o.Debugfile != n.Debugfile || o.LogFacility != n.LogFacility || o.Debug != n.Debug
	restart := func(file string, line int, what string) {
		where := file
		if line > 0 {
			where = fmt.Sprintf("%s:%d", file, line)
		}
		p.restart = append(p.restart, where+": "+what+" changed: needs a restart, the running value stays")
	}
	ha := func(directive string, changed bool) {
		if changed {
			restart(n.File, n.Lines[directive], directive)
		}
	}
	ha("node", !slices.Equal(o.Nodes, n.Nodes))
	ha("media (ucast/bcast/mcast)", !slices.Equal(mediaLines(o), mediaLines(n)))
	ha("udpport", o.UDPPort != n.UDPPort)
	ha("ping", !slices.Equal(pings(o), pings(n)))
	ha("auto_failback", o.AutoFailback != n.AutoFailback)
	ha("respawn", !slices.Equal(children(o.Respawn), children(n.Respawn)) || o.IPFail != n.IPFail)
	ha("env", !slices.Equal(o.Env, n.Env))
	ha("hopfudge", o.Hopfudge != n.Hopfudge)
	if !slices.Equal(groupLines(old.Resources), groupLines(new.Resources)) {
		file := "haresources"
		if new.Resources != nil && new.Resources.File != "" {
			file = new.Resources.File
		}
		restart(file, 0, "resource groups")
	}
	return p
}

func keysEqual(a, b *wire.Keyring) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func mediaLines(ha *haconf.HACF) []string {
	var out []string
	for _, m := range ha.Media {
		out = append(out, fmt.Sprintf("%v %s %s %v %d %d %v %d", m.Kind, m.Dev, m.Peer, m.Group, m.Port, m.TTL, m.Loop, m.Baud))
	}
	return out
}

func pings(ha *haconf.HACF) []string {
	var out []string
	for _, p := range ha.Ping {
		out = append(out, fmt.Sprintf("%s %v %s", p.Name, p.Group, strings.Join(p.Addrs, " ")))
	}
	return out
}

func children(cs []haconf.Child) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.User+" "+c.Command)
	}
	return out
}

func groupLines(r *haconf.Resources) []string {
	if r == nil {
		return nil
	}
	var out []string
	for _, g := range r.Groups {
		l := g.Node
		for _, res := range g.Resources {
			l += " " + res.Token
		}
		out = append(out, l)
	}
	return out
}

// timersOf are ha.cf's timers for the state machine.
func timersOf(ha *haconf.HACF) cluster.Timers {
	return cluster.Timers{Keepalive: ha.Keepalive, Deadtime: ha.Deadtime, Warntime: ha.Warntime, Initdead: ha.Initdead, Deadping: ha.Deadping}
}

// applied is cfg with what p takes from new; the rest stays as running.
func applied(cfg, new *haconf.Config, p reloadPlan) *haconf.Config {
	out := *cfg
	ha := *cfg.HA
	if p.keys {
		out.Keys = new.Keys
	}
	if p.timers {
		ha.Keepalive, ha.Deadtime, ha.Warntime, ha.Initdead, ha.Deadping = new.HA.Keepalive, new.HA.Deadtime, new.HA.Warntime, new.HA.Initdead, new.HA.Deadping
	}
	if p.logs {
		ha.Logfile, ha.Debugfile, ha.LogFacility, ha.Debug = new.HA.Logfile, new.HA.Debugfile, new.HA.LogFacility, new.HA.Debug
	}
	out.HA = &ha
	return &out
}

// reloadReq carries what the daemon's loop takes on: it only swaps
// in-memory state, nothing there waits.
type reloadReq struct {
	keys   *wire.Keyring // nil: unchanged
	timers *cluster.Timers
	done   chan error
}

// takeReload is run on the loop.
func (d *daemon) takeReload(r reloadReq) {
	var err error
	if r.timers != nil {
		var acts []cluster.Action
		if acts, err = d.m.SetTimers(*r.timers, time.Now()); err == nil {
			d.do(acts)
		}
	}
	if err == nil && r.keys != nil {
		d.keys = r.keys
	}
	r.done <- err
}

// reloader re-reads the configuration on SIGHUP, off the heartbeat loop
// (files, the log destinations and the directors' reloads may all take
// time), and hands the loop only what it swaps in memory.
type reloader struct {
	dir, node string
	cfg       *haconf.Config // in force
	logs      *logSwitch
	log       *slog.Logger
	d         *daemon
}

func (rl *reloader) run(ctx context.Context, hup <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			_ = sdnotify.Reloading()
			rl.reload(ctx)
			_ = sdnotify.Ready("")
		}
	}
}

func (rl *reloader) reload(ctx context.Context) {
	rl.log.Info("SIGHUP: re-reading the configuration", "dir", rl.dir)
	cfg, err := haconf.Load(rl.dir, rl.node)
	if err != nil {
		rl.log.Error("reload: " + err.Error() + " - configuration kept as it was")
		return
	}
	for _, w := range cfg.Warnings {
		rl.log.Warn(w.Error())
	}
	p := planReload(rl.cfg, cfg)
	for _, m := range p.restart {
		rl.log.Warn(m)
	}
	if p.logs {
		rl.logs.set(cfg.HA)
		rl.log.Info("log settings reloaded", "logfile", cfg.HA.Logfile, "debugfile", cfg.HA.Debugfile, "logfacility", cfg.HA.LogFacility)
	}
	req := reloadReq{done: make(chan error, 1)}
	if p.keys {
		req.keys = cfg.Keys
	}
	if p.timers {
		t := timersOf(cfg.HA)
		req.timers = &t
	}
	if req.keys != nil || req.timers != nil {
		select {
		case rl.d.reloads <- req:
		case <-ctx.Done():
			return
		}
		select {
		case err := <-req.done:
			if err != nil {
				rl.log.Error(fmt.Sprintf("reload: %s: timers: %v - timers kept as they were", cfg.HA.File, err))
				p.timers = false
			} else if p.keys {
				rl.log.Info("authkeys reloaded", "file", filepath.Join(rl.dir, haconf.AuthkeysName))
			}
		case <-ctx.Done():
			return
		}
	}
	rl.cfg = applied(rl.cfg, cfg, p)
	// The directors of held groups re-read their files, as ldirectord does
	// on reload (a running one only; a broken file is logged and changes
	// nothing).
	rl.d.mu.Lock()
	held := map[string]bool{}
	for k, h := range rl.d.held {
		held[k] = h
	}
	rl.d.mu.Unlock()
	for _, k := range rl.d.order {
		if !held[k] {
			continue
		}
		for _, a := range rl.d.groups[k].Agents {
			if r, ok := a.(*resource.Director); ok {
				rl.log.Info("reloading the director", "group", k, "config", r.Path)
				r.Reload()
			}
		}
	}
	rl.log.Info("configuration reloaded")
}
