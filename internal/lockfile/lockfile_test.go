package lockfile

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestSecondAcquireRefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "d.lock")
	l, err := Acquire(p)
	if err != nil {
		t.Fatal(err)
	}
	// flock is per open file description: a second Acquire in this
	// process conflicts just as another process would.
	_, err = Acquire(p)
	var he *HeldError
	if !errors.As(err, &he) || he.PID != os.Getpid() || he.Path != p {
		t.Fatalf("second Acquire: %v, want held by pid %d", err, os.Getpid())
	}
	if want := p + " is held by pid " + strconv.Itoa(os.Getpid()); !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("%q, want %q...", err, want)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := Acquire(p)
	if err != nil {
		t.Fatalf("after Release: %v", err)
	}
	l2.Release()
}

// Another process: flock(1) holds the lock while this one tries.
func TestHeldByAnotherProcess(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("no flock(1)")
	}
	p := filepath.Join(t.TempDir(), "d.lock")
	os.WriteFile(p, []byte("4242\n"), 0o644)
	cmd := exec.Command("flock", "-x", p, "sh", "-c", "echo locked; read x")
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	buf := make([]byte, 7)
	if _, err := out.Read(buf); err != nil || string(buf) != "locked\n" {
		t.Fatalf("flock(1): %q %v", buf, err)
	}
	_, err := Acquire(p)
	var he *HeldError
	if !errors.As(err, &he) || he.PID != 4242 {
		t.Fatalf("got %v, want held by pid 4242", err)
	}
	stdin.Close()
	cmd.Wait()
	l, err := Acquire(p)
	if err != nil {
		t.Fatalf("after the holder exited: %v", err)
	}
	defer l.Release()
	if b, _ := os.ReadFile(p); string(b) != strconv.Itoa(os.Getpid())+"\n" {
		t.Fatalf("file holds %q, want our pid", b)
	}
}

// A stale file (its process gone) does not block.
func TestStaleFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "d.lock")
	os.WriteFile(p, []byte("999999999\n"), 0o644)
	l, err := Acquire(p)
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
}
