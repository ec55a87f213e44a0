// Package subproc is the one way the daemons run programs: fallbackcommands,
// external checks, resource scripts and respawned helpers. Each program
// runs in a process group of its own; its output is kept up to a bound and
// the rest drained and dropped; when its context ends (timeout or cancel)
// the whole group is stopped, SIGTERM then SIGKILL after a grace; and once
// the program has exited, pipes still held by what it left running in the
// background delay the caller by at most WaitDelay.
package subproc

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Defaults for the zero values of Cmd.
const (
	DefaultLimit     = 64 << 10
	DefaultWaitDelay = 250 * time.Millisecond
)

// poll is how often a process group is checked for stragglers.
var poll = 20 * time.Millisecond

// Cmd describes a program to run.
type Cmd struct {
	Path string   // looked up in PATH when it has no slash
	Args []string // the arguments after the program's name
	// Env is the environment; nil is the daemon's.
	Env []string
	// Credential, when set, is who the program runs as.
	Credential *syscall.Credential

	// Timeout bounds the run on top of the context; 0 adds none.
	Timeout time.Duration
	// Grace is how long the group has between SIGTERM and SIGKILL when
	// the context ends; 0 sends SIGKILL at once.
	Grace time.Duration
	// Reap stops what the program left in its group when it exits on
	// its own (SIGTERM, SIGKILL after Grace): for a supervised program,
	// whose helpers would pile up with every restart. Without it,
	// background children are left running, as system() leaves them.
	Reap bool

	// Stdin, when set, is written to the program's standard input, which
	// is then closed; nil is /dev/null. What the program (or a background
	// child holding its stdin) has not read when it exits is dropped.
	Stdin []byte

	// Output, when set, receives stdout and stderr unbuffered (respawn's
	// log pipe); nothing is captured then.
	Output *os.File
	// Limit is how many bytes of output are kept; more is read and
	// dropped. 0 is DefaultLimit.
	Limit int
	// SeparateStderr keeps stderr apart in Result.Stderr; otherwise it
	// goes with stdout into Result.Output.
	SeparateStderr bool
	// WaitDelay is how long, after the program exited, its output is
	// still waited for. Whatever still holds the pipe then (a background
	// child) is drained in the background until it lets go: closing the
	// pipe instead would kill a sorry server with SIGPIPE at its first
	// log line. 0 is DefaultWaitDelay.
	WaitDelay time.Duration

	// Log receives the escalations to SIGKILL; nil is slog.Default().
	Log *slog.Logger
}

// Result is what a finished program left.
type Result struct {
	Output  []byte // the first Limit bytes of stdout (and stderr)
	Stderr  []byte // with SeparateStderr, the first Limit bytes of stderr
	Dropped int64  // bytes read past Limit and not kept
	// State is the program's exit status; nil when it never ran.
	State *os.ProcessState
	// Ran is the time from start to the program's exit.
	Ran time.Duration
}

// Process is a started program; Wait must be called.
type Process struct {
	c       Cmd
	log     *slog.Logger
	ctx     context.Context
	cancel  context.CancelFunc
	cmd     *exec.Cmd
	started time.Time
	exited  chan struct{} // closed when cmd.Wait returned
	waitErr error
	ran     time.Duration
	out     *capture
	errOut  *capture
	stdin   *os.File // the write end of the program's stdin
}

// Run starts c and waits for it.
func Run(ctx context.Context, c Cmd) (Result, error) {
	p, err := Start(ctx, c)
	if err != nil {
		return Result{}, err
	}
	return p.Wait()
}

// Start starts c. The context bounds the program's life from now until
// Wait returns.
func Start(ctx context.Context, c Cmd) (*Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c.Limit <= 0 {
		c.Limit = DefaultLimit
	}
	if c.WaitDelay <= 0 {
		c.WaitDelay = DefaultWaitDelay
	}
	p := &Process{c: c, log: c.Log, exited: make(chan struct{})}
	if p.log == nil {
		p.log = slog.Default()
	}
	cmd := exec.Command(c.Path, c.Args...)
	cmd.Env = c.Env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.Credential}
	if c.Output != nil {
		cmd.Stdout, cmd.Stderr = c.Output, c.Output
	} else {
		var err error
		if p.out, err = newCapture(c.Limit); err != nil {
			return nil, err
		}
		cmd.Stdout, cmd.Stderr = p.out.w, p.out.w
		if c.SeparateStderr {
			if p.errOut, err = newCapture(c.Limit); err != nil {
				p.out.abandon()
				return nil, err
			}
			cmd.Stderr = p.errOut.w
		}
	}
	var stdinR *os.File
	if c.Stdin != nil {
		var err error
		if stdinR, p.stdin, err = os.Pipe(); err != nil {
			for _, cp := range []*capture{p.out, p.errOut} {
				if cp != nil {
					cp.abandon()
				}
			}
			return nil, err
		}
		cmd.Stdin = stdinR
	}
	p.ctx, p.cancel = ctx, func() {}
	if c.Timeout > 0 {
		p.ctx, p.cancel = context.WithTimeout(ctx, c.Timeout)
	}
	err := cmd.Start()
	// The program has its copies of the write ends; ours would keep the
	// readers from ever seeing EOF.
	for _, cp := range []*capture{p.out, p.errOut} {
		if cp != nil {
			if err != nil {
				cp.abandon()
			} else {
				cp.start()
			}
		}
	}
	if stdinR != nil {
		stdinR.Close()
		if err != nil {
			p.stdin.Close()
		} else {
			// Closed by the writer when all is written, or by Wait when
			// the program is gone, which ends a write blocked on a pipe
			// nobody reads.
			go func(w *os.File, b []byte) {
				_, _ = w.Write(b)
				w.Close()
			}(p.stdin, c.Stdin)
		}
	}
	if err != nil {
		p.cancel()
		return nil, err
	}
	p.cmd, p.started = cmd, time.Now()
	go func() {
		// With *os.File for stdio, Wait waits for the process only.
		p.waitErr = cmd.Wait()
		p.ran = time.Since(p.started)
		close(p.exited)
	}()
	return p, nil
}

// Pid is the program's pid, which is also its process group.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Wait waits for the program to exit, stopping its process group if the
// context ends first. The error is nil for exit status 0, an
// *exec.ExitError for another status or a signal, and wraps the
// context's error when the program was stopped because the context ended.
func (p *Process) Wait() (Result, error) {
	defer p.cancel()
	var stopped error
	select {
	case <-p.exited:
	case <-p.ctx.Done():
		stopped = p.ctx.Err()
		p.stopGroup()
	}
	if stopped == nil && p.c.Reap {
		p.reapGroup(time.Now().Add(p.c.Grace), true)
	}
	if p.stdin != nil {
		p.stdin.Close()
	}
	res := Result{State: p.cmd.ProcessState, Ran: p.ran}
	deadline := time.Now().Add(p.c.WaitDelay)
	if p.out != nil {
		res.Output, res.Dropped = p.out.result(deadline)
	}
	if p.errOut != nil {
		var n int64
		res.Stderr, n = p.errOut.result(deadline)
		res.Dropped += n
	}
	if stopped != nil {
		return res, fmt.Errorf("%s: %w: process group stopped (%v)", filepath.Base(p.c.Path), stopped, p.waitErr)
	}
	return res, p.waitErr
}

// stopGroup ends the group of a program that is still running: SIGTERM,
// then SIGKILL to whatever of the group is left after the grace.
func (p *Process) stopGroup() {
	pid := p.Pid()
	if p.c.Grace <= 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-p.exited
		return
	}
	deadline := time.Now().Add(p.c.Grace)
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	t := time.NewTimer(p.c.Grace)
	defer t.Stop()
	select {
	case <-p.exited:
		// The group has had its SIGTERM already.
		p.reapGroup(deadline, false)
	case <-t.C:
		p.log.Warn("still running after SIGTERM, sending SIGKILL", "program", p.c.Path, "pid", pid, "grace", p.c.Grace)
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-p.exited
	}
}

// reapGroup stops what is left of the group after its leader exited:
// SIGTERM (when term), then SIGKILL if anything still runs at deadline.
func (p *Process) reapGroup(deadline time.Time, term bool) {
	pgid := p.Pid()
	if !groupAlive(pgid) {
		return
	}
	if term {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		<-tick.C
		if !groupAlive(pgid) {
			return
		}
	}
	p.log.Warn("processes of the group still running after SIGTERM, sending SIGKILL", "program", p.c.Path, "pgid", pgid)
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

// capture reads one output pipe, keeping its first limit bytes.
type capture struct {
	r, w  *os.File
	limit int
	done  chan struct{} // closed at EOF

	mu       sync.Mutex
	buf      []byte
	dropped  int64
	detached bool // the result was taken: read on only to drain
}

func newCapture(limit int) (*capture, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	return &capture{r: r, w: w, limit: limit, done: make(chan struct{})}, nil
}

func (c *capture) abandon() { c.r.Close(); c.w.Close() }

func (c *capture) start() {
	c.w.Close()
	go c.read()
}

func (c *capture) read() {
	defer close(c.done)
	defer c.r.Close()
	b := make([]byte, 32<<10)
	for {
		n, err := c.r.Read(b)
		if n > 0 {
			c.mu.Lock()
			if !c.detached {
				keep := min(n, c.limit-len(c.buf))
				c.buf = append(c.buf, b[:keep]...)
				c.dropped += int64(n - keep)
			}
			c.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// result is what was read by EOF or by deadline, whichever comes first.
// After it, the reader goes on draining, without keeping, until every
// holder of the pipe has closed it.
func (c *capture) result(deadline time.Time) ([]byte, int64) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.detached = true
	return c.buf, c.dropped
}
