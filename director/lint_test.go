package director

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func lintOf(t *testing.T, src string) []string {
	t.Helper()
	var out []string
	for _, w := range Lint(ptParse(t, src)) {
		out = append(out, w.String())
	}
	return out
}

func TestLintCleanFileHasNoWarnings(t *testing.T) {
	got := lintOf(t, `checktimeout=3
checkinterval=5
virtual=10.0.0.100:80
	real=10.0.1.11:80 masq 1
	real=10.0.1.12:80 masq 1
	fallback=127.0.0.1:80
	service=http
	checktype=negotiate
`)
	if len(got) != 0 {
		t.Fatalf("warnings on a clean file: %q", got)
	}
}

func TestLintFindsMistakes(t *testing.T) {
	dir := t.TempDir()
	noexec := filepath.Join(dir, "check.sh")
	if err := os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := `callback="/nonexistent/cb"
maintenancedir=` + filepath.Join(dir, "nodir") + `
checkinterval=2
virtual=10.0.0.100:80
	real=10.0.1.11:80 masq 1
	real=10.0.1.12:80 masq 0
	checktype=negotiate
	negotiatetimeout=5
	service=http
virtual=10.0.0.100:81
	checktype=external
	checkcommand=` + noexec + `
	real=10.0.1.11:81 masq 1
virtual=10.0.0.100:82
	checktype=connect
virtual=10.0.0.100:83
	real=10.0.1.11:83 masq 0
`
	got := strings.Join(lintOf(t, src), "\n")
	for _, want := range []string{
		`:1: warning: callback "/nonexistent/cb": not found`,
		`:2: warning: maintenancedir`,
		`:10: warning: checkcommand "` + noexec + `": not executable`,
		`:14: warning: virtual tcp:10.0.0.100:82 has no real servers and no fallback`,
		`:17: warning: the only real of tcp:10.0.0.100:83 has weight 0`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}
