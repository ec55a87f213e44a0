// Package lockfile makes a daemon single-instance: an exclusive flock(2) on
// a file, held for the life of the process and released by the kernel when
// it exits however it exits, so a stale file never blocks a start and a PID
// reused by another process is never mistaken for the daemon. The holder's
// pid is written into the file for the error message of the next one.
package lockfile

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Lock is a held lock.
type Lock struct{ f *os.File }

// HeldError says another process holds the lock.
type HeldError struct {
	Path string
	PID  int // 0 when the file names none
}

func (e *HeldError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("%s is held by pid %d: another instance is running", e.Path, e.PID)
	}
	return fmt.Sprintf("%s is held: another instance is running", e.Path)
}

// Acquire takes the lock at path without waiting, creating the file. It
// fails with a *HeldError if another process (or another Acquire of this
// one) holds it.
func Acquire(path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &HeldError{Path: path, PID: readPID(f)}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

func readPID(f *os.File) int {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// Release drops the lock. The file stays: removing it would let a process
// that opened it before the removal and one that creates it afresh both
// hold "the" lock.
func (l *Lock) Release() error { return l.f.Close() }
