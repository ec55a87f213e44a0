package metrics

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lvsdirector/director/director"
	"github.com/lvsdirector/director/failover/control"
	"github.com/lvsdirector/director/healthcheck"
	"github.com/lvsdirector/director/ipvs"
)

type fakeDirector struct {
	snap     []director.VirtualStatus
	stats    healthcheck.Stats
	counters []director.VirtualCounters
	countErr error
}

func (f *fakeDirector) Counters(context.Context) ([]director.VirtualCounters, error) {
	return f.counters, f.countErr
}

func (f *fakeDirector) Snapshot() []director.VirtualStatus { return f.snap }
func (f *fakeDirector) CheckStats() healthcheck.Stats      { return f.stats }

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func directors(ds ...Director) func() []Director { return func() []Director { return ds } }

const directorHelp = `# HELP lvs_check_lateness_seconds How late checks started against their schedule: quantiles over the most recent check starts (up to 4096 per director).
# TYPE lvs_check_lateness_seconds gauge
# HELP lvs_checks_total Health checks run since the director started.
# TYPE lvs_checks_total counter
# HELP lvs_real_drained 1 while an operator drains the real server (directorctl drain: weight 0, its connections go on), else 0.
# TYPE lvs_real_drained gauge
# HELP lvs_real_up Health of a real server as the director judges it: 1 up, 0 down (the fallback server is not a real).
# TYPE lvs_real_up gauge
# HELP lvs_real_weight Weight of a real server in the kernel IPVS table (0 = quiesced); no series while the real is not in the table.
# TYPE lvs_real_weight gauge
# HELP lvs_virtual_fallback_active 1 while the virtual service's fallback server is in the kernel table (no real is up), else 0.
# TYPE lvs_virtual_fallback_active gauge
# HELP lvs_virtual_reals Real servers configured for a virtual service.
# TYPE lvs_virtual_reals gauge
# HELP lvs_virtual_reals_up Real servers of a virtual service that are up.
# TYPE lvs_virtual_reals_up gauge
`

func TestDirectorMetrics(t *testing.T) {
	var late []time.Duration
	for i := 100; i >= 1; i-- { // a ring: not in order
		late = append(late, ms(i))
	}
	a := &fakeDirector{
		snap: []director.VirtualStatus{
			{ID: "tcp:10.0.0.100:80", Scheduler: "rr", Reals: []director.RealStatus{
				{Addr: "10.0.1.11:80", Weight: 1, Up: true},
				{Addr: "10.0.1.12:80", Weight: 0, LastErr: "404", Drained: true},
				{Addr: "10.0.1.13:80", Weight: -1},
			}},
			{ID: "tcp:10.0.0.101:80", Scheduler: "wlc", Reals: []director.RealStatus{
				{Addr: "10.0.1.11:80", Weight: -1},
				{Addr: "127.0.0.1:80", Weight: 1, Up: true, Fallback: true},
			}},
		},
		stats: healthcheck.Stats{Runs: 42, Lateness: late},
	}
	// A second director (directord with two ldirectord:: groups): its
	// checks add up; a virtual the first one reports is not reported twice.
	b := &fakeDirector{
		snap: []director.VirtualStatus{
			{ID: "tcp:10.0.0.101:80", Reals: []director.RealStatus{{Addr: "10.0.1.99:80", Weight: 5, Up: true}}},
			{ID: "fwm:7", Reals: []director.RealStatus{{Addr: "[2001:db8::1]:0", Weight: 3, Up: true}}},
		},
		stats: healthcheck.Stats{Runs: 8},
	}
	want := directorHelp + `lvs_check_lateness_seconds{quantile="0.5"} 0.05
lvs_check_lateness_seconds{quantile="0.99"} 0.099
lvs_checks_total 50
lvs_real_drained{real="10.0.1.11:80",virtual="tcp:10.0.0.100:80"} 0
lvs_real_drained{real="10.0.1.11:80",virtual="tcp:10.0.0.101:80"} 0
lvs_real_drained{real="10.0.1.12:80",virtual="tcp:10.0.0.100:80"} 1
lvs_real_drained{real="10.0.1.13:80",virtual="tcp:10.0.0.100:80"} 0
lvs_real_drained{real="[2001:db8::1]:0",virtual="fwm:7"} 0
lvs_real_up{real="10.0.1.11:80",virtual="tcp:10.0.0.100:80"} 1
lvs_real_up{real="10.0.1.12:80",virtual="tcp:10.0.0.100:80"} 0
lvs_real_up{real="10.0.1.13:80",virtual="tcp:10.0.0.100:80"} 0
lvs_real_up{real="10.0.1.11:80",virtual="tcp:10.0.0.101:80"} 0
lvs_real_up{real="[2001:db8::1]:0",virtual="fwm:7"} 1
lvs_real_weight{real="10.0.1.11:80",virtual="tcp:10.0.0.100:80"} 1
lvs_real_weight{real="10.0.1.12:80",virtual="tcp:10.0.0.100:80"} 0
lvs_real_weight{real="[2001:db8::1]:0",virtual="fwm:7"} 3
lvs_virtual_fallback_active{virtual="tcp:10.0.0.100:80"} 0
lvs_virtual_fallback_active{virtual="tcp:10.0.0.101:80"} 1
lvs_virtual_fallback_active{virtual="fwm:7"} 0
lvs_virtual_reals{virtual="tcp:10.0.0.100:80"} 3
lvs_virtual_reals{virtual="tcp:10.0.0.101:80"} 1
lvs_virtual_reals{virtual="fwm:7"} 1
lvs_virtual_reals_up{virtual="tcp:10.0.0.100:80"} 1
lvs_virtual_reals_up{virtual="tcp:10.0.0.101:80"} 0
lvs_virtual_reals_up{virtual="fwm:7"} 1
`
	c := NewCollector(Sources{Directors: directors(a, b)})
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

// A director that has not checked anything yet: no lateness series, a zero
// counter; no director at all: no director metrics.
func TestDirectorMetricsEmpty(t *testing.T) {
	c := NewCollector(Sources{Directors: directors(&fakeDirector{})})
	want := `# HELP lvs_checks_total Health checks run since the director started.
# TYPE lvs_checks_total counter
lvs_checks_total 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Collector{NewCollector(Sources{}), NewCollector(Sources{Directors: directors()})} {
		if n := testutil.CollectAndCount(c); n != 0 {
			t.Errorf("%d metrics without a director", n)
		}
	}
}

const failoverHelp = `# HELP lvs_ha_comm_up 1 once cluster communication has started (heartbeat's initdead is over), else 0.
# TYPE lvs_ha_comm_up gauge
# HELP lvs_ha_group_held 1 while this node holds the haresources group (named by its first resource), else 0.
# TYPE lvs_ha_group_held gauge
# HELP lvs_ha_group_stop_failures Failed stops in a row of the haresources group: while above 0 the group stays held here and its stop is retried; 0 once a stop or start succeeds.
# TYPE lvs_ha_group_stop_failures gauge
# HELP lvs_ha_link_up Heartbeat link (medium) to a node: 1 up, 0 dead.
# TYPE lvs_ha_link_up gauge
# HELP lvs_ha_node_state Status of a cluster or ping node as this node sees it: 1 for the current status, 0 for the others.
# TYPE lvs_ha_node_state gauge
# HELP lvs_ha_resources Which resources this node holds (none, local, foreign, all, transition): 1 for the current value.
# TYPE lvs_ha_resources gauge
`

func TestFailoverMetrics(t *testing.T) {
	st := &control.Status{Node: "a", CommUp: true, Resources: "local",
		Nodes: []control.Node{
			{Name: "b", State: "active", Links: map[string]string{"eth1": "dead", "eth0": "up"}},
			{Name: "10.0.0.1", State: "ping"},
			{Name: "c", State: "shiny"},
		},
		Groups: []control.Group{{Key: "10.0.0.100/24/eth0", Held: true, StopFailures: 3}, {Key: "10.0.0.200", Held: false}},
	}
	var asked int
	c := NewCollector(Sources{Failover: FailoverFunc(func(ctx context.Context) (*control.Status, error) {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("no deadline on the status call")
		}
		asked++
		return st, nil
	})})
	want := failoverHelp + `lvs_ha_comm_up 1
lvs_ha_group_held{group="10.0.0.100/24/eth0"} 1
lvs_ha_group_held{group="10.0.0.200"} 0
lvs_ha_group_stop_failures{group="10.0.0.100/24/eth0"} 3
lvs_ha_group_stop_failures{group="10.0.0.200"} 0
lvs_ha_link_up{link="eth0",node="b"} 1
lvs_ha_link_up{link="eth1",node="b"} 0
lvs_ha_node_state{node="10.0.0.1",state="active"} 0
lvs_ha_node_state{node="10.0.0.1",state="dead"} 0
lvs_ha_node_state{node="10.0.0.1",state="init"} 0
lvs_ha_node_state{node="10.0.0.1",state="ping"} 1
lvs_ha_node_state{node="10.0.0.1",state="up"} 0
lvs_ha_node_state{node="b",state="active"} 1
lvs_ha_node_state{node="b",state="dead"} 0
lvs_ha_node_state{node="b",state="init"} 0
lvs_ha_node_state{node="b",state="ping"} 0
lvs_ha_node_state{node="b",state="up"} 0
lvs_ha_node_state{node="c",state="active"} 0
lvs_ha_node_state{node="c",state="dead"} 0
lvs_ha_node_state{node="c",state="init"} 0
lvs_ha_node_state{node="c",state="ping"} 0
lvs_ha_node_state{node="c",state="shiny"} 1
lvs_ha_node_state{node="c",state="up"} 0
lvs_ha_resources{state="all"} 0
lvs_ha_resources{state="foreign"} 0
lvs_ha_resources{state="local"} 1
lvs_ha_resources{state="none"} 0
lvs_ha_resources{state="transition"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if asked != 1 {
		t.Errorf("status asked %d times for one scrape", asked)
	}
	// Before initdead ends: comm down, nothing held.
	st.CommUp, st.Resources, st.Groups[0].Held = false, "none", false
	want = `# HELP lvs_ha_comm_up 1 once cluster communication has started (heartbeat's initdead is over), else 0.
# TYPE lvs_ha_comm_up gauge
lvs_ha_comm_up 0
# HELP lvs_ha_group_held 1 while this node holds the haresources group (named by its first resource), else 0.
# TYPE lvs_ha_group_held gauge
lvs_ha_group_held{group="10.0.0.100/24/eth0"} 0
lvs_ha_group_held{group="10.0.0.200"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "lvs_ha_comm_up", "lvs_ha_group_held"); err != nil {
		t.Fatal(err)
	}
}

// A status that cannot be had (the daemon is busy or stopping) leaves the
// HA metrics out of the scrape and is logged; the rest is still served.
func TestFailoverError(t *testing.T) {
	var logged bytes.Buffer
	c := NewCollector(Sources{
		Directors: directors(&fakeDirector{stats: healthcheck.Stats{Runs: 3}}),
		Failover: FailoverFunc(func(ctx context.Context) (*control.Status, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}),
		Timeout: 20 * time.Millisecond,
		Log:     slog.New(slog.NewTextHandler(&logged, nil)),
	})
	want := `# HELP lvs_checks_total Health checks run since the director started.
# TYPE lvs_checks_total counter
lvs_checks_total 3
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logged.String(), "no failover status") || !strings.Contains(logged.String(), "deadline exceeded") {
		t.Errorf("log: %q", logged.String())
	}
}

func TestQuantile(t *testing.T) {
	cases := []struct {
		samples []time.Duration
		q       float64
		want    time.Duration
	}{
		{nil, 0.5, 0},
		{[]time.Duration{ms(7)}, 0.99, ms(7)},
		{[]time.Duration{ms(4), ms(1), ms(3), ms(2)}, 0.5, ms(2)},
		{[]time.Duration{ms(4), ms(1), ms(3), ms(2)}, 0.99, ms(4)},
		{[]time.Duration{ms(4), ms(1), ms(3), ms(2)}, 0, ms(1)},
		{[]time.Duration{ms(4), ms(1), ms(3), ms(2)}, 1, ms(4)},
	}
	for _, c := range cases {
		if got := Quantile(c.samples, c.q); got != c.want {
			t.Errorf("Quantile(%v, %v) = %v, want %v", c.samples, c.q, got, c.want)
		}
	}
}

func TestRegistryHasStandardCollectors(t *testing.T) {
	reg := NewRegistry(Sources{Directors: directors(&fakeDirector{})})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total", "process_open_fds", "lvs_checks_total"} {
		if !names[n] {
			t.Errorf("no %s in the registry", n)
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitGoroutines waits for the goroutine count to come back to n.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > n {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines left, want %d:\n%s", g, n, buf[:runtime.Stack(buf, true)])
	}
}

func TestServeScrapesAndStops(t *testing.T) {
	http.DefaultClient.CloseIdleConnections()
	base := runtime.NumGoroutine()
	reg := NewRegistry(Sources{Directors: directors(&fakeDirector{snap: []director.VirtualStatus{
		{ID: "tcp:10.0.0.100:80", Reals: []director.RealStatus{{Addr: "10.0.1.11:80", Weight: 2, Up: true}}}}})})
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeListener(ctx, ln, "/lvs", reg, http.NotFoundHandler()) }()

	code, body := get(t, url+"/lvs")
	if code != 200 {
		t.Fatalf("GET /lvs: %d %s", code, body)
	}
	for _, line := range []string{
		`lvs_real_up{real="10.0.1.11:80",virtual="tcp:10.0.0.100:80"} 1`,
		`lvs_real_weight{real="10.0.1.11:80",virtual="tcp:10.0.0.100:80"} 2`,
		"\ngo_goroutines ",
		"\nprocess_start_time_seconds ",
	} {
		if !strings.Contains(body, line) {
			t.Errorf("scrape lacks %q", line)
		}
	}
	if code, _ := get(t, url+"/metrics"); code != 404 {
		t.Errorf("GET /metrics (not the configured path): %d, want 404", code)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := http.Get(url + "/lvs"); err == nil {
		t.Error("still serving after Serve returned")
	}
	http.DefaultClient.CloseIdleConnections()
	waitGoroutines(t, base)
}

func TestServeListenErrors(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, addr := range []string{taken.Addr().String(), "192.0.2.1:bad", "256.0.0.1:9773"} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := Serve(ctx, addr, "/metrics", NewRegistry(Sources{}))
		cancel()
		if err == nil || !strings.Contains(err.Error(), "metrics: cannot listen on "+addr) {
			t.Errorf("Serve(%s): %v, want a listen error", addr, err)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Serve(%s) waited for ctx", addr)
		}
	}
}

// Serve by address: it listens, serves, and returns nil once ctx is done.
func TestServeByAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, addr, "/metrics", NewRegistry(Sources{})) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never served: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestSyncMetrics(t *testing.T) {
	st := &control.Status{Node: "a", Resources: "local", Sync: &control.SyncStatus{Interface: "eth1", SyncID: 7,
		Daemons: []control.SyncDaemon{{State: "backup", Interface: "eth1", SyncID: 7}}, Connections: 42}}
	c := NewCollector(Sources{Failover: FailoverFunc(func(context.Context) (*control.Status, error) { return st, nil })})
	want := `# HELP lvs_connections Entries in the IPVS connection table (ipvsadm -Lnc), synced ones included; only with connection sync on.
# TYPE lvs_connections gauge
lvs_connections 42
# HELP lvs_sync_daemon IPVS connection sync daemon (ipvsadm -L --daemon): 1 running, 0 not running (with the configured interface and id).
# TYPE lvs_sync_daemon gauge
lvs_sync_daemon{interface="eth1",state="backup",syncid="7"} 1
lvs_sync_daemon{interface="eth1",state="master",syncid="7"} 0
# HELP lvs_sync_settled 1 once the backup sync daemon has had the peer's connections long enough for a failback, else 0.
# TYPE lvs_sync_settled gauge
lvs_sync_settled 0
`
	names := []string{"lvs_connections", "lvs_sync_daemon", "lvs_sync_settled"}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	// The group taken: the master runs too.
	st.Sync.Daemons = append(st.Sync.Daemons, control.SyncDaemon{State: "master", Interface: "eth1", SyncID: 7})
	st.Sync.Settled = true
	want = strings.Replace(want, `state="master",syncid="7"} 0`, `state="master",syncid="7"} 1`, 1)
	want = strings.Replace(want, "lvs_sync_settled 0", "lvs_sync_settled 1", 1)
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	// Sync off: no series.
	st.Sync = nil
	if n := testutil.CollectAndCount(c, names...); n != 0 {
		t.Errorf("sync off: %d series", n)
	}
}

// The kernel's counters, read at scrape time, under node_exporter's IPVS
// names and labels; a virtual two directors report is counted once, and a
// director whose read fails is left out.
func TestIPVSCounterMetrics(t *testing.T) {
	web := ipvs.ServiceKey{Family: ipvs.INET, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("10.0.0.100"), Port: 80}
	a := &fakeDirector{counters: []director.VirtualCounters{
		{Service: ipvs.Service{ServiceKey: web, Stats: ipvs.Stats{Connections: 7, PacketsIn: 42, PacketsOut: 35, BytesIn: 2788, BytesOut: 3563}},
			Dests: []ipvs.Destination{{DestKey: ipvs.DestKey{Addr: netip.MustParseAddr("10.0.1.11"), Port: 80}, Weight: 2,
				ActiveConns: 1, InactiveConns: 3, Stats: ipvs.Stats{Connections: 4, BytesOut: 2036}}}},
		{Service: ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.INET, FWMark: 7}, Stats: ipvs.Stats{Connections: 1}}},
	}}
	b := &fakeDirector{counters: a.counters[:1]}
	bad := &fakeDirector{countErr: errors.New("netlink: timeout")}
	names := []string{"lvs_ipvs_connections_total", "lvs_ipvs_incoming_packets_total", "lvs_ipvs_outgoing_bytes_total",
		"lvs_ipvs_backend_connections_active", "lvs_ipvs_backend_connections_inactive", "lvs_ipvs_backend_weight",
		"lvs_ipvs_backend_connections_total", "lvs_ipvs_backend_outgoing_bytes_total"}
	want := `# HELP lvs_ipvs_backend_connections_active Active connections to the real server (ipvsadm ActiveConn).
# TYPE lvs_ipvs_backend_connections_active gauge
lvs_ipvs_backend_connections_active{local_address="10.0.0.100",local_mark="",local_port="80",proto="TCP",remote_address="10.0.1.11",remote_port="80"} 1
# HELP lvs_ipvs_backend_connections_inactive Inactive connections to the real server (ipvsadm InActConn).
# TYPE lvs_ipvs_backend_connections_inactive gauge
lvs_ipvs_backend_connections_inactive{local_address="10.0.0.100",local_mark="",local_port="80",proto="TCP",remote_address="10.0.1.11",remote_port="80"} 3
# HELP lvs_ipvs_backend_connections_total Connections scheduled to the real server (ipvsadm --stats Conns of the real).
# TYPE lvs_ipvs_backend_connections_total counter
lvs_ipvs_backend_connections_total{local_address="10.0.0.100",local_mark="",local_port="80",proto="TCP",remote_address="10.0.1.11",remote_port="80"} 4
# HELP lvs_ipvs_backend_outgoing_bytes_total Bytes out of the real server through the director (ipvsadm --stats OutBytes of the real).
# TYPE lvs_ipvs_backend_outgoing_bytes_total counter
lvs_ipvs_backend_outgoing_bytes_total{local_address="10.0.0.100",local_mark="",local_port="80",proto="TCP",remote_address="10.0.1.11",remote_port="80"} 2036
# HELP lvs_ipvs_backend_weight Weight of the real server in the kernel.
# TYPE lvs_ipvs_backend_weight gauge
lvs_ipvs_backend_weight{local_address="10.0.0.100",local_mark="",local_port="80",proto="TCP",remote_address="10.0.1.11",remote_port="80"} 2
# HELP lvs_ipvs_connections_total Connections scheduled by the virtual service (ipvsadm --stats Conns).
# TYPE lvs_ipvs_connections_total counter
lvs_ipvs_connections_total{local_address="",local_mark="7",local_port="0",proto="FWM"} 1
lvs_ipvs_connections_total{local_address="10.0.0.100",local_mark="",local_port="80",proto="TCP"} 7
# HELP lvs_ipvs_incoming_packets_total Packets in to the virtual service (ipvsadm --stats InPkts).
# TYPE lvs_ipvs_incoming_packets_total counter
lvs_ipvs_incoming_packets_total{local_address="",local_mark="7",local_port="0",proto="FWM"} 0
lvs_ipvs_incoming_packets_total{local_address="10.0.0.100",local_mark="",local_port="80",proto="TCP"} 42
# HELP lvs_ipvs_outgoing_bytes_total Bytes out of the virtual service (ipvsadm --stats OutBytes).
# TYPE lvs_ipvs_outgoing_bytes_total counter
lvs_ipvs_outgoing_bytes_total{local_address="",local_mark="7",local_port="0",proto="FWM"} 0
lvs_ipvs_outgoing_bytes_total{local_address="10.0.0.100",local_mark="",local_port="80",proto="TCP"} 3563
`
	c := NewCollector(Sources{Directors: directors(bad, a, b), Log: slog.New(slog.DiscardHandler)})
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
}
