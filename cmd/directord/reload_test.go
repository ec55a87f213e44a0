package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lvsdirector/director/failover/haconf"
)

// haDir writes ha.cf (with extra lines), authkeys and haresources.
func haDir(t *testing.T, dir, extra, key, resources string) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	hacf := "logfile " + filepath.Join(dir, "ha.log") + "\nkeepalive 200ms\ndeadtime 1\nwarntime 600ms\ninitdead 3\nucast eth0 10.0.0.3\nnode a\nnode b\n" + extra
	for name, body := range map[string]string{"ha.cf": hacf, "authkeys": "auth 1\n1 sha1 " + key + "\n", "haresources": resources} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func load(t *testing.T, dir string) *haconf.Config {
	t.Helper()
	cfg, err := haconf.Load(dir, "a")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestPlanReload(t *testing.T) {
	dir := t.TempDir()
	haDir(t, dir, "", "one", "a 10.0.0.100\n")
	old := load(t, dir)
	if p := planReload(old, load(t, dir)); p.keys || p.timers || p.logs || len(p.restart) > 0 {
		t.Fatalf("the same files: %+v", p)
	}
	haDir(t, dir, "keepalive 500ms\ndeadtime 2\n", "two", "a 10.0.0.100\n")
	p := planReload(old, load(t, dir))
	if !p.keys || !p.timers || p.logs || len(p.restart) > 0 {
		t.Fatalf("keys and timers: %+v", p)
	}
	// A third node is allowed only without groups (two-node protocols).
	haDir(t, dir, "node c\nudpport 695\n", "one", "")
	p = planReload(old, load(t, dir))
	got := strings.Join(p.restart, "\n")
	for _, want := range []string{dir + "/ha.cf:9: node changed: needs a restart", dir + "/ha.cf:10: udpport changed",
		"haresources: resource groups changed"} {
		if !strings.Contains(got, want) {
			t.Errorf("restart list lacks %q:\n%s", want, got)
		}
	}
	if p.keys || p.timers {
		t.Errorf("%+v", p)
	}
	// What is applied moves; what needs a restart stays as running.
	haDir(t, dir, "keepalive 500ms\ndeadtime 2\nnode c\n", "two", "")
	n := load(t, dir)
	a := applied(old, n, planReload(old, n))
	if a.HA.Keepalive != n.HA.Keepalive || a.Keys != n.Keys || len(a.HA.Nodes) != 2 || old.HA.Keepalive == n.HA.Keepalive {
		t.Fatalf("applied: keepalive %v keys %v nodes %v", a.HA.Keepalive, a.Keys == n.Keys, a.HA.Nodes)
	}
}

// syncBuf is a log destination tests read.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// A SIGHUP with good files takes the new authkeys and timers on the
// daemon's loop; with a broken file it logs file:line and changes nothing.
func TestReloadTakesKeysAndTimersAndSurvivesABrokenFile(t *testing.T) {
	dir := t.TempDir()
	haDir(t, dir, "", "one", "a 10.0.0.100\n")
	cfg := load(t, dir)
	d := testDaemon(t)
	var out syncBuf
	d.log = slog.New(slog.NewTextHandler(&out, nil))
	d.keys = cfg.Keys
	d.reloads = make(chan reloadReq)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // the loop's part
		for {
			select {
			case r := <-d.reloads:
				d.takeReload(r)
			case <-ctx.Done():
				return
			}
		}
	}()
	logs, _ := newLogSwitch(cfg.HA, false)
	defer logs.Close()
	rl := &reloader{dir: dir, node: "a", cfg: cfg, logs: logs, log: d.log, d: d}

	haDir(t, dir, "keepalive 500ms\ndeadtime 2\n", "two", "a 10.0.0.100\n")
	rl.reload(ctx)
	if k, _ := d.keys.Lookup(1); k.Secret != "two" {
		t.Errorf("key after reload: %+v", k)
	}
	if !strings.Contains(out.String(), "timers now keepalive 500ms, deadtime 2s") {
		t.Errorf("the machine did not take the timers:\n%s", out.String())
	}
	if rl.cfg.HA.Keepalive.String() != "500ms" {
		t.Errorf("in force: keepalive %v", rl.cfg.HA.Keepalive)
	}

	os.WriteFile(filepath.Join(dir, "ha.cf"), []byte("keepalive 1\nnode a\nnode b\nbogus directive\n"), 0o600)
	before := d.keys
	rl.reload(ctx)
	if !strings.Contains(out.String(), "ha.cf:4") || !strings.Contains(out.String(), "configuration kept as it was") {
		t.Errorf("broken file not reported with file:line:\n%s", out.String())
	}
	if d.keys != before || rl.cfg.HA.Keepalive.String() != "500ms" {
		t.Errorf("a broken file changed something")
	}
}
