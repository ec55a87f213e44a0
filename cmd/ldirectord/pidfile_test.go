package main

import (
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

// unrelated starts a process whose command line contains "ldirectord",
// as "tail -f /var/log/ldirectord.log" does.
func unrelated(t *testing.T) *exec.Cmd {
	t.Helper()
	c := exec.Command("sleep", "60")
	c.Args = []string{"ldirectord-lookalike", "60"}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	return c
}

func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	// A zombie (state Z) has been killed; it only awaits its wait().
	return err == nil && !strings.Contains(string(b), ") Z ")
}

// A stale pid file naming a live process that merely looks like
// ldirectord: stop must not kill it, status and reload must not take it for
// the daemon.
func TestStalePidFileReusedPID(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LDIRECTORD_RUNDIR", dir)
	cf := filepath.Join(dir, "x.cf")
	os.WriteFile(cf, []byte("virtual=10.0.0.100:80\n\treal=10.0.1.11:80 masq\n"), 0o644)
	other := unrelated(t)
	os.WriteFile(filepath.Join(dir, "ldirectord.x.cf.pid"), []byte(strconv.Itoa(other.Process.Pid)+"\n"), 0o644)

	if rc, out, errs := runCLI(t, cf, "status"); rc != 1 || !strings.Contains(errs, "stale pid file") || !strings.Contains(out, "stopped") {
		t.Errorf("status: rc %d %q %q", rc, out, errs)
	}
	if rc, _, errs := runCLI(t, cf, "reload"); rc != 1 || !strings.Contains(errs, "not running") {
		t.Errorf("reload: rc %d %q", rc, errs)
	}
	if rc, _, errs := runCLI(t, cf, "stop"); rc != 0 {
		t.Errorf("stop: rc %d %q", rc, errs)
	}
	time.Sleep(100 * time.Millisecond)
	if !alive(other.Process.Pid) {
		t.Fatal("stop killed an unrelated process named in a stale pid file")
	}
}

// The daemon is the holder of the pid file's lock: status sees it, stop
// signals it and waits until it lets go.
func TestPidLockIdentifiesDaemon(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LDIRECTORD_RUNDIR", dir)
	cf := filepath.Join(dir, "x.cf")
	os.WriteFile(cf, []byte("virtual=10.0.0.100:80\n\treal=10.0.1.11:80 masq\n"), 0o644)
	pf := filepath.Join(dir, "ldirectord.x.cf.pid")

	lock, err := lockPidFile(pf)
	if err != nil {
		t.Fatal(err)
	}
	// A second daemon does not get it, and says who has it.
	t0 := time.Now()
	_, err = lockPidFile(pf)
	var running errRunning
	if !errors.As(err, &running) || running.pid != os.Getpid() {
		t.Fatalf("second lock: %v", err)
	}
	if waited := time.Since(t0); waited < lockWait {
		t.Errorf("gave up after %v, before lockWait", waited)
	}
	// Stand-in daemon: a child process whose pid we write into the locked
	// file; the lock is let go when it dies, as the daemon's is.
	child := unrelated(t)
	if err := os.WriteFile(pf, []byte(strconv.Itoa(child.Process.Pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if rc, out, _ := runCLI(t, cf, "status"); rc != 0 || !strings.Contains(out, "running with pid: "+strconv.Itoa(child.Process.Pid)) {
		t.Fatalf("status: rc %d %q", rc, out)
	}
	exited := make(chan *os.ProcessState, 1)
	go func() { child.Wait(); lock.release(); exited <- child.ProcessState }()
	stopWait = 5 * time.Second
	if rc, _, errs := runCLI(t, cf, "stop"); rc != 0 {
		t.Fatalf("stop: rc %d %q", rc, errs)
	}
	select {
	case st := <-exited:
		if st.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
			t.Fatalf("the daemon did not die of TERM: %v", st)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("stop returned while the daemon still held its pid file")
	}
	if _, err := os.Stat(pf); !os.IsNotExist(err) {
		t.Fatalf("pid file left after release: %v", err)
	}
	if rc, _, _ := runCLI(t, cf, "status"); rc != 3 {
		t.Fatalf("status after stop: rc %d", rc)
	}
	// Free again: the next daemon gets it at once.
	l2, err := lockPidFile(pf)
	if err != nil {
		t.Fatal(err)
	}
	l2.release()
}

// A status (which takes the lock shared for an instant) does not make a
// starting daemon believe another one runs.
func TestStatusDoesNotBlockStart(t *testing.T) {
	dir := t.TempDir()
	pf := filepath.Join(dir, "p.pid")
	os.WriteFile(pf, []byte("1\n"), 0o644)
	stopped := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stopped:
				return
			default:
			}
			if d, _ := findDaemon(pf); d != nil {
				d.close()
			}
		}
	}()
	for i := 0; i < 20; i++ {
		l, err := lockPidFile(pf)
		if err != nil {
			close(stopped)
			<-done
			t.Fatalf("start %d: %v", i, err)
		}
		l.release()
	}
	close(stopped)
	<-done
}
