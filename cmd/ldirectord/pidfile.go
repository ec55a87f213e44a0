package main

// The pid file is also the daemon's lock: the daemon holds an exclusive
// flock on it for as long as it runs, so a pid file nobody holds locked is
// stale whatever process now has its pid, and of two daemons started at
// once only the one that got the lock runs.

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// lockWait is how long a starting daemon retries a held lock: a status or
// stop tests the lock by taking it shared for an instant, and that must
// not be mistaken for a running daemon.
const lockWait = 500 * time.Millisecond

// pidLock is the pid file, locked by this process.
type pidLock struct {
	f    *os.File
	path string
}

// errRunning: another daemon holds the pid file.
type errRunning struct{ pid int }

func (e errRunning) Error() string {
	if e.pid > 0 {
		return fmt.Sprintf("already running with pid %d", e.pid)
	}
	return "already running"
}

// lockPidFile takes the pid file for this process and writes its pid.
func lockPidFile(path string) (*pidLock, error) {
	deadline := time.Now().Add(lockWait)
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		err = flock(f, unix.LOCK_EX)
		if errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			if time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			pid, _ := readPid(path)
			return nil, errRunning{pid}
		}
		if err != nil {
			f.Close()
			return nil, err
		}
		// The holder before us may have removed the file between our open
		// and our lock: then we hold a lock on a file nobody else will
		// open, and must start over on the one now at path.
		if !samePath(f, path) {
			f.Close()
			continue
		}
		if err := writePid(f); err != nil {
			f.Close()
			return nil, err
		}
		return &pidLock{f: f, path: path}, nil
	}
}

func writePid(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		return err
	}
	return f.Sync()
}

// release removes the pid file while still holding it, then lets go.
func (l *pidLock) release() {
	os.Remove(l.path)
	l.f.Close()
}

func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

func samePath(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

func readPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("no pid in %s", path)
	}
	return pid, nil
}

// daemon is the running daemon as its pid file shows it.
type daemon struct {
	f   *os.File // the pid file, open: its lock tells whether the daemon lives
	pid int
}

// findDaemon returns the daemon holding the pid file; with none, stale
// tells whether a pid file was left behind.
func findDaemon(path string) (d *daemon, stale bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	if !held(f) {
		f.Close()
		return nil, true
	}
	// A daemon writes its pid just after taking the lock.
	for deadline := time.Now().Add(time.Second); ; time.Sleep(20 * time.Millisecond) {
		pid, err := readPid(path)
		if err == nil {
			return &daemon{f: f, pid: pid}, false
		}
		if time.Now().After(deadline) || !held(f) {
			f.Close()
			return nil, true
		}
	}
}

// held reports whether some process holds a lock on f's file.
func held(f *os.File) bool {
	err := flock(f, unix.LOCK_SH)
	if err == nil {
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		return false
	}
	return errors.Is(err, unix.EWOULDBLOCK)
}

// alive reports whether the daemon still holds its pid file.
func (d *daemon) alive() bool { return held(d.f) }

func (d *daemon) close() { d.f.Close() }

// samePid: the file still names d.pid (a daemon killed without cleanup
// and a new one in its place rewrites the same file).
func (d *daemon) samePid() bool {
	b := make([]byte, 32)
	n, _ := d.f.ReadAt(b, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	return err == nil && pid == d.pid
}

// signal sends sig to the daemon and to nothing else: the pid is pinned
// (pidfd) before the lock is checked, so a daemon that exits in between and
// a process that gets its pid are never signalled.
func (d *daemon) signal(sig syscall.Signal) error {
	pfd, err := unix.PidfdOpen(d.pid, 0)
	if err != nil {
		if errors.Is(err, unix.ENOSYS) { // kernels before 5.3
			if !d.alive() || !d.samePid() {
				return syscall.ESRCH
			}
			return syscall.Kill(d.pid, sig)
		}
		return err
	}
	defer unix.Close(pfd)
	if !d.alive() || !d.samePid() {
		return syscall.ESRCH
	}
	return unix.PidfdSendSignal(pfd, sig, nil, 0)
}
