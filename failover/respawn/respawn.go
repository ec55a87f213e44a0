// Package respawn runs ha.cf's "respawn USER /path [args]" programs with
// heartbeat's semantics, so that helpers written for heartbeat keep working:
// they start with the daemon, are restarted whenever they exit, except when
// they exit with status 100 (heartbeat's way for a program to say "leave me
// dead"), and are stopped when the daemon stops.
package respawn

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/lvsdirector/director/failover/haconf"
)

// noRespawn is the exit status with which a program asks not to be
// restarted.
const noRespawn = 100

// options are the timings of the supervision. They are not exported: the
// defaults are what an operator expects of heartbeat; tests shrink them.
type options struct {
	// minDelay is the pause before restarting a program that died soon
	// after it was started; it doubles on each such death up to maxDelay,
	// so a program that cannot run does not spin the CPU or flood the log.
	minDelay, maxDelay time.Duration
	// stable is how long a program must have run for its death to be
	// treated as a one-off: it is then restarted at once and the pause
	// starts again from minDelay.
	stable time.Duration
	// grace is how long a process group has between SIGTERM and SIGKILL.
	grace time.Duration
	// poll is how often a process group is checked for stragglers.
	poll time.Duration
}

var defaults = options{
	minDelay: time.Second,
	maxDelay: 30 * time.Second,
	stable:   10 * time.Second,
	grace:    5 * time.Second,
	poll:     50 * time.Millisecond,
}

// nextDelay is the pause before the next start of a program that ran for
// ran after a pause of prev.
func (o options) nextDelay(prev, ran time.Duration) time.Duration {
	if ran >= o.stable {
		return 0
	}
	if prev < o.minDelay {
		return o.minDelay
	}
	return min(2*prev, o.maxDelay)
}

// Run starts every child and restarts it when it exits, until ctx is
// cancelled; then it stops them (SIGTERM to the child's process group,
// SIGKILL a few seconds later) and returns once all have exited. It also
// returns, earlier, when no child is left to supervise: every one has
// exited with status 100 or could not be run as its user. env holds the
// NAME=value settings of ha.cf's env directives, added to (and overriding)
// the daemon's environment. A nil log logs to slog.Default().
func Run(ctx context.Context, children []haconf.Child, env []string, log *slog.Logger) {
	run(ctx, children, env, log, defaults)
}

func run(ctx context.Context, children []haconf.Child, env []string, log *slog.Logger, o options) {
	if log == nil {
		log = slog.Default()
	}
	// exec.Cmd keeps the last of duplicate names, so ha.cf wins.
	environ := append(os.Environ(), env...)
	var wg sync.WaitGroup
	for _, c := range children {
		wg.Go(func() {
			s := &supervisor{c: c, env: environ, o: o, log: log.With("program", c.Path)}
			s.run(ctx)
		})
	}
	wg.Wait()
}

// supervisor runs one respawn line.
type supervisor struct {
	c   haconf.Child
	env []string
	o   options
	log *slog.Logger
}

func (s *supervisor) run(ctx context.Context) {
	cred, err := credential(s.c.User, os.Geteuid(), s.log)
	if err != nil {
		// One bad line must not keep the other programs from running.
		s.log.Error("respawn: not started", "user", s.c.User, "line", s.c.Line, "err", err)
		return
	}
	out, closeOut := s.output()
	defer closeOut()

	var delay time.Duration
	for {
		if !sleep(ctx, delay) {
			return
		}
		started := time.Now()
		cmd := &exec.Cmd{
			Path:   s.c.Path,
			Args:   append([]string{s.c.Path}, s.c.Args...),
			Env:    s.env,
			Stdout: out,
			Stderr: out,
			// A process group of its own, so that stopping the program
			// also stops whatever it started.
			SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Credential: cred},
		}
		if err := cmd.Start(); err != nil {
			// Often a program not yet installed or not yet executable.
			// For heartbeat a failed exec is one more death of the
			// child, so keep trying, with the same back-off.
			delay = s.o.nextDelay(delay, 0)
			s.log.Error("respawn: cannot start", "err", err, "retry_in", delay)
			continue
		}
		pid := cmd.Process.Pid
		s.log.Info("respawn: started", "pid", pid)

		exited := make(chan struct{})
		var waiter sync.WaitGroup
		waiter.Go(func() {
			_ = cmd.Wait() // the status is in cmd.ProcessState
			close(exited)
		})

		var ran time.Duration
		select {
		case <-exited:
			waiter.Wait()
			ran = time.Since(started)
			// Helpers left behind would pile up with every restart.
			s.reapGroup(pid, time.Now().Add(s.o.grace), true)
		case <-ctx.Done():
			s.stop(pid, exited)
			waiter.Wait()
			s.log.Info("respawn: stopped", "pid", pid, "status", cmd.ProcessState.String())
			return
		}

		st := cmd.ProcessState
		if st.Exited() && st.ExitCode() == noRespawn {
			s.log.Info("respawn: exited 100: not respawned", "pid", pid)
			return
		}
		delay = s.o.nextDelay(delay, ran)
		s.log.Warn("respawn: program died", "pid", pid, "status", st.String(),
			"ran", ran.Round(time.Millisecond), "restart_in", delay)
	}
}

// stop ends the process group pid whose leader has not exited yet.
func (s *supervisor) stop(pid int, exited <-chan struct{}) {
	deadline := time.Now().Add(s.o.grace)
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	t := time.NewTimer(s.o.grace)
	defer t.Stop()
	select {
	case <-exited:
	case <-t.C:
		s.log.Warn("respawn: still running after SIGTERM, sending SIGKILL", "pid", pid, "grace", s.o.grace)
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-exited
		return
	}
	// The group has had its SIGTERM already.
	s.reapGroup(pid, deadline, false)
}

// reapGroup stops what is left of process group pgid after its leader
// exited: SIGTERM (when term), then SIGKILL if anything still runs at
// deadline.
func (s *supervisor) reapGroup(pgid int, deadline time.Time, term bool) {
	if !groupAlive(pgid) {
		return
	}
	if term {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
	}
	tick := time.NewTicker(s.o.poll)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		<-tick.C
		if !groupAlive(pgid) {
			return
		}
	}
	s.log.Warn("respawn: processes of the group still running after SIGTERM, sending SIGKILL", "pgid", pgid)
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// groupAlive reports whether a process of group pgid still runs. Zombies
// do not count: orphans are reaped by init, and under an init that does not
// reap (as in some containers) they would otherwise make every stop wait
// the whole grace and end in a needless SIGKILL.
func groupAlive(pgid int) bool {
	if syscall.Kill(-pgid, 0) != nil {
		return false
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	want := strconv.Itoa(pgid)
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command name, in parentheses, may hold anything; the
		// fields after it are state, ppid, pgrp.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(b[i+1:])
		if len(f) >= 3 && string(f[2]) == want && string(f[0]) != "Z" && string(f[0]) != "X" {
			return true
		}
	}
	return false
}

// credential is how to run as name: nil when the program runs as we do.
func credential(name string, euid int, log *slog.Logger) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", name, u.Gid, err)
	}
	if euid != 0 {
		if uid == uint64(euid) {
			// Setting the groups would need root; the program simply
			// inherits ours.
			return nil, nil
		}
		return nil, fmt.Errorf("cannot run as user %s (uid %d): not running as root", name, uid)
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	ids, err := u.GroupIds()
	if err != nil {
		// Fewer groups is fewer rights: run without the supplementary
		// groups rather than not at all, and say so.
		log.Warn("respawn: supplementary groups unknown, running without them", "user", name, "err", err)
		return cred, nil
	}
	for _, id := range ids {
		g, err := strconv.ParseUint(id, 10, 32)
		if err != nil {
			log.Warn("respawn: ignoring group", "user", name, "group", id, "err", err)
			continue
		}
		cred.Groups = append(cred.Groups, uint32(g))
	}
	return cred, nil
}

// output returns where the program's stdout and stderr go: a pipe whose
// lines are logged, shared by all its incarnations so that a helper that
// outlives one still has somewhere to write. closeOut waits for what the
// program wrote to be logged.
func (s *supervisor) output() (out *os.File, closeOut func()) {
	r, w, err := os.Pipe()
	if err != nil {
		s.log.Error("respawn: no pipe for the program's output, using stderr", "err", err)
		return os.Stderr, func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		br := bufio.NewReader(r)
		for {
			// Long lines come in pieces rather than in unbounded memory.
			line, _, err := br.ReadLine()
			if len(line) > 0 {
				s.log.Info(string(line))
			}
			if err != nil {
				return
			}
		}
	}()
	return w, func() {
		w.Close()
		t := time.NewTimer(s.o.grace)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			// Something that left the process group (setsid) still
			// holds the pipe; closing our end ends the reader.
			r.Close()
			<-done
			return
		}
		r.Close()
	}
}

// sleep waits d unless ctx ends first, and reports whether to go on.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
