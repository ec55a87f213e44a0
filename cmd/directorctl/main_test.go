package main

import (
	"strings"
	"testing"
	"time"

	"github.com/lvsdirector/director/failover/control"
)

func TestPrintSyncStatus(t *testing.T) {
	st := &control.Status{Node: "a", CommUp: true, Resources: "all", Sync: &control.SyncStatus{
		Interface: "eth1", SyncID: 7, Connections: 12,
		Daemons: []control.SyncDaemon{{State: "master", Interface: "eth1", SyncID: 7, Group: "224.0.0.81:8848"},
			{State: "backup", Interface: "eth1", SyncID: 7}}}}
	var b strings.Builder
	printStatus(&b, st)
	for _, want := range []string{
		"connection sync: eth1 syncid 7, 12 connections, settling (no failback yet)\n",
		"  master  running  interface eth1 syncid 7 group 224.0.0.81:8848\n",
		"  backup  running  interface eth1 syncid 7\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in\n%s", want, b.String())
		}
	}
	st.Sync = nil
	b.Reset()
	printStatus(&b, st)
	if strings.Contains(b.String(), "sync") {
		t.Errorf("sync off shown:\n%s", b.String())
	}
}

func TestPrintFailingStop(t *testing.T) {
	since := time.Date(2026, 12, 4, 3, 4, 5, 0, time.Local)
	st := &control.Status{Node: "a", CommUp: true, Resources: "all", Groups: []control.Group{
		{Key: "10.0.0.100", Held: true, Resources: []string{"10.0.0.100", "stuck"},
			StopFailures: 4, StopError: "stuck stop: exit status 1", StopSince: since},
		{Key: "10.0.0.200", Held: true, Resources: []string{"10.0.0.200"}},
	}}
	var b strings.Builder
	printStatus(&b, st)
	want := "  10.0.0.100           held here  [10.0.0.100 stuck]\n" +
		"    STOP FAILED 4 times in a row since 03:04:05, still held, retrying: stuck stop: exit status 1\n" +
		"  10.0.0.200           held here  [10.0.0.200]\n"
	if !strings.Contains(b.String(), want) {
		t.Errorf("want\n%s\nin\n%s", want, b.String())
	}
}
