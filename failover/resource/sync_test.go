package resource

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/lvsdirector/director/ipvs"
	"github.com/lvsdirector/director/ipvs/ipvstest"
)

func newSync() (*ipvstest.Sync, *SyncDaemons) {
	k := &ipvstest.Sync{}
	return k, &SyncDaemons{Sync: k, Daemon: ipvs.SyncDaemon{Interface: "eth1", SyncID: 7}, Log: slog.New(slog.DiscardHandler)}
}

// The roles through a director's life: backup from start, master with the
// group, master gone on release, both gone on stop.
func TestSyncRolesFollowTheGroup(t *testing.T) {
	ctx := context.Background()
	k, d := newSync()
	if err := d.StartBackup(ctx); err != nil {
		t.Fatal(err)
	}
	if got := k.Running(); got != "backup" {
		t.Fatalf("after start: %q, want backup", got)
	}
	g := &Group{Key: "vip", Agents: []Agent{&SyncRole{D: d, Role: ipvs.SyncMaster, Group: "vip"}}}
	if err := g.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if got := k.Running(); got != "backup master" {
		t.Fatalf("group held: %q, want backup master", got)
	}
	if ok, err := g.Agents[0].Running(ctx); !ok || err != nil {
		t.Errorf("Running = %v, %v", ok, err)
	}
	if err := g.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if got := k.Running(); got != "backup" {
		t.Fatalf("group released: %q, want backup", got)
	}
	if err := d.StopAll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := k.Running(); got != "" {
		t.Fatalf("stopped: %q, want nothing", got)
	}
	want := "start backup eth1 id 7,start master eth1 id 7,stop master,stop backup"
	if got := strings.Join(k.Log, ","); got != want {
		t.Errorf("kernel calls %s\nwant %s", got, want)
	}
	// Stopping what is not running (ESRCH) is fine.
	if err := d.StopAll(ctx); err != nil {
		t.Errorf("second stop: %v", err)
	}
}

func TestSyncKeepBackup(t *testing.T) {
	ctx := context.Background()
	k, d := newSync()
	d.KeepBackup = true
	_ = d.StartBackup(ctx)
	_ = (&SyncRole{D: d, Role: ipvs.SyncMaster, Group: "g"}).Start(ctx)
	if err := d.StopAll(ctx); err != nil || k.Running() != "backup" {
		t.Errorf("keep_backup: %q, %v; want backup left", k.Running(), err)
	}
}

// A master left by a crashed run is adopted when its parameters are ours
// and restarted with ours when not; neither fails the start.
func TestSyncAdoptOrRestart(t *testing.T) {
	ctx := context.Background()
	k, d := newSync()
	_ = k.StartDaemon(ctx, ipvs.SyncDaemon{State: ipvs.SyncMaster, Interface: "eth1", SyncID: 7})
	_ = k.StartDaemon(ctx, ipvs.SyncDaemon{State: ipvs.SyncBackup, Interface: "eth0", SyncID: 3})
	k.Log = nil
	if err := d.StartBackup(ctx); err != nil {
		t.Fatal(err)
	}
	r := &SyncRole{D: d, Role: ipvs.SyncMaster, Group: "g"}
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	want := "stop backup,start backup eth1 id 7"
	if got := strings.Join(k.Log, ","); got != want {
		t.Errorf("kernel calls %s\nwant %s (the backup restarted with our id, the master adopted)", got, want)
	}
}

func TestSyncTwoGroupsShareTheMaster(t *testing.T) {
	ctx := context.Background()
	k, d := newSync()
	_ = d.StartBackup(ctx)
	a := &SyncRole{D: d, Role: ipvs.SyncMaster, Group: "a"}
	b := &SyncRole{D: d, Role: ipvs.SyncMaster, Group: "b"}
	_ = a.Start(ctx)
	_ = b.Start(ctx)
	_ = a.Stop(ctx)
	if k.Running() != "backup master" {
		t.Fatalf("one of two groups released: %q, want the master kept", k.Running())
	}
	_ = b.Stop(ctx)
	if k.Running() != "backup" {
		t.Fatalf("both released: %q", k.Running())
	}
}

// LVSSyncDaemonSwap::backup: the group marks the standby side.
func TestSyncBackupRole(t *testing.T) {
	ctx := context.Background()
	k, d := newSync()
	r := &SyncRole{D: d, Role: ipvs.SyncBackup, Group: "g"}
	_ = k.StartDaemon(ctx, ipvs.SyncDaemon{State: ipvs.SyncMaster, Interface: "eth1", SyncID: 7})
	if err := r.Start(ctx); err != nil || k.Running() != "backup" {
		t.Fatalf("start: %q %v, want backup only", k.Running(), err)
	}
	if err := r.Stop(ctx); err != nil || k.Running() != "backup master" {
		t.Fatalf("stop: %q %v, want master started", k.Running(), err)
	}
	if r.String() != "LVSSyncDaemonSwap::backup" {
		t.Error(r.String())
	}
}

func TestSyncStartError(t *testing.T) {
	ctx := context.Background()
	k, d := newSync()
	k.Fail = ipvs.ErrSyncUnsupported
	if err := d.StartBackup(ctx); !errors.Is(err, ipvs.ErrSyncUnsupported) {
		t.Errorf("err = %v", err)
	}
}

func TestSyncDaemonString(t *testing.T) {
	if s := SyncDaemonString(ipvs.SyncDaemon{State: ipvs.SyncBackup, Interface: "eth1", SyncID: 2}); s != "backup eth1 syncid 2" {
		t.Error(s)
	}
	if s := SyncDaemonString(ipvs.SyncDaemon{State: ipvs.SyncMaster, Interface: "eth1", Port: 9000}); s != "master eth1 syncid 0 group 224.0.0.81:9000" {
		t.Error(s)
	}
}

func TestSyncStaleMasterStopped(t *testing.T) {
	ctx := context.Background()
	k, d := newSync()
	_ = k.StartDaemon(ctx, ipvs.SyncDaemon{State: ipvs.SyncMaster, Interface: "eth1", SyncID: 7})
	if err := d.StopStaleMaster(ctx); err != nil || k.Running() != "" {
		t.Errorf("stale master: %q %v", k.Running(), err)
	}
	if err := d.StopStaleMaster(ctx); err != nil {
		t.Errorf("none running: %v", err)
	}
}

// A sync daemon that cannot start or stop does not fail the group: its
// addresses must move regardless.
func TestSyncRoleFailureDoesNotFailTheGroup(t *testing.T) {
	ctx := context.Background()
	k, d := newSync()
	k.Fail = ipvs.ErrSyncUnsupported
	g := &Group{Key: "vip", Log: d.Log, Agents: []Agent{&SyncRole{D: d, Role: ipvs.SyncMaster, Group: "vip"}}}
	if err := g.Acquire(ctx); err != nil {
		t.Errorf("acquire with a failing kernel: %v", err)
	}
	if k.Running() != "" {
		t.Errorf("daemons %q", k.Running())
	}
	if err := g.Release(ctx); err != nil {
		t.Errorf("release: %v", err)
	}
}
