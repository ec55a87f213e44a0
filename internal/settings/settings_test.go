package settings

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "settings.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGoodFile(t *testing.T) {
	p := write(t, "# appliance settings\n[metrics]\nlisten = \"127.0.0.1:9773\"   # local only\npath = \"/prom\"\n")
	s, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if s.File != p || s.Metrics.Listen != "127.0.0.1:9773" || s.Metrics.Path != "/prom" || !s.Metrics.Enabled() {
		t.Fatalf("got %+v", s)
	}
}

func TestDefaultsAndEmptyTable(t *testing.T) {
	for _, body := range []string{"", "[metrics]\n", "[metrics]\nlisten = \"\"\n"} {
		s, err := Load(write(t, body))
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		if s.Metrics.Enabled() || s.Metrics.Path != "/metrics" {
			t.Errorf("%q: got %+v, want metrics off at /metrics", body, s.Metrics)
		}
	}
	s, err := Load(write(t, "[metrics]\nlisten = \":9773\"\n"))
	if err != nil || s.Metrics.Listen != ":9773" || s.Metrics.Path != "/metrics" {
		t.Fatalf("listen on every address: %+v %v", s, err)
	}
}

func TestHeartbeat(t *testing.T) {
	for body, want := range map[string]bool{
		"":              false,
		"[heartbeat]\n": false,
		"[heartbeat]\naccept_any_auth_index = false\n": false,
		"[heartbeat]\naccept_any_auth_index = true\n":  true,
	} {
		s, err := Load(write(t, body))
		if err != nil || s.Heartbeat.AcceptAnyAuthIndex != want {
			t.Errorf("%q: %+v %v, want accept_any_auth_index %v", body, s, err, want)
		}
	}
	if Defaults().Heartbeat.AcceptAnyAuthIndex {
		t.Errorf("default accepts any auth index")
	}
}

func TestScriptTimeout(t *testing.T) {
	for body, want := range map[string]time.Duration{
		"":                                       DefaultScriptTimeout,
		"[heartbeat]\n":                          DefaultScriptTimeout,
		"[heartbeat]\nscript_timeout = \"3s\"\n": 3 * time.Second,
		"[heartbeat]\nscript_timeout = \"1h\"\n": time.Hour,
	} {
		s, err := Load(write(t, body))
		if err != nil || s.Heartbeat.ScriptTimeout.D() != want {
			t.Errorf("%q: %+v %v, want script_timeout %v", body, s, err, want)
		}
	}
	if Defaults().Heartbeat.ScriptTimeout.D() != 2*time.Minute {
		t.Errorf("default script_timeout %v, want 2m as heartbeat's ResourceManager", Defaults().Heartbeat.ScriptTimeout)
	}
}

func TestMissingFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.toml")
	s, err := LoadDefault(missing)
	if err != nil {
		t.Fatalf("missing default file: %v", err)
	}
	if s.Metrics.Enabled() || s.File != "" {
		t.Fatalf("missing default file: got %+v, want defaults", s)
	}
	_, err = Load(missing)
	var se *Error
	if !errors.As(err, &se) || se.File != missing || !strings.Contains(err.Error(), missing+": cannot read: no such file") {
		t.Fatalf("missing explicit file: %v", err)
	}
}

func TestFromEnv(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.WriteFile("s.toml", []byte("[metrics]\nlisten = \"127.0.0.1:1\"\n"), 0o644)
	t.Setenv(EnvVar, "s.toml")
	s, p, err := FromEnv()
	if err != nil || p != filepath.Join(dir, "s.toml") || s.Metrics.Listen != "127.0.0.1:1" {
		t.Fatalf("FromEnv: %+v %q %v", s, p, err)
	}
	t.Setenv(EnvVar, filepath.Join(dir, "gone.toml"))
	if _, _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), "gone.toml: cannot read") {
		t.Fatalf("missing file named by %s: %v", EnvVar, err)
	}
}

// Every error names the file and the line.
func TestErrors(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"unknown key", "[metrics]\nlisten = \"127.0.0.1:9773\"\nport = 9773\n", ":3: unknown key metrics.port"},
		{"unknown table", "\n[metrics]\n\n[logging]\nlevel = \"debug\"\n", ":4: unknown key logging"},
		{"unknown top-level key", "# x\nmetric = 1\n[metrics]\n", ":2: unknown key metric"},
		{"unknown dotted key", "[metrics]\nlisten = \"\"\ntls.cert = \"x\"\n", ":3: unknown key metrics.tls"},
		{"first unknown key in file order", "[metrics]\nzz = 1\naa = 2\n", ":2: unknown key metrics.zz (and 1 more)"},
		{"syntax error", "[metrics]\nlisten = \"127.0.0.1:9773\"\npath = /metrics\n", ":3: "},
		{"unterminated string", "[metrics]\n\nlisten = \"127.0.0.1:9773\n", ":3: "},
		{"duplicate key", "[metrics]\nlisten = \"a:1\"\nlisten = \"b:2\"\n", ":3: "},
		{"wrong type", "[metrics]\n\nlisten = 9773\n", ":3: metrics.listen: "},
		{"bad listen: no port", "[metrics]\nlisten = \"127.0.0.1\"\n", ":2: metrics.listen: \"127.0.0.1\" is not host:port"},
		{"bad listen: port", "[metrics]\npath = \"/m\"\nlisten = \"127.0.0.1:http\"\n", ":3: metrics.listen: \"127.0.0.1:http\": port \"http\" is not a number"},
		{"bad listen: port range", "[metrics]\nlisten = \"127.0.0.1:65536\"\n", ":2: metrics.listen: "},
		{"bad listen: port zero", "[metrics]\nlisten = \"127.0.0.1:0\"\n", ":2: metrics.listen: "},
		{"bad listen: host", "[metrics]\nlisten = \"not a host:80\"\n", ":2: metrics.listen: \"not a host:80\": \"not a host\" is neither"},
		{"bad listen: bracketed name", "[metrics]\nlisten = \"[localhost]:80\"\n", ":2: metrics.listen: "},
		{"bad path", "[metrics]\nlisten = \":1\"\npath = \"metrics\"\n", ":3: metrics.path: \"metrics\" is not an absolute URL path"},
		{"heartbeat: wrong type", "[heartbeat]\naccept_any_auth_index = \"yes\"\n", ":2: heartbeat.accept_any_auth_index: "},
		{"heartbeat: unknown key", "[heartbeat]\naccept_any_auth_index = true\nstrict = false\n", ":3: unknown key heartbeat.strict"},
		{"script_timeout too short", "[heartbeat]\nscript_timeout = \"500ms\"\n", ":2: heartbeat.script_timeout: 500ms is out of range (1s to 1h)"},
		{"script_timeout too long", "[heartbeat]\n\nscript_timeout = \"2h\"\n", ":3: heartbeat.script_timeout: 2h0m0s is out of range"},
		{"script_timeout not a duration", "[heartbeat]\nscript_timeout = \"soon\"\n", ":2: heartbeat.script_timeout: "},
		{"inline table", "metrics = { listen = \"x\" }\n", ":1: metrics.listen: \"x\" is not host:port"},
	}
	for _, c := range cases {
		p := write(t, c.body)
		_, err := Load(p)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		var se *Error
		if !errors.As(err, &se) || se.File != p || se.Line == 0 {
			t.Errorf("%s: %v: want a *settings.Error with file and line", c.name, err)
		}
		if !strings.HasPrefix(err.Error(), p+c.want) {
			t.Errorf("%s: got %q, want %q", c.name, err, p+c.want+"...")
		}
	}
}

func TestGoodListen(t *testing.T) {
	for _, l := range []string{"127.0.0.1:9773", "[::1]:9773", ":9773", "0.0.0.0:1", "localhost:65535", "director-1.example.org:9773"} {
		if err := checkListen(l); err != nil {
			t.Errorf("%s: %v", l, err)
		}
	}
}

func TestKeyLine(t *testing.T) {
	doc := `# comment [metrics]
top = 1
text = """
[metrics]
listen = "in a string"
"""
["metrics"]   # quoted
path = "/m" # x = 1
'listen' = ":1"
[a.b]
c.d = 2
`
	cases := map[string]int{"top": 2, "text": 3, "metrics": 7, "metrics.path": 8, "metrics.listen": 9,
		"a": 10, "a.b.c": 11, "a.b.c.d": 11, "a.b.c.d.e": 11, "metrics.other": 7, "nothing": 0}
	for k, want := range cases {
		if got := keyLine([]byte(doc), toml.Key(strings.Split(k, "."))); got != want {
			t.Errorf("%s: line %d, want %d", k, got, want)
		}
	}
}
