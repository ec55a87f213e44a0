package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsdirector/director/failover/haconf"
)

func TestLoggerDestinations(t *testing.T) {
	dir := t.TempDir()
	lf, df := filepath.Join(dir, "ha-log"), filepath.Join(dir, "ha-debug")
	log, closeLog := logger(&haconf.HACF{Logfile: lf, Debugfile: df}, false)
	log.Info("node up")
	log.Debug("packet dropped")
	closeLog()
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if s := read(lf); !strings.Contains(s, "node up") || strings.Contains(s, "packet dropped") {
		t.Errorf("logfile has info only, got:\n%s", s)
	}
	if s := read(df); !strings.Contains(s, "node up") || !strings.Contains(s, "packet dropped") {
		t.Errorf("debugfile has everything, got:\n%s", s)
	}

	same := filepath.Join(dir, "both")
	log, closeLog = logger(&haconf.HACF{Logfile: same, Debugfile: same}, false)
	log.Debug("once")
	closeLog()
	if s := read(same); strings.Count(s, "once") != 1 {
		t.Errorf("logfile = debugfile: want the record once, got:\n%s", s)
	}
}
