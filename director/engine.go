package director

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lvsdirector/director/healthcheck"
	"github.com/lvsdirector/director/internal/subproc"
	"github.com/lvsdirector/director/ipvs"
)

// Options tune a Director; zero values are sensible.
type Options struct {
	Log *slog.Logger
	// Resync is how often the kernel table is re-read to repair drift
	// (someone ran ipvsadm, a failed op). Default 30 s.
	Resync time.Duration
	// Concurrency bounds checks in flight. Default 256.
	Concurrency int
	// RunCommand runs a fallbackcommand line through the shell; nil uses
	// sh -c with a 30 s limit. Tests replace it.
	RunCommand func(ctx context.Context, line string) error
	// Ready is called once the table has first been programmed.
	Ready func()
	// SendMail delivers email alerts; nil uses SMTP / sendmail.
	SendMail func(context.Context, Alert) error
	// TableTimeout bounds each pass over the kernel table (a read, a
	// batch of changes, the cleanstop at exit). Default 30 s.
	TableTimeout time.Duration
}

// Director keeps the kernel's IPVS table equal to what the configuration
// and the health of the real servers call for. Run owns the table: it is
// the only writer.
type Director struct {
	opts  Options
	log   *slog.Logger
	table ipvs.Table
	sched *healthcheck.Scheduler

	reloads chan reloadReq
	drains  chan drainReq
	alive   atomic.Int64 // unix ns of Run's loop's last turn (Alive)
	// published is what Snapshot reports, stored under mu after every
	// table change: Snapshot never waits on mu, which reconcile holds
	// across table writes and fallbackcommands.
	published atomic.Pointer[snapshot]

	mu      sync.Mutex // guards the fields below
	cfg     *Config
	checkOf map[*Real]string // real → check id
	health  map[string]bool  // check id → up
	have    map[ipvs.ServiceKey]ipvs.State
	fbOn    map[string]bool       // virtual id → fallbackcommand state (true = started)
	remove  []ipvs.ServiceKey     // virtuals dropped by a reload, until the kernel has deleted them
	drained map[ipvs.DestKey]bool // reals an operator drains (weight 0), kept across reloads

	alerts    *alerter
	state     string               // starting, running, reloading, stopping (for emailalertstatus)
	downSince map[string]time.Time // last "Inaccessible" alert per virtual|real
}

type drainReq struct {
	real ipvs.DestKey
	on   bool
	done chan error
}

type reloadReq struct {
	cfg  *Config
	done chan error
}

// New returns a director for cfg on table. Nothing happens until Run.
func New(cfg *Config, table ipvs.Table, opts Options) *Director {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Resync <= 0 {
		opts.Resync = 30 * time.Second
	}
	if opts.TableTimeout <= 0 {
		opts.TableTimeout = 30 * time.Second
	}
	if opts.RunCommand == nil {
		opts.RunCommand = shell
	}
	d := &Director{
		opts:    opts,
		log:     opts.Log,
		table:   table,
		sched:   healthcheck.NewScheduler(opts.Concurrency, opts.Log),
		reloads: make(chan reloadReq),
		drains:  make(chan drainReq),
		cfg:     cfg,
		fbOn:    map[string]bool{},
		health:  map[string]bool{},
		state:   "starting",

		downSince: map[string]time.Time{},
	}
	d.publish()
	return d
}

// shell runs a fallbackcommand line as ldirectord's system() does: done
// when the shell exits, whatever it left running in the background (a
// sorry server). One that hangs is stopped, with its whole process group,
// after 30 s; the grace lets a "start" that was cut short clean up.
func shell(ctx context.Context, line string) error {
	res, err := subproc.Run(ctx, subproc.Cmd{Path: "/bin/sh", Args: []string{"-c", line},
		Timeout: 30 * time.Second, Grace: 2 * time.Second, Limit: 4 << 10})
	if err != nil {
		return fmt.Errorf("%w: %s", err, bytes.TrimSpace(res.Output))
	}
	return nil
}

// Run programs the table, checks the reals and keeps the table right until
// ctx is cancelled; then it stops the checks and, for virtuals with
// cleanstop, removes them from the table. An error before the first
// programming (no IPVS, unreadable table) is returned at once.
func (d *Director) Run(ctx context.Context) error {
	d.alerts = newAlerter(d.opts.SendMail, d.log)
	alertCtx, stopAlerts := context.WithCancel(context.WithoutCancel(ctx))
	d.alerts.start(alertCtx)
	defer d.alerts.drain(stopAlerts, 10*time.Second)

	applyErr, err := d.start(ctx)
	if err != nil {
		return err
	}
	if d.opts.Ready != nil {
		d.opts.Ready()
	}
	schedCtx, stopChecks := context.WithCancel(context.WithoutCancel(ctx))
	schedDone := make(chan struct{})
	go func() { d.sched.Run(schedCtx); close(schedDone) }()
	defer func() { stopChecks(); <-schedDone }()
	d.sched.Set(ctx, d.specs())

	resync := time.NewTicker(d.opts.Resync)
	defer resync.Stop()
	remind := time.NewTicker(time.Second)
	defer remind.Stop()
	retry := time.NewTimer(time.Second)
	if applyErr == nil {
		retry.Stop()
	}
	for {
		d.alive.Store(time.Now().UnixNano())
		select {
		case <-ctx.Done():
			stopChecks()
			<-schedDone
			d.setState("stopping")
			d.cleanStop(context.WithoutCancel(ctx))
			return nil
		case now := <-remind.C:
			d.startedYet()
			d.remindInaccessible(now)
		case ev := <-d.sched.Events():
			changed := d.event(ev)
			// Drain what else is ready so that a burst (all reals coming
			// up at start) is one batch for the kernel.
			for drained := 0; drained < 100000; drained++ {
				select {
				case ev := <-d.sched.Events():
					changed = d.event(ev) || changed
					continue
				default:
				}
				break
			}
			if changed && d.reconcile(ctx, false) != nil {
				retry.Reset(time.Second)
			}
			d.startedYet()
		case req := <-d.drains:
			req.done <- d.setDrained(ctx, req.real, req.on)
		case req := <-d.reloads:
			d.setState("reloading")
			req.done <- d.reload(ctx, req.cfg)
			d.setState("running")
		case <-resync.C:
			if d.resync(ctx) != nil {
				retry.Reset(time.Second)
			}
		case <-retry.C:
			if d.resync(ctx) != nil {
				retry.Reset(5 * time.Second)
			}
		}
	}
}

// Alive is the older of the last turns of Run's loop and of the check
// scheduler's (each goes round at least every second while not stuck);
// zero before Run has programmed the table. A systemd watchdog pings only
// while it is recent.
func (d *Director) Alive() time.Time {
	n := d.alive.Load()
	if n == 0 {
		return time.Time{}
	}
	t := time.Unix(0, n)
	if s := d.sched.Alive(); !s.IsZero() && s.Before(t) {
		t = s
	}
	return t
}

// Reload switches to cfg: added virtuals appear, removed ones go, kept
// reals keep their health. It returns once the table is programmed.
func (d *Director) Reload(ctx context.Context, cfg *Config) error {
	req := reloadReq{cfg: cfg, done: make(chan error, 1)}
	select {
	case d.reloads <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startedYet ends the "starting" state (as ldirectord's initial check
// pass does) once every check has reported at least once.
func (d *Director) startedYet() {
	d.mu.Lock()
	starting := d.state == "starting"
	d.mu.Unlock()
	if !starting {
		return
	}
	for _, st := range d.sched.States() {
		if st.LastCheck.IsZero() {
			return
		}
	}
	d.setState("running")
}

func (d *Director) setState(s string) {
	d.mu.Lock()
	d.state = s
	d.mu.Unlock()
}

// read reads our virtuals (keep) from the table within TableTimeout.
func (d *Director) read(ctx context.Context, keep func(ipvs.ServiceKey) bool) (map[ipvs.ServiceKey]ipvs.State, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opts.TableTimeout)
	defer cancel()
	return ipvs.Read(ctx, d.table, keep)
}

// apply applies ops within TableTimeout. The Kernel bounds each of its
// calls, but a table that never answers must not hold Run (and d.mu)
// until stop, nor hold up the stop forever.
func (d *Director) apply(ctx context.Context, ops []ipvs.Op) error {
	ctx, cancel := context.WithTimeout(ctx, d.opts.TableTimeout)
	defer cancel()
	return d.table.Apply(ctx, ops)
}

// Config returns the configuration in force.
func (d *Director) Config() *Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

func (d *Director) managed(cfg *Config) map[ipvs.ServiceKey]bool {
	m := make(map[ipvs.ServiceKey]bool, len(cfg.Virtuals))
	for _, v := range cfg.Virtuals {
		m[v.Service.ServiceKey] = true
	}
	return m
}

// start reads what the kernel holds for our virtuals, takes reals that are
// in with weight > 0 as up (so a restart does not disturb a serving farm),
// and programs the table. Only a table it cannot read is fatal; ops the
// kernel refused are retried.
func (d *Director) start(ctx context.Context) (applyErr, err error) {
	m := d.managed(d.cfg)
	have, err := d.read(ctx, func(k ipvs.ServiceKey) bool { return m[k] })
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.have = have
	d.checkOf = checkIDs(d.cfg)
	d.seedHealth(d.cfg)
	d.mu.Unlock()
	return d.reconcile(ctx, true), nil
}

// seedHealth gives every check id not yet known its initial state.
func (d *Director) seedHealth(cfg *Config) {
	for _, v := range cfg.Virtuals {
		inKernel := map[ipvs.DestKey]int32{}
		for _, dst := range d.have[v.Service.ServiceKey].Dests {
			inKernel[dst.DestKey] = dst.Weight
		}
		for _, r := range v.Reals {
			id := d.checkOf[r]
			if _, known := d.health[id]; known {
				continue
			}
			switch {
			case v.Check.Type == "on", v.Check.Type == "negotiate" && v.Check.Service == "none":
				// Up without any check: no fallback flash at start.
				d.health[id] = true
			case v.Check.Type == "off":
				d.health[id] = false
			default:
				w, ok := inKernel[r.Dest.DestKey]
				d.health[id] = ok && w > 0
			}
		}
	}
}

func (d *Director) up(_ *Virtual, r *Real) bool { return d.health[d.checkOf[r]] }

// event records a check result; it reports whether health changed.
func (d *Director) event(ev healthcheck.Event) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ev.Soft {
		d.log.Info(fmt.Sprintf("Soft failure of real server %s: failure %d: %v", d.realsOf(ev.ID), ev.Fails, ev.Err))
		return false
	}
	if was, ok := d.health[ev.ID]; ok && was == ev.Up {
		return false
	}
	d.health[ev.ID] = ev.Up
	if !ev.Up {
		d.log.Info(fmt.Sprintf("Real server %s is down: %v", d.realsOf(ev.ID), ev.Err))
	}
	return true
}

func (d *Director) realsOf(id string) string {
	for _, v := range d.cfg.Virtuals {
		for _, r := range v.Reals {
			if d.checkOf[r] == id {
				return fmt.Sprintf("%s (%s)", r.Dest.DestKey, vipString(v))
			}
		}
	}
	return id
}

func vipString(v *Virtual) string {
	k := v.Service.ServiceKey
	if k.FWMark != 0 {
		return strconv.FormatUint(uint64(k.FWMark), 10)
	}
	return fmt.Sprintf("%s:%d", k.Addr, k.Port)
}

// reconcile brings the kernel to the desired table using the cached view,
// then runs fallbackcommand for virtuals whose "any real up" changed.
func (d *Director) reconcile(ctx context.Context, initial bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	want := DesiredDrained(d.cfg, d.up, initial || d.cfg.Global.ReaddQuiescent, d.drained)
	ops := ipvs.Diff(want, d.have, d.remove)
	var err error
	if len(ops) > 0 {
		t0 := time.Now()
		err = d.apply(ctx, ops)
		ipvs.Commit(d.have, ops, err)
		d.logOps(ops, err)
		d.log.Debug("ipvs apply", "ops", len(ops), "took", time.Since(t0))
	}
	// A dropped virtual stays due for deletion until its delete succeeded
	// (resync reads it back while it is pending).
	pending := d.remove[:0]
	for _, k := range d.remove {
		if _, still := d.have[k]; still {
			pending = append(pending, k)
		}
	}
	d.remove = pending
	d.publish()
	d.fallbackCommands(ctx)
	if err != nil {
		d.log.Error("ipvs: some changes failed; will re-read the table", "err", err)
	}
	return err
}

// resync re-reads our virtuals from the kernel and repairs drift. A dump
// much smaller than the cache is read again before it is believed: kernel
// dumps are not atomic.
func (d *Director) resync(ctx context.Context) error {
	d.mu.Lock()
	m := d.managed(d.cfg)
	for _, k := range d.remove {
		m[k] = true
	}
	d.mu.Unlock()
	keep := func(k ipvs.ServiceKey) bool { return m[k] }
	have, err := d.read(ctx, keep)
	if err == nil && dests(have) < dests(d.snapshotHave())/2 {
		have, err = d.read(ctx, keep)
	}
	if err != nil {
		d.log.Error("ipvs: cannot read the table", "err", err)
		return err
	}
	d.mu.Lock()
	d.have = have
	d.mu.Unlock()
	return d.reconcile(ctx, false)
}

func (d *Director) snapshotHave() map[ipvs.ServiceKey]ipvs.State {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.have
}

func dests(m map[ipvs.ServiceKey]ipvs.State) int {
	n := 0
	for _, s := range m {
		n += len(s.Dests)
	}
	return n
}

// reload switches to cfg whole, or not at all: nothing (removals, the
// fallbackcommand state, health) changes until the kernel has been read
// for the virtuals new to us, so a failed read leaves the old
// configuration in force, untouched.
func (d *Director) reload(ctx context.Context, cfg *Config) error {
	old := d.Config()
	nm, om := d.managed(cfg), d.managed(old)
	// Virtuals new to us may already be in the kernel (we never delete
	// what we do not manage, but we adopt what we are told to manage).
	fresh := map[ipvs.ServiceKey]bool{}
	for k := range nm {
		if !om[k] {
			fresh[k] = true
		}
	}
	add, err := d.read(ctx, func(k ipvs.ServiceKey) bool { return fresh[k] })
	if err != nil {
		return fmt.Errorf("reload not applied, the previous configuration stays in force: %w", err)
	}
	d.mu.Lock()
	pending := d.remove[:0]
	for _, k := range d.remove {
		if !nm[k] { // managed again: no longer due for deletion
			pending = append(pending, k)
		}
	}
	d.remove = pending
	for _, v := range old.Virtuals {
		if !nm[v.Service.ServiceKey] {
			d.remove = append(d.remove, v.Service.ServiceKey)
			delete(d.fbOn, v.ID())
		}
	}
	for k := range fresh {
		if s, ok := add[k]; ok {
			d.have[k] = s
		} else {
			delete(d.have, k)
		}
	}
	d.cfg = cfg
	d.checkOf = checkIDs(cfg)
	live := map[string]bool{}
	for _, id := range d.checkOf {
		live[id] = true
	}
	for id := range d.health {
		if !live[id] {
			delete(d.health, id)
		}
	}
	d.seedHealth(cfg)
	d.mu.Unlock()
	d.sched.Set(ctx, d.specs())
	return d.reconcile(ctx, true)
}

// cleanStop removes the virtuals whose cleanstop is yes.
func (d *Director) cleanStop(ctx context.Context) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ops []ipvs.Op
	for _, v := range d.cfg.Virtuals {
		if _, ok := d.have[v.Service.ServiceKey]; ok && v.CleanStop {
			ops = append(ops, ipvs.Op{Kind: ipvs.DeleteService, Service: v.Service})
		}
	}
	if len(ops) == 0 {
		return
	}
	purged := map[ipvs.ServiceKey][]ipvs.Destination{}
	for _, op := range ops {
		purged[op.Service.ServiceKey] = d.have[op.Service.ServiceKey].Dests
	}
	err := d.apply(ctx, ops)
	ipvs.Commit(d.have, ops, err)
	d.publish()
	for _, op := range ops {
		if _, still := d.have[op.Service.ServiceKey]; still {
			continue
		}
		v := d.virtualOf(op.Service.ServiceKey)
		for _, dst := range purged[op.Service.ServiceKey] {
			d.tell(v, fmt.Sprintf("Purged real server (stop): %s (%s)", dst.DestKey, vipString(v)))
		}
	}
	d.logOps(ops, err)
	if err != nil {
		d.log.Error("cleanstop: some virtuals could not be removed", "err", err)
	}
}

func (d *Director) fallbackCommands(ctx context.Context) {
	for _, v := range d.cfg.Virtuals {
		if v.FallbackCommand == "" {
			continue
		}
		on := !AnyUp(v, d.available)
		if was, known := d.fbOn[v.ID()]; known && was == on {
			continue
		}
		d.fbOn[v.ID()] = on
		verb := "stop"
		if on {
			verb = "start"
		}
		proto := v.Service.Protocol.String()
		line := fmt.Sprintf("%s %s %s:%d %s", v.FallbackCommand, verb, vipAddr(v), v.Service.Port, proto)
		if err := d.opts.RunCommand(ctx, line); err != nil {
			d.log.Error("fallbackcommand failed", "command", line, "err", err)
		} else {
			d.log.Info("Ran fallbackcommand: " + line)
		}
	}
}

func vipAddr(v *Virtual) string {
	if v.Service.FWMark != 0 {
		return strconv.FormatUint(uint64(v.Service.FWMark), 10)
	}
	return v.Service.Addr.String()
}

// logOps logs applied changes in ldirectord's words.
func (d *Director) logOps(ops []ipvs.Op, err error) {
	failed := map[string]bool{}
	var ae *ipvs.ApplyError
	if errors.As(err, &ae) {
		for _, f := range ae.Failed {
			failed[f.Op.String()] = true
			d.log.Error("ipvs op failed", "op", f.Op.String(), "err", f.Err)
		}
	}
	for _, op := range ops {
		if failed[op.String()] {
			continue
		}
		v := d.virtualOf(op.Service.ServiceKey)
		vs := op.Service.ServiceKey.String()
		if v != nil {
			vs = vipString(v)
		}
		kind := "real"
		if v != nil && v.Fallback != nil && v.Fallback.DestKey == op.Dest.DestKey {
			kind = "fallback"
		}
		switch op.Kind {
		case ipvs.AddService:
			d.log.Info("Added virtual server: " + op.Service.ServiceKey.String())
		case ipvs.UpdateService:
			d.log.Info("Updated virtual server: " + op.Service.ServiceKey.String())
		case ipvs.DeleteService:
			d.log.Info("Removed virtual server: " + op.Service.ServiceKey.String())
		case ipvs.AddDest:
			d.tell(v, fmt.Sprintf("Added %s server: %s (%s) (Weight set to %d)", kind, op.Dest.DestKey, vs, op.Dest.Weight))
		case ipvs.UpdateDest:
			if op.Dest.Weight == 0 {
				d.tell(v, fmt.Sprintf("Quiescent %s server: %s (%s) (Weight set to 0)", kind, op.Dest.DestKey, vs))
			} else {
				d.tell(v, fmt.Sprintf("Restored %s server: %s (%s) (Weight set to %d)", kind, op.Dest.DestKey, vs, op.Dest.Weight))
			}
		case ipvs.DeleteDest:
			d.tell(v, fmt.Sprintf("Deleted %s server: %s (%s)", kind, op.Dest.DestKey, vs))
		}
	}
}

// tell logs a change to a real and mails it to the virtual's emailalert.
func (d *Director) tell(v *Virtual, msg string) {
	d.log.Info(msg)
	d.alert(v, msg)
}

func (d *Director) virtualOf(k ipvs.ServiceKey) *Virtual {
	for _, v := range d.cfg.Virtuals {
		if v.Service.ServiceKey == k {
			return v
		}
	}
	return nil
}

// CheckStats reports the check scheduler's totals and recent lateness.
func (d *Director) CheckStats() healthcheck.Stats { return d.sched.Stats() }

// CheckStates reports every check's state.
func (d *Director) CheckStates() map[string]healthcheck.State { return d.sched.States() }

// RealStatus is one real as the director sees it.
type RealStatus struct {
	Addr     string `json:"addr"`
	Weight   int32  `json:"weight"`            // in the kernel; -1 when absent
	Up       bool   `json:"up"`                // health
	Fallback bool   `json:"fallback"`          // the fallback server
	Drained  bool   `json:"drained,omitempty"` // weight 0 by the operator (directorctl drain)
	LastErr  string `json:"last_error,omitempty"`
	// LastCheck is when its check last finished (zero: not yet).
	LastCheck time.Time `json:"last_check,omitzero"`
}

// VirtualStatus is one virtual service with its reals.
type VirtualStatus struct {
	ID        string       `json:"id"`
	Scheduler string       `json:"scheduler"`
	Reals     []RealStatus `json:"reals"`
}

// snapshot is the table and health as last published: the virtuals,
// and for each real the id of its check (for its last error).
type snapshot struct {
	virtuals []VirtualStatus
	checks   [][]string
	keys     []ipvs.ServiceKey // the virtuals' kernel services, for Counters
}

// publish stores the current table and health for Snapshot; d.mu is held
// (or d not yet shared).
func (d *Director) publish() {
	s := &snapshot{virtuals: make([]VirtualStatus, 0, len(d.cfg.Virtuals))}
	for _, v := range d.cfg.Virtuals {
		kernel := map[ipvs.DestKey]int32{}
		for _, dst := range d.have[v.Service.ServiceKey].Dests {
			kernel[dst.DestKey] = dst.Weight
		}
		weight := func(k ipvs.DestKey) int32 {
			if w, ok := kernel[k]; ok {
				return w
			}
			return -1
		}
		vs := VirtualStatus{ID: v.ID(), Scheduler: v.Service.Scheduler}
		var ids []string
		for _, r := range v.Reals {
			vs.Reals = append(vs.Reals, RealStatus{Addr: r.Dest.DestKey.String(), Weight: weight(r.Dest.DestKey), Up: d.up(v, r),
				Drained: d.drained[r.Dest.DestKey]})
			ids = append(ids, d.checkOf[r])
		}
		if fb := v.Fallback; fb != nil {
			if w := weight(fb.DestKey); w >= 0 {
				vs.Reals = append(vs.Reals, RealStatus{Addr: fb.DestKey.String(), Weight: w, Up: true, Fallback: true})
			}
		}
		s.virtuals = append(s.virtuals, vs)
		s.checks = append(s.checks, ids)
		s.keys = append(s.keys, v.Service.ServiceKey)
	}
	d.published.Store(s)
}

// Snapshot reports every virtual with each real's health and kernel
// weight, as last published, and each check's last error. It takes no
// lock held across I/O, so it answers while the table is being written.
func (d *Director) Snapshot() []VirtualStatus {
	states := d.sched.States()
	s := d.published.Load()
	out := make([]VirtualStatus, len(s.virtuals))
	for i, v := range s.virtuals {
		v.Reals = append([]RealStatus(nil), v.Reals...)
		for j, id := range s.checks[i] {
			if st, ok := states[id]; ok {
				v.Reals[j].LastCheck = st.LastCheck
				if st.LastErr != nil {
					v.Reals[j].LastErr = st.LastErr.Error()
				}
			}
		}
		out[i] = v
	}
	return out
}
