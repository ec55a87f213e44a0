// Package respawn runs ha.cf's "respawn USER /path [args]" programs with
// heartbeat's semantics, so that helpers written for heartbeat keep working:
// they start with the daemon, are restarted whenever they exit, except when
// they exit with status 100 (heartbeat's way for a program to say "leave me
// dead"), and are stopped when the daemon stops.
package respawn

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/lvsdirector/director/failover/haconf"
	"github.com/lvsdirector/director/internal/subproc"
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
}

var defaults = options{
	minDelay: time.Second,
	maxDelay: 30 * time.Second,
	stable:   10 * time.Second,
	grace:    5 * time.Second,
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
		p, err := subproc.Start(ctx, subproc.Cmd{
			Path:       s.c.Path,
			Args:       s.c.Args,
			Env:        s.env,
			Credential: cred,
			Output:     out,
			Grace:      s.o.grace,
			// Helpers left behind would pile up with every restart.
			Reap: true,
			Log:  s.log,
		})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// Often a program not yet installed or not yet executable.
			// For heartbeat a failed exec is one more death of the
			// child, so keep trying, with the same back-off.
			delay = s.o.nextDelay(delay, 0)
			s.log.Error("respawn: cannot start", "err", err, "retry_in", delay)
			continue
		}
		pid := p.Pid()
		s.log.Info("respawn: started", "pid", pid)
		// On ctx's end Wait stops the program's process group: SIGTERM,
		// SIGKILL after the grace.
		res, _ := p.Wait()
		st := res.State
		if ctx.Err() != nil {
			s.log.Info("respawn: stopped", "pid", pid, "status", st.String())
			return
		}
		if st.Exited() && st.ExitCode() == noRespawn {
			s.log.Info("respawn: exited 100: not respawned", "pid", pid)
			return
		}
		delay = s.o.nextDelay(delay, res.Ran)
		s.log.Warn("respawn: program died", "pid", pid, "status", st.String(),
			"ran", res.Ran.Round(time.Millisecond), "restart_in", delay)
	}
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
