package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/lvsdirector/director/failover/cluster"
	"github.com/lvsdirector/director/failover/control"
	"github.com/lvsdirector/director/failover/haconf"
	"github.com/lvsdirector/director/failover/resource"
	"github.com/lvsdirector/director/internal/settings"
	"github.com/lvsdirector/director/ipvs"
)

// connSync is directord's side of the IPVS connection sync, on when the
// settings' [sync] table says enabled = true or haresources has an
// LVSSyncDaemonSwap resource: the sysctls and timeouts at start, the backup
// daemon from start to stop, the master with the group (the SyncRole
// agents), the settle wait before a failback, and what status shows.
type connSync struct {
	cfg     settings.Sync
	file    string // the settings file, for errors
	daemons *resource.SyncDaemons
	sysctls interface {
		Get(name string) (string, error)
		Set(name, value string) error
	}
	table    ipvs.Table // for the anchor services (nil: none)
	log      *slog.Logger
	interval time.Duration // how often the daemons and the table are read
	now      func() time.Time

	mu   sync.Mutex
	snap control.SyncStatus
}

// syncSysctlsLogged are read and logged at start: what decides whether a
// synced connection is usable after a takeover.
var syncSysctlsLogged = []string{"sync_version", "sync_threshold", "sync_refresh_period", "conntrack", "expire_nodest_conn", "sloppy_tcp"}

// openKernelSync opens the kernel's sync daemon calls and its table.
var openKernelSync = func(log *slog.Logger) (ipvs.Sync, ipvs.Table, error) {
	k, err := ipvs.NewKernel(ipvs.KernelOptions{Logger: log})
	if err != nil {
		return nil, nil, err
	}
	return k, k, nil
}

var _ ipvs.Sync = (*ipvs.Kernel)(nil)

// AnchorFWMark marks the anchor services (fwm and fwm6, no destinations)
// that directord keeps in the table while the connection sync runs. Linux
// (since 5.7) registers IPVS's netfilter hooks only while a service of the
// family exists: a director that holds no group, or one whose in-process
// director has not programmed its services yet, or has just removed them
// (cleanstop), would then not look at its synced connections at all, and
// the local stack would reset every packet to the VIP. Found by
// t_67_conn_sync: connections survived a SIGKILL takeover (the table came
// up before the client's retransmission) but were reset by standby and
// failback (packets in the gap; TCP resets from the new holder). No packet
// carries this mark unless a firewall rule sets it.
const AnchorFWMark = 0x4c565331 // "LVS1"

func anchors() []ipvs.Service {
	return []ipvs.Service{
		{ServiceKey: ipvs.ServiceKey{Family: ipvs.INET, FWMark: AnchorFWMark}, Scheduler: "rr"},
		{ServiceKey: ipvs.ServiceKey{Family: ipvs.INET6, FWMark: AnchorFWMark}, Scheduler: "rr"},
	}
}

// anchor adds (on) or removes the anchor services; ones already there (a
// crashed run's) are kept.
func (c *connSync) anchor(ctx context.Context, on bool) error {
	if c.table == nil {
		return nil
	}
	have, err := c.table.Services(ctx)
	if err != nil {
		return err
	}
	var ops []ipvs.Op
	for _, a := range anchors() {
		there := slices.ContainsFunc(have, func(s ipvs.Service) bool { return s.ServiceKey == a.ServiceKey })
		switch {
		case on && !there:
			ops = append(ops, ipvs.Op{Kind: ipvs.AddService, Service: a})
		case !on && there:
			ops = append(ops, ipvs.Op{Kind: ipvs.DeleteService, Service: a})
		}
	}
	if len(ops) == 0 {
		return nil
	}
	return c.table.Apply(ctx, ops)
}

// newConnSync returns nil when sync is off.
func newConnSync(st *settings.Settings, rs *haconf.Resources, k ipvs.Sync, table ipvs.Table, log *slog.Logger) (*connSync, error) {
	y := st.Sync
	if !y.Enabled && (rs == nil || !rs.SyncRoles()) {
		return nil, nil
	}
	file := st.File
	if file == "" {
		file = settings.DefaultPath
	}
	d := ipvs.SyncDaemon{Interface: y.Interface, SyncID: uint8(y.SyncID), MaxLen: uint16(y.MaxLen), Port: uint16(y.Port), TTL: uint8(y.TTL)}
	if y.Group != "" {
		a, err := netip.ParseAddr(y.Group)
		if err != nil {
			return nil, fmt.Errorf("%s: sync.group: %v", file, err)
		}
		d.Group = a
	}
	return &connSync{cfg: y, file: file, log: log, table: table, interval: time.Second, now: time.Now, sysctls: ipvs.Sysctls{},
		daemons: &resource.SyncDaemons{Sync: k, Daemon: d, KeepBackup: y.KeepBackup, Log: log},
		snap:    control.SyncStatus{Interface: d.Interface, SyncID: int(d.SyncID)}}, nil
}

// attach gives the LVSSyncDaemonSwap agents of the groups their daemons;
// without any, [sync] puts a master role first in its resource_group (in
// every group when it names none), so the master starts before the
// group's addresses and stops after them.
func (c *connSync) attach(gs []*resource.Group) error {
	found := false
	for _, g := range gs {
		for _, a := range g.Agents {
			if r, ok := a.(*resource.SyncRole); ok {
				r.D, found = c.daemons, true
			}
		}
	}
	if found {
		if c.cfg.ResourceGroup != "" {
			c.log.Warn(c.file + ": sync.resource_group is ignored: haresources has LVSSyncDaemonSwap")
		}
		return nil
	}
	var keys []string
	for _, g := range gs {
		keys = append(keys, g.Key)
		if c.cfg.ResourceGroup == "" || c.cfg.ResourceGroup == g.Key {
			g.Agents = append([]resource.Agent{&resource.SyncRole{D: c.daemons, Role: ipvs.SyncMaster, Group: g.Key}}, g.Agents...)
			found = true
		}
	}
	if c.cfg.ResourceGroup != "" && !found {
		return fmt.Errorf("%s: sync.resource_group: no haresources group %q (groups: %q)", c.file, c.cfg.ResourceGroup, keys)
	}
	return nil
}

// start prepares the kernel before any group is taken: logs the sysctls,
// sets those the settings name, sets the timeouts, starts the backup. A
// failure is logged, not fatal: the pair still fails over, only without
// the connections.
func (c *connSync) start(ctx context.Context) error {
	for _, kv := range c.cfg.SysctlValues {
		if err := c.sysctls.Set(kv[0], kv[1]); err != nil {
			c.log.Error("connection sync: cannot set sysctl", "err", err)
		} else {
			c.log.Info("connection sync: sysctl set", "name", "net.ipv4.vs."+kv[0], "value", kv[1])
		}
	}
	for _, name := range syncSysctlsLogged {
		v, err := c.sysctls.Get(name)
		if err != nil {
			c.log.Debug("connection sync: sysctl not readable (older kernel?)", "err", err)
			continue
		}
		c.log.Info("connection sync: sysctl", "name", "net.ipv4.vs."+name, "value", v)
		if name == "sync_version" && v == "0" {
			c.log.Warn("connection sync: net.ipv4.vs.sync_version = 0 (the pre-2.6.39 format): both directors must use the same version")
		}
	}
	var errs []error
	t := ipvs.Timeouts{TCP: c.cfg.TimeoutTCP.D(), TCPFin: c.cfg.TimeoutTCPFin.D(), UDP: c.cfg.TimeoutUDP.D()}
	if t != (ipvs.Timeouts{}) {
		if err := c.daemons.Sync.SetTimeouts(ctx, t); err != nil {
			errs = append(errs, fmt.Errorf("connection sync: setting the IPVS timeouts: %w", err))
		}
	}
	if now, err := c.daemons.Sync.Timeouts(ctx); err == nil {
		c.log.Info("connection sync: IPVS timeouts", "tcp", now.TCP, "tcpfin", now.TCPFin, "udp", now.UDP)
	}
	if err := c.anchor(ctx, true); err != nil {
		errs = append(errs, fmt.Errorf("connection sync: adding the anchor services (fwm %d): %w", AnchorFWMark, err))
	}
	if err := c.daemons.StopStaleMaster(ctx); err != nil {
		errs = append(errs, fmt.Errorf("connection sync: %w", err))
	}
	if err := c.daemons.StartBackup(ctx); err != nil {
		errs = append(errs, fmt.Errorf("connection sync: starting the backup daemon on %s: %w", c.cfg.Interface, err))
	}
	err := errors.Join(errs...)
	if err != nil {
		c.log.Error(err.Error())
	}
	return err
}

// watch reads the daemons and the connection table every interval (off the
// heartbeat loop: status and metrics read the copy) and sends on settled
// once the backup has settled (cluster.Settle). backupOK false (the backup
// could not start) settles at once: there is nothing to wait for.
func (c *connSync) watch(ctx context.Context, backupOK bool, settled chan<- struct{}) {
	st := cluster.Settle{Min: c.cfg.SettleMin.D(), Quiet: c.cfg.SettleQuiet.D(), Max: c.cfg.SettleMax.D()}
	start := c.now()
	st.Start(start)
	done := !backupOK
	if done {
		c.log.Warn("connection sync: no backup daemon: failback is not delayed")
		c.setSettled()
		settled <- struct{}{} // buffered
	}
	tick := time.NewTicker(c.interval)
	defer tick.Stop()
	last := 0
	for {
		ds, n, err := c.daemons.Status(ctx)
		c.mu.Lock()
		if err != nil {
			c.snap.Error = err.Error()
		} else {
			c.snap.Error, c.snap.Connections, c.snap.Daemons = "", n, nil
			for _, d := range ds {
				sd := control.SyncDaemon{State: d.State.String(), Interface: d.Interface, SyncID: int(d.SyncID)}
				if d.Group.IsValid() {
					sd.Group = netip.AddrPortFrom(d.Group, d.Port).String()
				}
				c.snap.Daemons = append(c.snap.Daemons, sd)
			}
		}
		c.mu.Unlock()
		if err != nil {
			n = last // a failed read is no growth: the wait ends, at Max at the latest
		}
		last = n
		if !done && st.Observe(c.now(), n) {
			done = true
			c.log.Info("connection sync: backup settled", "after", c.now().Sub(start).Round(time.Millisecond), "connections", n)
			c.setSettled()
			settled <- struct{}{}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (c *connSync) setSettled() {
	c.mu.Lock()
	c.snap.Settled = true
	c.mu.Unlock()
}

// status is the latest reading, for directorctl and metrics.
func (c *connSync) status() *control.SyncStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.snap
	s.Daemons = slices.Clone(s.Daemons)
	return &s
}

// stop ends the sync at directord's end: the master, and the backup
// unless keep_backup.
func (c *connSync) stop(ctx context.Context) {
	if err := c.daemons.StopAll(ctx); err != nil {
		c.log.Error("connection sync: stopping the daemons: " + err.Error())
	}
	if !c.cfg.KeepBackup {
		if err := c.anchor(ctx, false); err != nil {
			c.log.Error("connection sync: removing the anchor services: " + err.Error())
		}
	}
}
