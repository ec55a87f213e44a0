package main

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lvsdirector/director/failover/cluster"
	"github.com/lvsdirector/director/failover/control"
	"github.com/lvsdirector/director/failover/media"
	"github.com/lvsdirector/director/failover/resource"
	"github.com/lvsdirector/director/failover/wire"
	"github.com/lvsdirector/director/internal/sdnotify"
)

// daemon owns the state machine: one goroutine (run) feeds it packets,
// ticks, resource results and commands, and carries out its actions.
type daemon struct {
	log    *slog.Logger
	node   string
	m      *cluster.Machine
	media  *media.Set
	keys   *wire.Keyring
	groups map[string]*resource.Group
	order  []string // group keys in haresources order
	ttl    int

	jobs    chan job // to the worker; fed by run from queue, never blocking the loop
	queue   []job    // jobs the worker has not taken yet
	done    chan jobResult
	control chan control.Request
	pings   chan pingReport
	reloads chan reloadReq // SIGHUP: keys and timers to take on
	out     *outbox        // packets for the media, sent off the loop
	sd      sdState        // what systemd is told (systemd.go)

	sync        *connSync     // nil: connection sync off
	syncSettled chan struct{} // the backup sync daemon has settled

	mu     sync.Mutex // guards what status reads
	nodes  map[string]string
	links  map[string]map[string]bool
	held   map[string]bool
	stuck  map[string]stopFailure // groups whose last stop failed (still held)
	exited bool

	hb hbNodes // ha.cf's nodes and links, for cl_status
}

// stopFailure is a run of failed stops of one group, for status.
type stopFailure struct {
	n     int
	err   string
	since time.Time
}

type job struct {
	op       int
	acquire  bool
	announce bool // re-announce held groups' addresses; nothing is reported back
	groups   []string
}

type jobResult struct {
	op     int
	failed []string
}

// run serves until a graceful shutdown completes (after ctx is done) or the
// shutdown times out.
func (d *daemon) run(ctx context.Context) error {
	var wg sync.WaitGroup
	wctx, stopWorker := context.WithCancel(context.WithoutCancel(ctx))
	wg.Add(1)
	go func() { defer wg.Done(); d.worker(wctx) }()
	defer func() { stopWorker(); wg.Wait() }()
	d.out = newOutbox(d.media, d.log)
	defer d.out.close(2 * time.Second)

	d.sd.on = sdnotify.Enabled()
	d.do(d.m.Start(time.Now()))
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	stopping := ctx.Done()
	var giveUp <-chan time.Time
	for {
		d.sd.alive.Touch()
		// The worker takes queued jobs when it is free: a send to a busy
		// worker must not hold up heartbeats.
		var feed chan job
		var next job
		if len(d.queue) > 0 {
			feed, next = d.jobs, d.queue[0]
		}
		select {
		case feed <- next:
			d.queue = d.queue[1:]
		case p := <-d.media.Packets():
			msg, err := wire.Open(p.Data, d.keys)
			if err != nil {
				d.log.Debug("packet dropped", "link", p.Link, "from", p.From, "err", err)
				continue
			}
			cm, ok := fromWire(msg)
			if !ok || cm.Src == d.node {
				continue
			}
			d.do(d.m.Receive(cm, p.Link, time.Now()))
		case now := <-tick.C:
			d.do(d.m.Tick(now))
			d.notifyState(now)
		case r := <-d.done:
			d.do(d.m.ResourcesDone(r.op, r.failed, time.Now()))
		case r := <-d.pings:
			d.do(d.m.PingStatus(r.node, r.up, time.Now()))
		case req := <-d.control:
			d.handle(req)
		case r := <-d.reloads:
			d.takeReload(r)
		case <-d.syncSettled:
			d.do(d.m.SyncSettled(time.Now()))
		case <-stopping:
			stopping = nil
			d.log.Info("shutting down: handing the resources over")
			_ = sdnotify.Stopping("shutting down: handing the resources over")
			d.do(d.m.Shutdown(time.Now()))
			giveUp = time.After(2 * time.Minute)
		case <-giveUp:
			// Exiting while a group is being stopped, or would not stop,
			// would let the other node take it while it may still be up
			// (heartbeat reboots instead): keep heartbeating and retrying.
			if g := d.m.Releasing(); len(g) > 0 {
				d.log.Error("graceful shutdown waits: groups not stopped yet are still held; not exiting", "groups", g)
				giveUp = time.After(2 * time.Minute)
				break
			}
			return errors.New("graceful shutdown did not complete in 2 minutes")
		}
		d.mu.Lock()
		exited := d.exited
		d.mu.Unlock()
		if exited {
			return nil
		}
	}
}

// fromWire maps a heartbeat message to the machine's view; messages
// without t, src or a non-zero ts are dropped, as heartbeat drops them.
func fromWire(w *wire.Message) (cluster.Msg, bool) {
	m := cluster.Msg{Type: w.T(), Src: w.Src(), Dest: w.Dest(), Fields: map[string]string{}}
	if ts, err := w.TS(); m.Type == "" || m.Src == "" || err != nil || ts == 0 {
		return m, false
	}
	if seq, err := w.Seq(); err == nil {
		m.Seq = seq
	} else if !strings.HasPrefix(m.Type, "NS_") {
		return m, false
	}
	if g, err := w.Gen(); err == nil {
		m.Gen = g
	}
	for _, f := range w.Fields {
		switch f.Name {
		case wire.FType, wire.FSrc, wire.FDest, wire.FSeq, wire.FGen, wire.FTS, wire.FLoad, wire.FTTL,
			wire.FAuth, wire.FSrcUUID, wire.FDestUUID:
			continue
		}
		if f.Type == wire.String {
			m.Fields[f.Name] = f.Value
		}
	}
	return m, true
}

func (d *daemon) toWire(m cluster.Msg) *wire.Message {
	w := wire.New(m.Type)
	if m.Dest != "" {
		w.Add(wire.FDest, m.Dest)
	}
	for _, k := range slices.Sorted(maps.Keys(m.Fields)) {
		w.Add(k, m.Fields[k])
	}
	load, _ := os.ReadFile("/proc/loadavg")
	w.AddControl(wire.Control{Src: d.node, Seq: m.Seq, Gen: m.Gen, TS: uint64(time.Now().Unix()),
		Load: strings.TrimSpace(string(load)), TTL: d.ttl})
	return w
}

// do carries out the machine's actions in order.
func (d *daemon) do(actions []cluster.Action) {
	for _, a := range actions {
		switch a := a.(type) {
		case cluster.Send:
			b, err := wire.Encode(d.toWire(a.Msg), wire.Netstring, d.keys)
			if err != nil {
				d.log.Error("encode", "msg", a.Msg.String(), "err", err)
				continue
			}
			d.out.put(b)
		case cluster.Acquire:
			d.queue = append(d.queue, job{op: a.Op, acquire: true, groups: a.Groups})
		case cluster.Release:
			d.queue = append(d.queue, job{op: a.Op, groups: a.Groups})
		case cluster.Announce:
			// netlink and gratuitous ARP: on the worker, in order with
			// acquire and release, not on the heartbeat loop.
			d.queue = append(d.queue, job{announce: true, groups: a.Groups})
		case cluster.NodeState:
			d.log.Info("node status", "node", a.Node, "status", a.State)
			d.mu.Lock()
			d.nodes[a.Node] = a.State
			d.mu.Unlock()
		case cluster.LinkState:
			state := "dead"
			if a.Up {
				state = "up"
			}
			d.log.Info("link status", "node", a.Node, "link", a.Link, "status", state)
			d.mu.Lock()
			if d.links[a.Node] == nil {
				d.links[a.Node] = map[string]bool{}
			}
			d.links[a.Node][a.Link] = a.Up
			d.mu.Unlock()
		case cluster.Log:
			level := slog.LevelInfo
			switch a.Level {
			case cluster.Debug:
				level = slog.LevelDebug
			case cluster.Warn:
				level = slog.LevelWarn
			case cluster.Error, cluster.Crit:
				level = slog.LevelError
			}
			d.log.Log(context.Background(), level, a.Text)
		case cluster.Exit:
			d.mu.Lock()
			d.exited = true
			d.mu.Unlock()
		}
	}
}

// worker runs resource jobs one at a time (the machine keeps at most one
// outstanding) and reports each back.
func (d *daemon) worker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-d.jobs:
			if j.announce {
				for _, k := range j.groups {
					d.announce(ctx, k)
				}
				continue
			}
			var failed []string
			for _, k := range j.groups {
				g := d.groups[k]
				if g == nil {
					continue
				}
				var err error
				if j.acquire {
					err = g.Acquire(ctx)
				} else {
					err = g.Release(ctx)
				}
				if err != nil {
					failed = append(failed, k)
					d.log.Error("resource group failed", "group", k, "acquire", j.acquire, "err", err)
					if !j.acquire {
						d.stopFailed(k, err)
					}
					continue
				}
				d.mu.Lock()
				d.held[k] = j.acquire
				delete(d.stuck, k)
				d.mu.Unlock()
			}
			select {
			case d.done <- jobResult{op: j.op, failed: failed}:
			case <-ctx.Done():
				return
			}
		}
	}
}

// stopFailed records a failed stop: the group stays held (the machine
// retries it) and status says so until a stop or start succeeds.
func (d *daemon) stopFailed(k string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stuck == nil {
		d.stuck = map[string]stopFailure{}
	}
	f := d.stuck[k]
	if f.n == 0 {
		f.since = time.Now()
	}
	f.n++
	f.err = err.Error()
	d.stuck[k] = f
}

// announce re-sends gratuitous ARP for a held group's addresses.
func (d *daemon) announce(ctx context.Context, key string) {
	d.mu.Lock()
	held := d.held[key]
	d.mu.Unlock()
	g := d.groups[key]
	if g == nil || !held {
		return
	}
	for _, a := range g.Agents {
		if ip, ok := a.(*resource.IP); ok {
			if err := ip.M.Add(ctx, ip.Addr); err != nil {
				d.log.Warn("announce", "addr", ip.Addr.String(), "err", err)
			}
		}
	}
}

// handle answers a directorctl request.
func (d *daemon) handle(req control.Request) {
	now := time.Now()
	switch req.Cmd {
	case "standby":
		d.do(d.m.Standby(req.Arg, now))
		req.Reply <- control.Response{OK: true, Text: "standby " + orAll(req.Arg) + " requested"}
	case "takeover":
		d.do(d.m.Takeover(req.Arg, now))
		req.Reply <- control.Response{OK: true, Text: "takeover " + orAll(req.Arg) + " requested"}
	case "status":
		req.Reply <- control.Response{OK: true, Status: d.status()}
	case "stats":
		// Kernel reads wait behind table writes: never on the loop.
		go d.answerStats(req)
	case "drain", "undrain":
		go d.answerDrain(req, req.Cmd == "drain")
	default:
		req.Reply <- control.Response{Text: "unknown command " + req.Cmd}
	}
}

func orAll(s string) string {
	if s == "" {
		return "all"
	}
	return s
}

func (d *daemon) status() *control.Status {
	st := &control.Status{Node: d.node, Resources: d.m.Resources(), CommUp: d.m.CommUp()}
	if d.sync != nil {
		st.Sync = d.sync.status() // a copy: no kernel call on the loop
	}
	d.mu.Lock()
	for _, n := range slices.Sorted(maps.Keys(d.nodes)) {
		ns := control.Node{Name: n, State: d.nodes[n], Links: map[string]string{}, LastHeard: d.m.LastHeard(n)}
		for l, up := range d.links[n] {
			ns.Links[l] = map[bool]string{true: "up", false: "dead"}[up]
		}
		st.Nodes = append(st.Nodes, ns)
	}
	for _, k := range d.order {
		gs := control.Group{Key: k, Held: d.held[k]}
		if f := d.stuck[k]; f.n > 0 {
			gs.StopFailures, gs.StopError, gs.StopSince = f.n, f.err, f.since
		}
		for _, a := range d.groups[k].Agents {
			gs.Resources = append(gs.Resources, a.String())
		}
		st.Groups = append(st.Groups, gs)
	}
	st.HB = d.hbView()
	d.mu.Unlock()
	for _, k := range d.order {
		for _, a := range d.groups[k].Agents {
			if r, ok := a.(*resource.Director); ok {
				if snap := r.Snapshot(); snap != nil {
					st.Virtuals = append(st.Virtuals, snap...)
				}
			}
		}
	}
	return st
}
