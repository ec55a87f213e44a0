package resource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"

	"github.com/lvsdirector/director/ipvs"
)

// SyncDaemons drives the kernel's connection sync daemons for directord.
// The backup runs from start to stop on both directors (StartBackup,
// StopAll), so the node that does not hold the group always has the
// holder's connections; the master runs while at least one group holding a
// SyncRole is held (a takeover then needs no restart of the backup). Linux
// runs both at once since 2.4.29, which is why heartbeat's old
// LVSSyncDaemonSwap script is no longer needed to swap them.
type SyncDaemons struct {
	Sync ipvs.Sync
	// Daemon is the template of both daemons: interface, sync id,
	// multicast group, port, TTL, message size (its State is ignored).
	Daemon ipvs.SyncDaemon
	// KeepBackup leaves the backup running when directord stops, so a
	// directord restarted on the node keeps receiving the peer's table.
	KeepBackup bool
	Log        *slog.Logger

	mu      sync.Mutex
	holders map[string]bool // groups whose SyncRole asks for the master
}

func (s *SyncDaemons) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

func (s *SyncDaemons) want(state ipvs.SyncState) ipvs.SyncDaemon {
	d := s.Daemon
	d.State = state
	return d
}

// matches tells whether a running daemon has the parameters we would give
// it: the ones we leave to the kernel (zero) are not compared.
func matches(run, want ipvs.SyncDaemon) bool {
	return run.State == want.State && run.Interface == want.Interface && run.SyncID == want.SyncID &&
		(want.MaxLen == 0 || run.MaxLen == want.MaxLen) &&
		(!want.Group.IsValid() || run.Group == want.Group) &&
		(want.Port == 0 || run.Port == want.Port) &&
		(want.TTL == 0 || run.TTL == want.TTL)
}

// ensure runs the daemon of role state with our parameters. One left
// running (by a previous run that crashed, or by hand) is adopted when its
// parameters are ours, restarted when they are not: neither is an error.
func (s *SyncDaemons) ensure(ctx context.Context, state ipvs.SyncState) error {
	want := s.want(state)
	err := s.Sync.StartDaemon(ctx, want)
	if !errors.Is(err, ipvs.ErrDaemonRunning) {
		if err == nil {
			s.log().Info("ipvs sync daemon started", "state", state.String(), "interface", want.Interface, "syncid", want.SyncID)
		}
		return err
	}
	ds, err := s.Sync.Daemons(ctx)
	if err != nil {
		return err
	}
	for _, d := range ds {
		if d.State != state {
			continue
		}
		if matches(d, want) {
			s.log().Info("ipvs sync daemon already running: adopted", "state", state.String(), "interface", d.Interface, "syncid", d.SyncID)
			return nil
		}
		s.log().Warn("ipvs sync daemon running with other parameters: restarting it", "state", state.String(),
			"interface", d.Interface, "syncid", d.SyncID, "want_interface", want.Interface, "want_syncid", want.SyncID)
	}
	if err := s.stop(ctx, state); err != nil {
		return err
	}
	return s.Sync.StartDaemon(ctx, want)
}

// stop stops the daemon of role state; one not running (ESRCH) is stopped.
func (s *SyncDaemons) stop(ctx context.Context, state ipvs.SyncState) error {
	err := s.Sync.StopDaemon(ctx, state)
	if errors.Is(err, ipvs.ErrDaemonNotRunning) {
		return nil
	}
	if err == nil {
		s.log().Info("ipvs sync daemon stopped", "state", state.String())
	}
	return err
}

// StartBackup starts (or adopts) the backup daemon: at directord start,
// before any group is taken.
func (s *SyncDaemons) StartBackup(ctx context.Context) error {
	return s.ensure(ctx, ipvs.SyncBackup)
}

// StopStaleMaster stops a master found running at start, before any
// group is held: a previous run that crashed left it (the kernel keeps the
// daemons when their owner dies). It starts again with a group.
func (s *SyncDaemons) StopStaleMaster(ctx context.Context) error {
	ds, err := s.Sync.Daemons(ctx)
	if err != nil {
		return err
	}
	for _, d := range ds {
		if d.State == ipvs.SyncMaster {
			s.log().Warn("ipvs sync master running before any group is held (left by a previous run): stopping it",
				"interface", d.Interface, "syncid", d.SyncID)
			return s.stop(ctx, ipvs.SyncMaster)
		}
	}
	return nil
}

// StopAll stops the master and, unless KeepBackup, the backup: at the end
// of directord, once every group is released.
func (s *SyncDaemons) StopAll(ctx context.Context) error {
	err := s.stop(ctx, ipvs.SyncMaster)
	if !s.KeepBackup {
		err = errors.Join(err, s.stop(ctx, ipvs.SyncBackup))
	}
	return err
}

// Daemons lists the running daemons and the size of the connection table.
func (s *SyncDaemons) Status(ctx context.Context) ([]ipvs.SyncDaemon, int, error) {
	ds, err := s.Sync.Daemons(ctx)
	if err != nil {
		return nil, 0, err
	}
	n, err := s.Sync.Connections(ctx)
	return ds, n, err
}

// hold records that group key wants (on) or no longer wants the master and
// reports whether any group still does.
func (s *SyncDaemons) hold(key string, on bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holders == nil {
		s.holders = map[string]bool{}
	}
	if on {
		s.holders[key] = true
	} else {
		delete(s.holders, key)
	}
	return len(s.holders) > 0
}

// SyncRole is the sync resource of a group: LVSSyncDaemonSwap::master (or
// ::backup) in haresources, or the group named by [sync] in the settings.
// As heartbeat's script: starting role R runs R's daemon and stops the
// other one; stopping R runs the other one. With the backup always on, a
// master role means "the master runs while the group is held", and
// stopping it leaves the backup running; a backup role (the group marks
// the standby side) stops the master while held and runs it on release.
type SyncRole struct {
	D     *SyncDaemons
	Role  ipvs.SyncState
	Group string // key of the group this resource is in
}

// Start and Stop never fail: a sync daemon that will not start or stop
// must not keep the group's addresses from moving (a failed stop would
// even make the peer wait for a release that never comes); the failure is
// logged and the group runs without the connection sync.
func (r *SyncRole) Start(ctx context.Context) error {
	var err error
	if r.Role == ipvs.SyncMaster {
		r.D.hold(r.Group, true)
		err = r.D.ensure(ctx, ipvs.SyncMaster)
	} else if err = r.D.ensure(ctx, ipvs.SyncBackup); err == nil {
		err = r.D.stop(ctx, ipvs.SyncMaster)
	}
	r.failed("start", err)
	return nil
}

func (r *SyncRole) Stop(ctx context.Context) error {
	var err error
	if r.Role == ipvs.SyncMaster {
		if r.D.hold(r.Group, false) {
			return nil // another held group still wants the master
		}
		err = errors.Join(r.D.stop(ctx, ipvs.SyncMaster), r.D.ensure(ctx, ipvs.SyncBackup))
	} else {
		err = r.D.ensure(ctx, ipvs.SyncMaster)
	}
	r.failed("stop", err)
	return nil
}

func (r *SyncRole) failed(op string, err error) {
	if err != nil {
		r.D.log().Error("connection sync: "+r.String()+" "+op+" failed; the group goes on without it",
			"group", r.Group, "err", err)
	}
}

// Running reports whether the daemon of the role runs (the script's status).
func (r *SyncRole) Running(ctx context.Context) (bool, error) {
	ds, err := r.D.Sync.Daemons(ctx)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(ds, func(d ipvs.SyncDaemon) bool { return d.State == r.Role }), nil
}

func (r *SyncRole) String() string { return "LVSSyncDaemonSwap::" + r.Role.String() }

// SyncDaemonString is one daemon as directorctl shows it:
// "master eth1 syncid 7 group 224.0.0.81:8848".
func SyncDaemonString(d ipvs.SyncDaemon) string {
	s := fmt.Sprintf("%s %s syncid %d", d.State, d.Interface, d.SyncID)
	if d.Group.IsValid() || d.Port != 0 {
		g := d.Group
		if !g.IsValid() {
			g = netip.MustParseAddr("224.0.0.81")
		}
		port := d.Port
		if port == 0 {
			port = 8848
		}
		s += " group " + netip.AddrPortFrom(g, port).String()
	}
	return s
}
