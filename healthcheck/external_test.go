package healthcheck

import (
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/lvsdirector/director/ipvs"
)

func externalSpec(t *testing.T, body string, timeout time.Duration) Spec {
	t.Helper()
	script := filepath.Join(t.TempDir(), "chk")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return Spec{Type: "external", Command: script, Addr: netip.MustParseAddr("10.0.1.11"), Port: 80,
		Virtual: ipvs.ServiceKey{Family: ipvs.INET, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("10.0.0.100"), Port: 80}, Timeout: timeout}
}

// A check program that writes without end ("yes") costs a bounded amount
// of memory and is stopped at the check's timeout.
func TestExternalOutputBounded(t *testing.T) {
	s := externalSpec(t, "exec yes\n", time.Second)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	err := check(t, s)
	d := time.Since(t0)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if d > s.deadline()+3*time.Second {
		t.Fatalf("check returned after %v", d)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
		t.Fatalf("the check allocated %d MiB for its output", got>>20)
	}
}

// The exit status decides, and the output's start is in the error.
func TestExternalExitStatusAndMessage(t *testing.T) {
	s := externalSpec(t, "echo 'no such page'; exit 2\n", time.Second)
	err := check(t, s)
	if err == nil || !strings.Contains(err.Error(), "exited 2 no such page") {
		t.Fatalf("err = %v", err)
	}
	s = externalSpec(t, "head -c 100000 /dev/zero | tr '\\0' x; exit 1\n", time.Second)
	if err := check(t, s); err == nil || len(err.Error()) > 400 {
		t.Fatalf("err = %.500v", err)
	}
}

// A check that leaves a child in the background is done when it exits.
func TestExternalBackgroundChild(t *testing.T) {
	s := externalSpec(t, "sleep 5 &\nexit 0\n", 4*time.Second)
	t0 := time.Now()
	if err := check(t, s); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("check returned after %v", d)
	}
}
