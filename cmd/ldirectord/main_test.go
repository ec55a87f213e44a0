package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	rc := run(args, &out, &errb)
	return rc, out.String(), errb.String()
}

func TestExitCodesAndMessages(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LDIRECTORD_RUNDIR", dir)
	t.Setenv("LDIRECTORD_CONFDIR", filepath.Join(dir, "etc"))
	good := filepath.Join(dir, "good.cf")
	os.WriteFile(good, []byte("checkinterval=1\nvirtual=10.0.0.100:80\n\treal=10.0.1.11:80 masq\n"), 0o644)
	bad := filepath.Join(dir, "bad.cf")
	os.WriteFile(bad, []byte("checkinterval=1\nvirtual=10.0.0.100:80\n\treal=10.0.1.11:80 route\n"), 0o644)

	cases := []struct {
		args   []string
		rc     int
		stdout string
		stderr string
	}{
		{nil, 255, "", "Usage"},
		{[]string{good, "bogus"}, 255, "", "Unknown command"},
		{[]string{"-x", "status"}, 255, "", "Unknown option"},
		{[]string{filepath.Join(dir, "missing.cf"), "status"}, 1, "", "not found"},
		{[]string{bad, "status"}, 2, "", "reading file " + bad + " at line 3"},
		{[]string{bad, "start"}, 2, "", "at line 3"},
		{[]string{good, "status"}, 3, "ldirectord is stopped for " + good, ""},
		{[]string{good, "stop"}, 0, "", ""},
		{[]string{good, "reload"}, 1, "", "not running"},
		{[]string{good, "try-restart"}, 0, "", ""},
		{[]string{"-v"}, 0, "ldirectord", ""},
	}
	for _, c := range cases {
		rc, out, errs := runCLI(t, c.args...)
		if rc != c.rc || !strings.Contains(out, c.stdout) || !strings.Contains(errs, c.stderr) {
			t.Errorf("%v: rc %d stdout %q stderr %q; want rc %d, stdout ~%q, stderr ~%q", c.args, rc, out, errs, c.rc, c.stdout, c.stderr)
		}
	}
	// A stale pid file: status exits 1 and says so on stderr.
	os.WriteFile(filepath.Join(dir, "ldirectord.good.cf.pid"), []byte("999999\n"), 0o644)
	if rc, out, errs := runCLI(t, good, "status"); rc != 1 || !strings.Contains(errs, "stale pid file") || !strings.Contains(out, "stopped") {
		t.Errorf("stale: rc %d %q %q", rc, out, errs)
	}
	// Config lookup: the one-argument form reads ldirectord.cf in the conf dir.
	os.MkdirAll(filepath.Join(dir, "etc", "conf"), 0o755)
	os.WriteFile(filepath.Join(dir, "etc", "conf", "ldirectord.cf"), []byte("virtual=10.0.0.1:80\n\treal=10.0.1.1:80 masq\n"), 0o644)
	if rc, out, _ := runCLI(t, "status"); rc != 3 || !strings.Contains(out, filepath.Join(dir, "etc", "conf", "ldirectord.cf")) {
		t.Errorf("lookup in conf/: rc %d %q", rc, out)
	}
}

// Without the ip_vs module (as on the development machines) start fails
// with a clear message instead of hanging or panicking.
func TestStartWithoutIPVS(t *testing.T) {
	if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
		t.Skip("this kernel has IPVS; the VM tests cover start")
	}
	dir := t.TempDir()
	t.Setenv("LDIRECTORD_RUNDIR", dir)
	cf := filepath.Join(dir, "x.cf")
	os.WriteFile(cf, []byte("virtual=10.0.0.100:80\n\treal=10.0.1.11:80 masq\n"), 0o644)
	rc, _, errs := runCLI(t, "-d", cf, "start")
	if rc != 1 || !strings.Contains(errs, "IPVS is not available") || !strings.Contains(errs, "modprobe ip_vs") {
		t.Fatalf("rc %d stderr %q", rc, errs)
	}
}

// The settings file ($LVSDIRECTOR_SETTINGS, else the default path) is read
// by the commands that may start the daemon: a broken one stops them with
// exit 2 and its file:line, as a broken config does; the others ignore it.
func TestSettingsErrors(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LDIRECTORD_RUNDIR", dir)
	cf := filepath.Join(dir, "x.cf")
	os.WriteFile(cf, []byte("virtual=10.0.0.100:80\n\treal=10.0.1.11:80 masq\n"), 0o644)
	st := filepath.Join(dir, "settings.toml")
	os.WriteFile(st, []byte("[metrics]\nlisten = \"127.0.0.1:9773\"\nport = 1\n"), 0o644)
	t.Setenv("LVSDIRECTOR_SETTINGS", st)
	for _, cmd := range []string{"start", "restart", "try-restart"} {
		rc, _, errs := runCLI(t, "-d", cf, cmd)
		if rc != 2 || !strings.Contains(errs, "reading file "+st+" at line 3: unknown key metrics.port") {
			t.Errorf("%s with a broken settings file: rc %d stderr %q", cmd, rc, errs)
		}
	}
	if rc, out, errs := runCLI(t, cf, "status"); rc != 3 || !strings.Contains(out, "stopped") {
		t.Errorf("status with a broken settings file: rc %d %q %q", rc, out, errs)
	}
	os.WriteFile(st, []byte("[metrics]\nlisten = \"127.0.0.1\"\n"), 0o644)
	if rc, _, errs := runCLI(t, "-d", cf, "start"); rc != 2 || !strings.Contains(errs, "at line 2: metrics.listen") {
		t.Errorf("bad listen: rc %d stderr %q", rc, errs)
	}
	t.Setenv("LVSDIRECTOR_SETTINGS", filepath.Join(dir, "missing.toml"))
	if rc, _, errs := runCLI(t, "-d", cf, "start"); rc != 2 || !strings.Contains(errs, "missing.toml: cannot read") {
		t.Errorf("missing settings file named by LVSDIRECTOR_SETTINGS: rc %d stderr %q", rc, errs)
	}
}

// A metrics port that cannot be had stops the start with the reason.
func TestMetricsPortTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := t.TempDir()
	t.Setenv("LDIRECTORD_RUNDIR", dir)
	cf := filepath.Join(dir, "x.cf")
	os.WriteFile(cf, []byte("virtual=10.0.0.100:80\n\treal=10.0.1.11:80 masq\n"), 0o644)
	st := filepath.Join(dir, "settings.toml")
	os.WriteFile(st, []byte("[metrics]\nlisten = \""+taken.Addr().String()+"\"\n"), 0o644)
	t.Setenv("LVSDIRECTOR_SETTINGS", st)
	rc, _, errs := runCLI(t, "-d", cf, "start")
	if rc != 1 || !strings.Contains(errs, "metrics: cannot listen on "+taken.Addr().String()) {
		t.Fatalf("rc %d stderr %q", rc, errs)
	}
}

// An execute= cycle is refused before any command runs (ldirectord would
// run itself without end: 332 processes in 5 s under "status").
func TestExecuteCycleRefused(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LDIRECTORD_RUNDIR", dir)
	t.Setenv("LDIRECTORD_CONFDIR", dir)
	a := filepath.Join(dir, "a.cf")
	os.WriteFile(a, []byte("execute=b.cf\nvirtual=10.0.0.100:80\n\treal=10.0.1.11:80 masq\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.cf"), []byte("# b\nexecute=a.cf\nvirtual=10.0.0.101:80\n\treal=10.0.1.11:80 masq\n"), 0o644)
	for _, cmd := range []string{"status", "start", "stop", "reload"} {
		rc, _, errs := runCLI(t, a, cmd)
		if rc != 2 || !strings.Contains(errs, "reading file "+filepath.Join(dir, "b.cf")+" at line 2") || !strings.Contains(errs, "cycle") {
			t.Errorf("%s: rc %d stderr %q", cmd, rc, errs)
		}
	}
	// Nested runs are bounded even if the files changed under them.
	os.WriteFile(filepath.Join(dir, "b.cf"), []byte("virtual=10.0.0.101:80\n\treal=10.0.1.11:80 masq\n"), 0o644)
	t.Setenv(executeDepthEnv, "16")
	if rc, _, errs := runCLI(t, a, "status"); rc != 2 || !strings.Contains(errs, "nested 16 deep") {
		t.Errorf("depth bound: rc %d stderr %q", rc, errs)
	}
}

// A directory where the config should be is named as such, not "not found".
func TestConfigIsADirectory(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LDIRECTORD_RUNDIR", dir)
	t.Setenv("LDIRECTORD_CONFDIR", filepath.Join(dir, "etc"))
	cf := filepath.Join(dir, "d.cf")
	os.Mkdir(cf, 0o755)
	rc, _, errs := runCLI(t, cf, "status")
	if rc != 1 || !strings.Contains(errs, "is a directory") {
		t.Fatalf("rc %d stderr %q", rc, errs)
	}
	// Bytes from the command line are quoted, not echoed raw.
	rc, _, errs = runCLI(t, filepath.Join(dir, "no\x1b[2J.cf"), "status")
	if rc != 1 || strings.ContainsRune(errs, 0x1b) || !strings.Contains(errs, "not found") {
		t.Fatalf("rc %d stderr %q", rc, errs)
	}
}
