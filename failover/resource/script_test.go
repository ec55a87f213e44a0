package resource

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func writeScript(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// pidsOf returns the pids a test script wrote to path, and kills them when
// the test ends.
func pidsOf(t *testing.T, path string) []int {
	t.Helper()
	b, _ := os.ReadFile(path)
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
			t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
		}
	}
	return pids
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && len(b) > i+2 && b[i+2] != 'Z' && b[i+2] != 'X'
}

// An init script that starts its daemon in the background ("daemon &",
// stdout not redirected) has done its start when it exits; the daemon
// holding the script's stdout must not hold acquire.
func TestScriptBackgroundChildDoesNotHang(t *testing.T) {
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	writeScript(t, dir, "svc", `case "$1" in
start) sleep 5 & echo $! > `+pids+`; echo started ;;
status) sleep 5 & echo $! >> `+pids+`; echo running ;;
esac
`)
	s := &Script{Name: "svc", Dirs: []string{dir}}
	t0 := time.Now()
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("start returned after %v: it waited for the script's background child", d)
	}
	t0 = time.Now()
	if ok, err := s.Running(context.Background()); !ok || err != nil {
		t.Fatalf("status: %v %v, want running (its stdout is read up to the script's exit)", ok, err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("status returned after %v", d)
	}
	for _, pid := range pidsOf(t, pids) {
		if !alive(pid) {
			t.Errorf("background daemon %d was killed: a script's children are left running, as heartbeat does", pid)
		}
	}
}

// A script that hangs past its timeout is stopped with everything it
// started, even children that ignore SIGTERM, and the failure is reported.
func TestScriptTimeoutStopsItsGroup(t *testing.T) {
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	writeScript(t, dir, "svc", `trap "" TERM
sh -c 'trap "" TERM; while :; do sleep 0.1; done' &
echo $! > `+pids+`
while :; do sleep 0.1; done
`)
	s := &Script{Name: "svc", Dirs: []string{dir}, Timeout: 300 * time.Millisecond}
	t0 := time.Now()
	err := s.Stop(context.Background())
	d := time.Since(t0)
	if err == nil {
		t.Fatal("a hung stop reported success")
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 0 {
		t.Fatalf("err = %v", err)
	}
	// Timeout plus the SIGTERM grace, with a margin for a loaded box.
	if d > 300*time.Millisecond+scriptGrace+3*time.Second {
		t.Fatalf("stop returned after %v", d)
	}
	for _, pid := range pidsOf(t, pids) {
		for deadline := time.Now().Add(2 * time.Second); alive(pid); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("child %d that ignores SIGTERM still runs after the timeout", pid)
			}
		}
	}
}

// Exit statuses mean what they meant: start fails on non-zero, status
// follows ResourceManager's stdout rule and reads a non-zero exit without
// "running" as stopped.
func TestScriptExitStatus(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, dir, "svc", `case "$1" in
start) echo oops >&2; exit 7 ;;
status) echo stopped; exit 3 ;;
esac
`)
	s := &Script{Name: "svc", Dirs: []string{dir}}
	err := s.Start(context.Background())
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 || !strings.Contains(err.Error(), "oops") {
		t.Fatalf("start: %v, want exit status 7 and its stderr", err)
	}
	if ok, err := s.Running(context.Background()); ok || err != nil {
		t.Fatalf("status: %v %v, want not running, no error", ok, err)
	}
}
