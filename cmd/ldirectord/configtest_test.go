package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ldirectord -t reads every file start would read and changes nothing:
// no pid file, no log file, whatever the result.
func TestConfigTest(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LDIRECTORD_RUNDIR", dir)
	t.Setenv("LDIRECTORD_CONFDIR", filepath.Join(dir, "etc"))
	t.Setenv("LVSDIRECTOR_SETTINGS", filepath.Join(dir, "none.toml")) // unset: defaults
	os.Unsetenv("LVSDIRECTOR_SETTINGS")
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.cf", "checkinterval=1\nvirtual=10.0.0.100:80\n\treal=10.0.1.11:80 masq\n")
	bad := write("bad.cf", "checkinterval=1\nvirtual=10.0.0.100:80\n\treal=10.0.1.11:80 route\n")
	warn := write("warn.cf", "checkinterval=1\nvirtual=10.0.0.100:80\n\tchecktype=connect\n")
	badChild := write("child.cf", "virtual=10.0.0.1:80\n\tbogus=1\n")
	parent := write("parent.cf", "execute="+badChild+"\nvirtual=10.0.0.100:80\n\treal=10.0.1.11:80 masq\n")
	missingChild := write("parent2.cf", "execute=nosuch.cf\nvirtual=10.0.0.100:80\n\treal=10.0.1.11:80 masq\n")
	brokenSettings := write("settings.toml", "[metrics]\nport = 1\n")

	cases := []struct {
		name     string
		args     []string
		settings string
		rc       int
		stdout   string
		stderr   string
	}{
		{"clean", []string{"-t", good}, "", 0, good + ": OK", ""},
		{"long option", []string{"--config-test", good}, "", 0, ": OK", ""},
		{"error at its line", []string{"-t", bad}, "", 3, "would not start", "reading file " + bad + " at line 3"},
		{"warning", []string{"-t", warn}, "", 4, "OK with 1 warning", warn + ":2: warning: virtual tcp:10.0.0.100:80 has no real servers"},
		{"execute= target read too", []string{"-t", parent}, "", 3, "1 error(s)", "reading file " + badChild + " at line 2"},
		{"execute= target missing", []string{"-t", missingChild}, "", 4, "warning", `execute=nosuch.cf: config file not found`},
		{"settings read too", []string{"-t", good}, brokenSettings, 3, "would not start", brokenSettings + " at line 2: unknown key metrics.port"},
		{"missing file", []string{"-t", filepath.Join(dir, "missing.cf")}, "", 3, "", "not found"},
		{"no command with -t", []string{"-t", good, "start"}, "", 255, "", "Usage"},
	}
	for _, c := range cases {
		if c.settings != "" {
			t.Setenv("LVSDIRECTOR_SETTINGS", c.settings)
		} else {
			os.Unsetenv("LVSDIRECTOR_SETTINGS")
		}
		rc, out, errs := runCLI(t, c.args...)
		if rc != c.rc || !strings.Contains(out, c.stdout) || !strings.Contains(errs, c.stderr) {
			t.Errorf("%s %v: rc %d stdout %q stderr %q; want rc %d, stdout ~%q, stderr ~%q", c.name, c.args, rc, out, errs, c.rc, c.stdout, c.stderr)
		}
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*.pid"))
	if len(left) != 0 {
		t.Errorf("-t left pid files: %v", left)
	}
}
