package statuspage

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lvsdirector/director/director"
	"github.com/lvsdirector/director/failover/control"
	"github.com/lvsdirector/director/healthcheck"
	"github.com/lvsdirector/director/internal/metrics"
	"github.com/lvsdirector/director/ipvs"
)

type fakeDirector struct {
	snap     []director.VirtualStatus
	counters []director.VirtualCounters
	err      error
}

func (f *fakeDirector) Snapshot() []director.VirtualStatus { return f.snap }
func (f *fakeDirector) CheckStats() healthcheck.Stats      { return healthcheck.Stats{} }
func (f *fakeDirector) Counters(context.Context) ([]director.VirtualCounters, error) {
	return f.counters, f.err
}

var now = time.Date(2026, 12, 4, 3, 30, 0, 0, time.UTC)

func get(t *testing.T, h http.Handler, method, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestPageShowsThePairAndTheTable(t *testing.T) {
	web := ipvs.ServiceKey{Family: ipvs.INET, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("10.0.0.100"), Port: 80}
	d := &fakeDirector{
		snap: []director.VirtualStatus{{ID: web.String(), Scheduler: "wrr", Reals: []director.RealStatus{
			{Addr: "10.0.1.11:80", Weight: 1, Up: true, LastCheck: now.Add(-1500 * time.Millisecond)},
			{Addr: "10.0.1.12:80", Weight: 0, LastErr: `404 <script>alert(1)</script>`, LastCheck: now.Add(-2 * time.Second)},
			{Addr: "10.0.1.13:80", Weight: 0, Up: true, Drained: true},
		}}},
		counters: []director.VirtualCounters{{Service: ipvs.Service{ServiceKey: web}, Dests: []ipvs.Destination{
			{DestKey: ipvs.DestKey{Addr: netip.MustParseAddr("10.0.1.11"), Port: 80}, ActiveConns: 4, InactiveConns: 9}}}},
	}
	st := &control.Status{Node: "a", CommUp: true, Resources: "all",
		Nodes: []control.Node{{Name: "b", State: "dead", Links: map[string]string{"eth0": "dead", "eth1": "dead"}, LastHeard: now.Add(-90 * time.Second)},
			{Name: "10.0.0.254", State: "ping"}},
		Groups: []control.Group{{Key: "10.0.0.100/24/eth0", Held: true, Resources: []string{"10.0.0.100/24/eth0", "ldirectord::ldirectord.cf"},
			StopFailures: 2, StopError: "stuck", StopSince: now.Add(-time.Minute)}},
		Sync: &control.SyncStatus{Interface: "eth1", SyncID: 7, Connections: 12, Settled: true,
			Daemons: []control.SyncDaemon{{State: "master", Interface: "eth1", SyncID: 7}}}}
	h := Handler(Sources{Daemon: "directord", Directors: func() []metrics.Director { return []metrics.Director{d} },
		Failover: metrics.FailoverFunc(func(context.Context) (*control.Status, error) { return st, nil }),
		Now:      func() time.Time { return now }})
	res, body := get(t, h, "GET", "/")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("%d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	for _, want := range []string{
		`<meta http-equiv="refresh" content="5">`,
		`name="viewport"`,
		"Node <b>a</b>: communication <span class=\"ok\">up</span>, holding <b>all</b>",
		`<td>b</td><td class="bad">dead</td><td>eth0 <span class="bad">dead</span> eth1 <span class="bad">dead</span> </td><td>1 min ago</td>`,
		`<td>10.0.0.254</td><td class="ok">ping</td><td>–</td><td>never</td>`,
		"STOP FAILED 2 times in a row since 03:29:00, still held, retrying: stuck",
		"eth1 syncid 7, 12 connections, <span class=\"ok\">settled</span>",
		"tcp:10.0.0.100:80 <span class=\"meta\">wrr · 2 of 3 reals up",
		`<td>10.0.1.11:80</td><td class="ok">up</td><td>1</td><td>4</td><td>9</td><td>1.5 s ago</td>`,
		`<td>10.0.1.12:80</td><td class="bad">down</td><td>0</td><td>0</td><td>0</td><td>2.0 s ago<div class="err">404 &lt;script&gt;alert(1)&lt;/script&gt;</div>`,
		`<td>10.0.1.13:80</td><td class="warn">up, drained</td><td>0</td>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %q in\n%s", want, body)
		}
	}
	if strings.Contains(body, "<script>") {
		t.Error("a real's error reached the page unescaped")
	}
}

func TestPageWithoutPairOrDirector(t *testing.T) {
	bad := &fakeDirector{err: errors.New("netlink: timeout")}
	h := Handler(Sources{Daemon: "ldirectord", Directors: func() []metrics.Director { return []metrics.Director{bad} }, Log: slog.New(slog.DiscardHandler)})
	_, body := get(t, h, "GET", "/")
	if strings.Contains(body, "<h2>Pair</h2>") || !strings.Contains(body, "Kernel counters unavailable: netlink: timeout") {
		t.Errorf("page:\n%s", body)
	}
	h = Handler(Sources{Daemon: "directord", Failover: metrics.FailoverFunc(func(context.Context) (*control.Status, error) {
		return nil, errors.New("the daemon did not answer")
	})})
	_, body = get(t, h, "GET", "/")
	for _, want := range []string{"Failover status unavailable: the daemon did not answer", "No director runs here"} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %q in\n%s", want, body)
		}
	}
}

func TestPageIsReadOnlyAndOnlyAtTheRoot(t *testing.T) {
	h := Handler(Sources{Daemon: "ldirectord"})
	if res, _ := get(t, h, "POST", "/"); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", res.StatusCode)
	}
	if res, _ := get(t, h, "GET", "/admin"); res.StatusCode != http.StatusNotFound {
		t.Errorf("/admin: %d", res.StatusCode)
	}
	if res, _ := get(t, h, "HEAD", "/"); res.StatusCode != 200 {
		t.Errorf("HEAD: %d", res.StatusCode)
	}
}
