package main

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestClaimInstance(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "d.sock")
	release, err := claimInstance("", sock)
	if err != nil {
		t.Fatal(err)
	}
	// The second, same socket: the lock beside it refuses.
	_, err = claimInstance("", sock)
	if want := sock + ".lock is held by pid " + strconv.Itoa(os.Getpid()); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("second: %v, want %s...", err, want)
	}
	release()

	// A live daemon answers on the socket (its lock elsewhere): refused,
	// and the socket is left alone.
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	_, err = claimInstance(filepath.Join(dir, "other.lock"), sock)
	if err == nil || err.Error() != "control socket "+sock+" is in use: another directord is running" {
		t.Fatalf("live socket: %v", err)
	}
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("socket gone: %v", err)
	}
	// The refused claim released its lock.
	r, err := claimInstance(filepath.Join(dir, "other.lock"), filepath.Join(dir, "free.sock"))
	if err != nil {
		t.Fatalf("lock kept by a refused claim: %v", err)
	}
	r()

	// A socket file with nobody behind it (a killed daemon's) is fine.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	r, err = claimInstance("", sock)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	r()
}
