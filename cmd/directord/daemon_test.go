package main

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lvsdirector/director/failover/cluster"
	"github.com/lvsdirector/director/failover/control"
	"github.com/lvsdirector/director/failover/media"
	"github.com/lvsdirector/director/failover/resource"
	"github.com/lvsdirector/director/failover/wire"
	"github.com/lvsdirector/director/ipvs"
	"github.com/lvsdirector/director/ipvs/ipvstest"
)

// The daemon's loop answers directorctl status at once while its worker is
// stuck in a takeover (the director's first table write): the loop also
// sends the heartbeats, so a status that waits there stops them.
func TestStatusAnswersWhileTakeoverWritesTheTable(t *testing.T) {
	cf := filepath.Join(t.TempDir(), "ld.cf")
	os.WriteFile(cf, []byte("logfile=\"/dev/null\"\nvirtual=10.0.0.100:80\n\treal=10.0.1.11:80 masq\n\tchecktype=on\n"), 0o644)
	tb := ipvstest.NewHeldTable()
	m, err := cluster.New(cluster.Config{Node: "a", Nodes: []string{"a", "b"}, Keepalive: 50 * time.Millisecond,
		Deadtime: 200 * time.Millisecond, Initdead: 200 * time.Millisecond, Generation: 1,
		Groups: []cluster.Group{{Key: "10.0.0.100", Node: "a"}}, Links: []string{"lo"}})
	if err != nil {
		t.Fatal(err)
	}
	set, keys := loopbackLink(t, 56950)
	d := &daemon{log: slog.New(slog.DiscardHandler), node: "a", m: m, media: set, keys: keys, ttl: 3,
		groups: map[string]*resource.Group{"10.0.0.100": {Key: "10.0.0.100", Log: slog.New(slog.DiscardHandler),
			Agents: []resource.Agent{&resource.Director{Path: cf, Log: slog.New(slog.DiscardHandler), Table: func() (ipvs.Table, error) { return tb, nil }}}}},
		order: []string{"10.0.0.100"}, jobs: make(chan job, 4), done: make(chan jobResult, 4),
		control: make(chan control.Request), pings: make(chan pingReport),
		nodes: map[string]string{}, links: map[string]map[string]bool{}, held: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- d.run(ctx) }()
	defer func() {
		close(tb.Let)
		cancel()
		select {
		case <-ran:
		case <-time.After(10 * time.Second):
			t.Error("the daemon did not stop")
		}
	}()

	select {
	case <-tb.Entered: // the takeover is writing the table
	case <-time.After(10 * time.Second):
		t.Fatal("the group was never acquired")
	}
	for i := 0; i < 5; i++ {
		t0 := time.Now()
		sctx, done := context.WithTimeout(ctx, 250*time.Millisecond)
		st, err := d.failoverStatus(sctx)
		done()
		if err != nil {
			t.Fatalf("status %d during the takeover: %v", i, err)
		}
		if st.Node != "a" || len(st.Groups) != 1 {
			t.Fatalf("status: %+v", st)
		}
		t.Logf("status answered in %v", time.Since(t0))
	}
}

// Acquire, release and announce (netlink, gratuitous ARP) are queued for
// the worker: carrying them out never waits on the loop, even while the
// worker is busy with a long takeover.
func TestActionsNeverWaitForTheWorker(t *testing.T) {
	d := testDaemon(t)
	d.jobs = make(chan job, 4) // no worker takes them
	did := make(chan struct{})
	go func() {
		for i := 0; i < 10; i++ {
			d.do([]cluster.Action{cluster.Acquire{Op: i, Groups: []string{"10.0.0.100"}}, cluster.Announce{Groups: []string{"10.0.0.100"}}})
		}
		close(did)
	}()
	select {
	case <-did:
	case <-time.After(2 * time.Second):
		t.Fatal("do blocked on a busy worker")
	}
	if len(d.queue) != 20 || !d.queue[1].announce || d.queue[0].op != 0 || !d.queue[0].acquire {
		t.Fatalf("queue: %+v", d.queue)
	}
}

// loopbackLink opens a ucast medium to ourselves on lo (port) and a sha1
// keyring for it: a daemon under test talks to nobody but itself. Skips
// where lo cannot carry it.
func loopbackLink(t *testing.T, port int) (*media.Set, *wire.Keyring) {
	t.Helper()
	set, err := media.OpenAll([]media.Spec{{Kind: "ucast", Dev: "lo", Label: "lo", Peer: netip.MustParseAddr("127.0.0.1"), Port: port}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Skip("no ucast medium on lo:", err)
	}
	t.Cleanup(func() { set.Close() })
	keys := &wire.Keyring{Send: 1}
	keys.Keys[1] = wire.Key{Method: wire.SHA1, Secret: "k"}
	return set, keys
}
