package main

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsdirector/director/failover/cluster"
	"github.com/lvsdirector/director/failover/control"
	"github.com/lvsdirector/director/failover/resource"
	"github.com/lvsdirector/director/ipvs"
	"github.com/lvsdirector/director/ipvs/ipvstest"
)

// Under systemd (a fake one here: a unixgram socket at $NOTIFY_SOCKET)
// READY=1 waits for the takeover at start: while the director's first
// table write is held nothing is sent; once it lands READY=1 comes with a
// STATUS naming the group held, and the table is programmed by then.
// Shutdown says STOPPING=1.
func TestReadyOnlyOnceTheTableIsProgrammed(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	sd, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer sd.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	recv := func(wait time.Duration) string {
		buf := make([]byte, 4096)
		sd.SetReadDeadline(time.Now().Add(wait))
		n, err := sd.Read(buf)
		if err != nil {
			return ""
		}
		return string(buf[:n])
	}

	cf := filepath.Join(t.TempDir(), "ld.cf")
	os.WriteFile(cf, []byte("logfile=\"/dev/null\"\nvirtual=10.0.0.100:80\n\treal=10.0.1.11:80 masq\n\tchecktype=on\n"), 0o644)
	tb := ipvstest.NewHeldTable()
	m, err := cluster.New(cluster.Config{Node: "a", Nodes: []string{"a", "b"}, Keepalive: 50 * time.Millisecond,
		Deadtime: 200 * time.Millisecond, Initdead: 200 * time.Millisecond, Generation: 1,
		Groups: []cluster.Group{{Key: "10.0.0.100", Node: "a"}}, Links: []string{"lo"}})
	if err != nil {
		t.Fatal(err)
	}
	set, keys := loopbackLink(t, 56951)
	dir := &resource.Director{Path: cf, Log: slog.New(slog.DiscardHandler), Table: func() (ipvs.Table, error) { return tb, nil }}
	d := &daemon{log: slog.New(slog.DiscardHandler), node: "a", m: m, media: set, keys: keys, ttl: 3,
		groups: map[string]*resource.Group{"10.0.0.100": {Key: "10.0.0.100", Log: slog.New(slog.DiscardHandler),
			Agents: []resource.Agent{dir}}},
		order: []string{"10.0.0.100"}, jobs: make(chan job, 4), done: make(chan jobResult, 4),
		control: make(chan control.Request), pings: make(chan pingReport),
		nodes: map[string]string{}, links: map[string]map[string]bool{}, held: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- d.run(ctx) }()
	let := false
	defer func() {
		if !let {
			close(tb.Let)
		}
		cancel()
		select {
		case <-ran:
		case <-time.After(10 * time.Second):
			t.Error("the daemon did not stop")
		}
	}()

	select {
	case <-tb.Entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no takeover")
	}
	if got := recv(500 * time.Millisecond); got != "" {
		t.Fatalf("told systemd %q while the table write is held", got)
	}
	close(tb.Let)
	let = true
	got := recv(5 * time.Second)
	svcs, _ := tb.Memory.Services(context.Background())
	if !strings.HasPrefix(got, "READY=1\nSTATUS=holding group 10.0.0.100; resources ") || len(svcs) != 1 {
		t.Fatalf("after the takeover: %q with %d services in the table", got, len(svcs))
	}
	// The watchdog's sources: the loop and the held director, both fresh.
	srcs := d.watchdog(nil).Sources()
	if len(srcs) != 2 || time.Since(srcs[0].Last) > time.Second || time.Since(srcs[1].Last) > 2*time.Second {
		t.Errorf("watchdog sources %+v", srcs)
	}
	cancel()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if got := recv(time.Second); strings.HasPrefix(got, "STOPPING=1") {
			return
		}
	}
	t.Error("no STOPPING=1 at shutdown")
}
