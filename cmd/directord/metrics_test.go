package main

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lvsdirector/director/failover/cluster"
	"github.com/lvsdirector/director/failover/control"
	"github.com/lvsdirector/director/failover/resource"
	"github.com/lvsdirector/director/internal/metrics"
	"github.com/lvsdirector/director/ipvs"
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

// The HA metrics come from the daemon's own status, taken on its goroutine,
// with the state its loop and worker produce: nothing here is set by the
// test. A runs alone (b never speaks): before initdead comm is down and
// nothing is held; after it b is dead, its link too, and A holds both
// groups (its own, and b's taken over): the director of the web group
// reports the table it wrote, and the db group's script ran.
func TestFailoverMetricsFromTheDaemon(t *testing.T) {
	dir := t.TempDir()
	cf := filepath.Join(dir, "ld.cf")
	os.WriteFile(cf, []byte("logfile=\"/dev/null\"\nvirtual=10.0.0.100:80\n\treal=10.0.1.11:80 masq 3\n\tchecktype=on\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "db"), []byte("#!/bin/sh\necho \"$1\" >> "+filepath.Join(dir, "db.ran")+"\n"), 0o755)
	table := ipvs.NewMemory()
	quiet := slog.New(slog.DiscardHandler)
	m, err := cluster.New(cluster.Config{Node: "a", Nodes: []string{"a", "b"}, Keepalive: 50 * time.Millisecond,
		Deadtime: 200 * time.Millisecond, Initdead: 600 * time.Millisecond, Generation: 1, Links: []string{"lo"},
		Groups: []cluster.Group{{Key: "10.0.0.100", Node: "a"}, {Key: "10.0.0.200", Node: "b"}}})
	if err != nil {
		t.Fatal(err)
	}
	set, keys := loopbackLink(t, 56951)
	d := &daemon{log: quiet, node: "a", m: m, media: set, keys: keys, ttl: 3,
		groups: map[string]*resource.Group{
			"10.0.0.100": {Key: "10.0.0.100", Log: quiet, Agents: []resource.Agent{&resource.Director{Path: cf, Log: quiet,
				Table: func() (ipvs.Table, error) { return table, nil }}}},
			"10.0.0.200": {Key: "10.0.0.200", Log: quiet, Agents: []resource.Agent{&resource.Script{Name: "db", Dirs: []string{dir}}}},
		},
		order: []string{"10.0.0.100", "10.0.0.200"}, jobs: make(chan job, 4), done: make(chan jobResult, 4),
		control: make(chan control.Request), pings: make(chan pingReport), reloads: make(chan reloadReq),
		nodes: map[string]string{}, links: map[string]map[string]bool{}, held: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- d.run(ctx) }()
	defer func() {
		cancel()
		if err := <-ran; err != nil {
			t.Error(err)
		}
	}()
	c := metrics.NewCollector(metrics.Sources{Directors: d.directors, Failover: metrics.FailoverFunc(d.failoverStatus)})
	value := func(series string) string {
		t.Helper()
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(c)
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				name := mf.GetName()
				var ls []string
				for _, l := range m.GetLabel() {
					ls = append(ls, l.GetName()+"=\""+l.GetValue()+"\"")
				}
				if len(ls) > 0 {
					name += "{" + strings.Join(ls, ",") + "}"
				}
				if name == series {
					return strconv.FormatFloat(m.GetGauge().GetValue(), 'g', -1, 64)
				}
			}
		}
		return "absent"
	}
	eventually := func(series, want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for value(series) != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s is %s, want %s", series, value(series), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// Before initdead (600 ms): comm down, nothing held, no director.
	for _, s := range []string{"lvs_ha_comm_up", `lvs_ha_group_held{group="10.0.0.100"}`, `lvs_ha_group_held{group="10.0.0.200"}`} {
		if v := value(s); v != "0" {
			t.Errorf("at start %s = %s, want 0", s, v)
		}
	}
	if n := len(d.directors()); n != 0 {
		t.Errorf("%d directors while no group is held", n)
	}
	// After it: b dead, its link dead, A holds both groups.
	eventually("lvs_ha_comm_up", "1")
	eventually(`lvs_ha_node_state{node="b",state="dead"}`, "1")
	eventually(`lvs_ha_link_up{link="lo",node="b"}`, "0")
	eventually(`lvs_ha_group_held{group="10.0.0.100"}`, "1")
	eventually(`lvs_ha_group_held{group="10.0.0.200"}`, "1")
	if v := value(`lvs_ha_node_state{node="b",state="active"}`); v != "0" {
		t.Errorf("b active = %s", v)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "db.ran")); err != nil || string(b) != "start\n" {
		t.Errorf("db script: %q %v", b, err)
	}
	// The director's metrics are the table it wrote.
	if n := len(d.directors()); n != 1 {
		t.Fatalf("%d directors with the web group held, want 1", n)
	}
	ds, err := table.Destinations(ctx, ipvs.ServiceKey{Family: ipvs.INET, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("10.0.0.100"), Port: 80})
	if err != nil || len(ds) != 1 {
		t.Fatalf("table: %v %v", ds, err)
	}
	eventually(`lvs_real_weight{real="10.0.1.11:80",virtual="tcp:10.0.0.100:80"}`, strconv.Itoa(int(ds[0].Weight)))
	eventually(`lvs_real_up{real="10.0.1.11:80",virtual="tcp:10.0.0.100:80"}`, "1")
	// And they agree with directorctl's status.
	st, err := d.failoverStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Nodes {
		if n.Name == "b" && n.State != "dead" {
			t.Errorf("status: b %s", n.State)
		}
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
