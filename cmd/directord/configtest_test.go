package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testHACF = "logfile /dev/null\nkeepalive 1\ndeadtime 10\nauto_failback on\nucast lo 127.0.0.2\nnode a\nnode b\n"

// directord -t reads ha.cf, authkeys, haresources, each ldirectord::CFG,
// the scripts and the settings; it says what is wrong at its file and
// line, hints at the fix, and exits 0, 3 (would not start) or 4
// (warnings). It writes nothing.
func TestConfigTest(t *testing.T) {
	cases := []struct {
		name     string
		files    map[string]string // under the ha.d dir; "" removes
		node     string
		settings string
		rc       int
		stdout   string
		stderr   []string
	}{
		{name: "clean", rc: 0, stdout: ": OK\n"},
		{name: "authkeys readable by others", files: map[string]string{"authkeys@0644": "auth 1\n1 sha1 k\n"},
			rc: 3, stdout: "1 error(s), 0 warning(s): directord would not start",
			stderr: []string{"Bad permissions on keyfile", "hint: chmod 600 "}},
		{name: "node name not uname -n", node: "c", rc: 3,
			stderr: []string{"ha.cf:7: local node c is not listed in the node directives (a b)", "hint: this node's name is uname -n (c)"}},
		{name: "haresources names a stranger", files: map[string]string{"haresources": "a 10.0.0.1\nx 10.0.0.2\n"}, rc: 3,
			stderr: []string{"haresources:2: Invalid node [x]", "hint: each haresources line starts with the node"}},
		{name: "ldirectord CFG missing", files: map[string]string{"haresources": "a ldirectord::nosuch.cf\n"}, rc: 3,
			stderr: []string{"haresources:1: ldirectord config nosuch.cf not found"}},
		{name: "ldirectord CFG broken", files: map[string]string{"haresources": "a ldirectord::l.cf\n", "l.cf": "virtual=10.0.0.1:80\n\treal=10.0.1.1:80 route\n\tbogus=1\n"}, rc: 3,
			stderr: []string{"at line 3"}},
		{name: "ldirectord CFG linted", files: map[string]string{"haresources": "a ldirectord::l.cf\n", "l.cf": "virtual=10.0.0.1:80\n\tchecktype=connect\n"}, rc: 4,
			stdout: "OK with 1 warning(s)", stderr: []string{"l.cf:1: warning: virtual tcp:10.0.0.1:80 has no real servers"}},
		{name: "script missing", files: map[string]string{"haresources": "a 10.0.0.1 nosuchscript::x\n"}, rc: 3,
			stderr: []string{"haresources:1: group 10.0.0.1: resource script nosuchscript not found in", "hint: a resource script must be executable"}},
		{name: "script found", files: map[string]string{"haresources": "a 10.0.0.1 myscript\n", "resource.d/myscript@0755": "#!/bin/sh\n"}, rc: 0},
		{name: "interface missing", files: map[string]string{"ha.cf": strings.Replace(testHACF, "ucast lo", "ucast nosuch0", 1)}, rc: 3,
			stderr: []string{"ha.cf:5: ucast: interface nosuch0: No such device"}}, // heartbeat 3.0.6 refuses it too
		{name: "ucast peer unresolvable", files: map[string]string{"ha.cf": strings.Replace(testHACF, "127.0.0.2", "nosuchhost.invalid", 1)}, rc: 3,
			stderr: []string{"ha.cf:5: ucast peer nosuchhost.invalid: cannot resolve", "hint: a ucast peer named by host name"}},
		{name: "ha.cf warnings", files: map[string]string{"ha.cf": strings.Replace(testHACF, "auto_failback on\n", "", 1)}, rc: 4,
			stderr: []string{"ha.cf: warning: Deprecated 'legacy' auto_failback"}},
		{name: "ha.cf missing", files: map[string]string{"ha.cf": ""}, rc: 3, stderr: []string{"ha.cf", "hint: directord reads "}},
		{name: "settings broken", settings: "[metrics]\nport = 1\n", rc: 3, stderr: []string{"settings.toml", "metrics.port"}},
		{name: "settings warn", settings: "[heartbeat]\naccept_any_auth_index = true\n", rc: 4, stderr: []string{"warning: ", "accept_any_auth_index = true"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{"ha.cf": testHACF, "authkeys@0600": "auth 1\n1 sha1 k\n", "haresources": "a 10.0.0.1\n"}
			for k, v := range c.files {
				name, _, _ := strings.Cut(k, "@")
				for old := range files {
					if o, _, _ := strings.Cut(old, "@"); o == name {
						delete(files, old)
					}
				}
				if v != "" {
					files[k] = v
				}
			}
			for k, v := range files {
				name, mode := k, os.FileMode(0o644)
				if n, m, ok := strings.Cut(k, "@"); ok {
					name = n
					if m == "0600" {
						mode = 0o600
					} else if m == "0755" {
						mode = 0o755
					}
				}
				p := filepath.Join(dir, name)
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, []byte(v), mode); err != nil {
					t.Fatal(err)
				}
				os.Chmod(p, mode)
			}
			o := startOptions{node: "a", haDir: dir, settingsPath: filepath.Join(dir, "none.toml")}
			if c.node != "" {
				o.node = c.node
			}
			if c.settings != "" {
				o.settingsPath, o.settingsGiven = filepath.Join(t.TempDir(), "settings.toml"), true
				os.WriteFile(o.settingsPath, []byte(c.settings), 0o644)
			}
			before, _ := os.ReadDir(dir)
			var out, errs bytes.Buffer
			rc := configTest(o, &out, &errs)
			if rc != c.rc || !strings.Contains(out.String(), c.stdout) || strings.Count(out.String(), "\n") != 1 {
				t.Errorf("rc %d stdout %q; want rc %d, one line ~%q\nstderr:\n%s", rc, out.String(), c.rc, c.stdout, errs.String())
			}
			for _, s := range c.stderr {
				if !strings.Contains(errs.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, errs.String())
				}
			}
			if c.rc == 0 && errs.Len() != 0 {
				t.Errorf("clean but stderr:\n%s", errs.String())
			}
			if after, _ := os.ReadDir(dir); len(after) != len(before) {
				t.Errorf("-t wrote into %s: %v -> %v", dir, before, after)
			}
		})
	}
}
