package main

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lvsdirector/director/failover/haconf"
	"github.com/lvsdirector/director/failover/ipaddr"
	"github.com/lvsdirector/director/failover/resource"
	"github.com/lvsdirector/director/internal/settings"
	"github.com/lvsdirector/director/ipvs"
	"github.com/lvsdirector/director/ipvs/ipvstest"
)

type fakeSysctls map[string]string

func (f fakeSysctls) Get(name string) (string, error) {
	if v, ok := f[name]; ok {
		return v, nil
	}
	return "", errors.New("no such sysctl")
}
func (f fakeSysctls) Set(name, v string) error { f[name] = v; return nil }

func syncSettings(t *testing.T, body string) *settings.Settings {
	t.Helper()
	st, err := settings.Parse("s.toml", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func haRes(t *testing.T, src string) *haconf.Resources {
	t.Helper()
	rs, err := haconf.ParseHaresources("haresources", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestConnSyncOff(t *testing.T) {
	c, err := newConnSync(syncSettings(t, ""), haRes(t, "a 10.0.0.1\n"), &ipvstest.Sync{}, nil, slog.New(slog.DiscardHandler))
	if c != nil || err != nil {
		t.Errorf("sync off: %v %v", c, err)
	}
}

func TestConnSyncAttach(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	// [sync] alone: the master role first in every group, or in the named one.
	for body, want := range map[string]string{
		"[sync]\nenabled = true\n":                                "LVSSyncDaemonSwap::master IPaddr::10.0.0.1|LVSSyncDaemonSwap::master IPaddr::10.0.0.2",
		"[sync]\nenabled = true\nresource_group = \"10.0.0.2\"\n": "IPaddr::10.0.0.1|LVSSyncDaemonSwap::master IPaddr::10.0.0.2",
	} {
		rs := haRes(t, "a 10.0.0.1\nb 10.0.0.2\n")
		c, err := newConnSync(syncSettings(t, body), rs, &ipvstest.Sync{}, nil, log)
		if err != nil {
			t.Fatal(err)
		}
		gs := []*resource.Group{{Key: "10.0.0.1", Agents: []resource.Agent{&resource.IP{Addr: addrOf("10.0.0.1")}}},
			{Key: "10.0.0.2", Agents: []resource.Agent{&resource.IP{Addr: addrOf("10.0.0.2")}}}}
		if err := c.attach(gs); err != nil {
			t.Fatal(err)
		}
		if got := agentNames(gs); got != want {
			t.Errorf("%q: %s, want %s", body, got, want)
		}
	}
	c, _ := newConnSync(syncSettings(t, "[sync]\nenabled = true\nresource_group = \"10.9.9.9\"\n"), nil, &ipvstest.Sync{}, nil, log)
	err := c.attach([]*resource.Group{{Key: "10.0.0.1"}})
	if err == nil || !strings.Contains(err.Error(), `s.toml: sync.resource_group: no haresources group "10.9.9.9"`) {
		t.Errorf("unknown resource_group: %v", err)
	}
	// LVSSyncDaemonSwap in haresources turns sync on without [sync].
	rs := haRes(t, "a 10.0.0.1 LVSSyncDaemonSwap::master\n")
	c, err = newConnSync(syncSettings(t, ""), rs, &ipvstest.Sync{}, nil, log)
	if err != nil || c == nil {
		t.Fatalf("LVSSyncDaemonSwap: %v %v", c, err)
	}
	role := &resource.SyncRole{Role: ipvs.SyncMaster, Group: "10.0.0.1"}
	gs := []*resource.Group{{Key: "10.0.0.1", Agents: []resource.Agent{role}}}
	if err := c.attach(gs); err != nil || role.D == nil || len(gs[0].Agents) != 1 {
		t.Errorf("attach: %v, daemons %v, agents %d", err, role.D, len(gs[0].Agents))
	}
	if c.daemons.Daemon.Interface != "eth0" {
		t.Errorf("default interface %q, want ipvsadm's eth0", c.daemons.Daemon.Interface)
	}
}

func addrOf(s string) ipaddr.Address { return ipaddr.Address{Addr: netip.MustParseAddr(s)} }

func agentNames(gs []*resource.Group) string {
	var out []string
	for _, g := range gs {
		var names []string
		for _, a := range g.Agents {
			names = append(names, a.String())
		}
		out = append(out, strings.Join(names, " "))
	}
	return strings.Join(out, "|")
}

func TestConnSyncStartWatchStop(t *testing.T) {
	k := &ipvstest.Sync{Conns: 5}
	st := syncSettings(t, `[sync]
enabled = true
interface = "eth1"
sync_id = 3
settle_min = "1s"
settle_quiet = "1s"
settle_max = "1s"
timeout_tcp = "900s"
[sync.sysctl]
conntrack = 1
`)
	table := ipvs.NewMemory()
	c, err := newConnSync(st, nil, k, table, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	sys := fakeSysctls{"sync_version": "1", "conntrack": "0"}
	c.sysctls, c.interval = sys, time.Millisecond
	ctx := context.Background()
	_ = k.StartDaemon(ctx, ipvs.SyncDaemon{State: ipvs.SyncMaster, Interface: "eth1", SyncID: 3}) // a crashed run's
	if err := c.start(ctx); err != nil {
		t.Fatal(err)
	}
	if svcs, _ := table.Services(ctx); len(svcs) != 2 || svcs[0].FWMark != AnchorFWMark || svcs[1].FWMark != AnchorFWMark {
		t.Errorf("anchor services: %+v", svcs)
	}
	if err := c.anchor(ctx, true); err != nil { // again (a crashed run's): kept
		t.Errorf("anchor again: %v", err)
	}
	if sys["conntrack"] != "1" || k.Running() != "backup" {
		t.Errorf("after start: sysctls %v, daemons %q", sys, k.Running())
	}
	if to, _ := k.Timeouts(ctx); to.TCP != 900*time.Second {
		t.Errorf("timeouts %+v", to)
	}
	if c.status().Settled {
		t.Error("settled before the watch")
	}
	wctx, cancel := context.WithCancel(ctx)
	settled := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() { defer close(done); c.watch(wctx, true, settled) }()
	select {
	case <-settled:
	case <-time.After(10 * time.Second):
		t.Fatal("never settled")
	}
	cancel()
	<-done
	s := c.status()
	if !s.Settled || s.Connections != 5 || len(s.Daemons) != 1 || s.Daemons[0].State != "backup" || s.Daemons[0].Interface != "eth1" || s.Daemons[0].SyncID != 3 {
		t.Errorf("status %+v", s)
	}
	c.stop(ctx)
	if k.Running() != "" {
		t.Errorf("after stop: %q", k.Running())
	}
	if svcs, _ := table.Services(ctx); len(svcs) != 0 {
		t.Errorf("anchors left after stop: %+v", svcs)
	}
}
