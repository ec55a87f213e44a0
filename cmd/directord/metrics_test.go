package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lvsdirector/director/failover/cluster"
	"github.com/lvsdirector/director/failover/control"
	"github.com/lvsdirector/director/failover/resource"
	"github.com/lvsdirector/director/internal/metrics"
)

// testDaemon is a daemon with a state machine and two groups: web (an
// address and the director in-process) and db (a script), neither held.
func testDaemon(t *testing.T) *daemon {
	t.Helper()
	m, err := cluster.New(cluster.Config{Node: "a", Nodes: []string{"a", "b"}, Keepalive: time.Second, Deadtime: 5 * time.Second, Generation: 1,
		Groups: []cluster.Group{{Key: "10.0.0.100", Node: "a"}, {Key: "10.0.0.200", Node: "b"}}})
	if err != nil {
		t.Fatal(err)
	}
	return &daemon{log: slog.New(slog.DiscardHandler), node: "a", m: m, control: make(chan control.Request),
		groups: map[string]*resource.Group{
			"10.0.0.100": {Key: "10.0.0.100", Agents: []resource.Agent{&resource.Director{Path: "ld.cf"}}},
			"10.0.0.200": {Key: "10.0.0.200", Agents: []resource.Agent{&resource.Script{Name: "db"}}},
		},
		order: []string{"10.0.0.100", "10.0.0.200"},
		nodes: map[string]string{}, links: map[string]map[string]bool{}, held: map[string]bool{}}
}

// serveControl answers control requests as the daemon's goroutine does.
func serveControl(ctx context.Context, d *daemon) {
	for {
		select {
		case req := <-d.control:
			d.handle(req)
		case <-ctx.Done():
			return
		}
	}
}

// The HA metrics come from the daemon's own status, taken on its goroutine.
func TestFailoverMetricsFromTheDaemon(t *testing.T) {
	d := testDaemon(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go serveControl(ctx, d)
	c := metrics.NewCollector(metrics.Sources{Directors: d.directors, Failover: metrics.FailoverFunc(d.failoverStatus)})

	want := func(commUp, heldWeb, heldDB, linkUp int) string {
		return strings.NewReplacer("COMM", strconv.Itoa(commUp), "WEB", strconv.Itoa(heldWeb), "DB", strconv.Itoa(heldDB), "LINK", strconv.Itoa(linkUp)).Replace(
			`# HELP lvs_ha_comm_up 1 once cluster communication has started (heartbeat's initdead is over), else 0.
# TYPE lvs_ha_comm_up gauge
lvs_ha_comm_up COMM
# HELP lvs_ha_group_held 1 while this node holds the haresources group (named by its first resource), else 0.
# TYPE lvs_ha_group_held gauge
lvs_ha_group_held{group="10.0.0.100"} WEB
lvs_ha_group_held{group="10.0.0.200"} DB
# HELP lvs_ha_link_up Heartbeat link (medium) to a node: 1 up, 0 dead.
# TYPE lvs_ha_link_up gauge
lvs_ha_link_up{link="eth0",node="b"} LINK
`)
	}
	d.do([]cluster.Action{cluster.NodeState{Node: "b", State: "active"}, cluster.LinkState{Node: "b", Link: "eth0", Up: false}})
	if err := testutil.CollectAndCompare(c, strings.NewReader(want(0, 0, 0, 0)), "lvs_ha_comm_up", "lvs_ha_group_held", "lvs_ha_link_up"); err != nil {
		t.Fatal(err)
	}
	if n := len(d.directors()); n != 0 {
		t.Errorf("%d directors while no group is held", n)
	}
	d.mu.Lock()
	d.held["10.0.0.100"] = true
	d.mu.Unlock()
	d.do([]cluster.Action{cluster.LinkState{Node: "b", Link: "eth0", Up: true}})
	if err := testutil.CollectAndCompare(c, strings.NewReader(want(0, 1, 0, 1)), "lvs_ha_comm_up", "lvs_ha_group_held", "lvs_ha_link_up"); err != nil {
		t.Fatal(err)
	}
	if n := len(d.directors()); n != 1 {
		t.Errorf("%d directors with the web group held, want 1", n)
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(`# HELP lvs_ha_node_state Status of a cluster or ping node as this node sees it: 1 for the current status, 0 for the others.
# TYPE lvs_ha_node_state gauge
lvs_ha_node_state{node="b",state="active"} 1
lvs_ha_node_state{node="b",state="dead"} 0
lvs_ha_node_state{node="b",state="init"} 0
lvs_ha_node_state{node="b",state="ping"} 0
lvs_ha_node_state{node="b",state="up"} 0
`), "lvs_ha_node_state"); err != nil {
		t.Fatal(err)
	}
}

// A daemon that does not take the request (busy, or gone) does not hang
// the scrape.
func TestFailoverStatusTimesOut(t *testing.T) {
	d := testDaemon(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := d.failoverStatus(ctx); err == nil || !strings.Contains(err.Error(), "did not take the status request") {
		t.Fatalf("got %v", err)
	}
}

func TestLoadSettings(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.toml")
	if s, err := loadSettings(missing, false); err != nil || s.Metrics.Enabled() {
		t.Fatalf("missing default file: %+v %v", s, err)
	}
	if _, err := loadSettings(missing, true); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing --settings file: %v", err)
	}
	p := filepath.Join(dir, "s.toml")
	os.WriteFile(p, []byte("[metrics]\nlisten = \"127.0.0.1:9773\"\nbogus = 1\n"), 0o644)
	if _, err := loadSettings(p, false); err == nil || !strings.HasPrefix(err.Error(), p+":3: unknown key metrics.bogus") {
		t.Fatalf("bad default file: %v", err)
	}
}
