package director

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsdirector/director/ipvs"
)

// killPids ends the background processes whose pids a test script wrote to
// path, so that none outlives the test.
func killPids(t *testing.T, path string) {
	t.Cleanup(func() {
		b, _ := os.ReadFile(path)
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
}

// A line that leaves a process in the background ("sorry-server &") is done
// when the shell is: the background child keeps running, but holding the
// shell's stdout must not hold the caller.
func TestShellBackgroundChildDoesNotBlock(t *testing.T) {
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	killPids(t, pids)
	t0 := time.Now()
	if err := shell(context.Background(), "echo starting; sleep 5 & echo $! > "+pids); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("shell returned after %v: it waited for the background child", d)
	}
	b, err := os.ReadFile(pids)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		t.Fatalf("background child %q no longer runs: as with ldirectord's system(), it must be left alone", b)
	}
}

// A failing line reports its status and output.
func TestShellFailureReported(t *testing.T) {
	err := shell(context.Background(), "echo no sorry server >&2; exit 3")
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "no sorry server") {
		t.Fatalf("err = %v, want exit status 3 and the output", err)
	}
}

// The director's own loop goes on while a fallbackcommand's background
// child runs: a real that heals after "fb start" ran goes in at once, not
// when the child exits.
func TestFallbackCommandBackgroundChildDoesNotBlockReconcile(t *testing.T) {
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	killPids(t, pids)
	fb := filepath.Join(dir, "fb")
	body := fmt.Sprintf("#!/bin/sh\necho \"$@\" >> %s/runs\n[ \"$1\" = start ] && { sleep 8 & echo $! >> %s; }\nexit 0\n", dir, pids)
	if err := os.WriteFile(fb, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	f := newFarm(t, 1)
	f.set(0, true)
	v := f.virtual("10.0.0.100", false)
	v.FallbackCommand = fb
	m := ipvs.NewMemory()
	_, stop := run(t, &Config{Virtuals: []*Virtual{v}}, m, nil) // the real shell
	defer stop()
	waitTable(t, m, has("-> 127.0.0.1:80 gate 1"), "fallback while the real is down")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if b, _ := os.ReadFile(filepath.Join(dir, "runs")); strings.Contains(string(b), "start") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("fallbackcommand start never ran")
		}
	}
	t0 := time.Now()
	f.set(0, false)
	r0 := fmt.Sprintf("-> 127.0.0.1:%d masq 2", f.ports[0])
	waitTable(t, m, has(r0), "healed real in")
	if d := time.Since(t0); d > 3*time.Second {
		t.Fatalf("healed real went in after %v: reconcile waited for the fallbackcommand's background child", d)
	}
}
