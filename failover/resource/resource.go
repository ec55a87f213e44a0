// Package resource runs the resources of a haresources group: service
// addresses, the director itself (ldirectord::CFG, in-process) and scripts
// from /etc/ha.d/resource.d or /etc/init.d, started left to right and
// stopped right to left, as heartbeat's ResourceManager does.
package resource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lvsdirector/director/director"
	"github.com/lvsdirector/director/failover/ipaddr"
	"github.com/lvsdirector/director/healthcheck"
	"github.com/lvsdirector/director/internal/subproc"
	"github.com/lvsdirector/director/ipvs"
)

// Agent is one resource.
type Agent interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	// Running reports whether the resource runs (heartbeat's status).
	Running(ctx context.Context) (bool, error)
	String() string
}

// Group is a haresources line: its resources in order.
type Group struct {
	Key    string // the first resource, heartbeat's name for the group
	Agents []Agent
	Log    *slog.Logger
}

// StopRetries is how many times a failed stop is tried again.
const StopRetries = 3

// Acquire starts the resources left to right. If one fails, the ones
// already started are stopped again (right to left) and the error returned.
// A rollback stop that keeps failing is tried again (cleanupRetry,
// doubling to 30 s) until it succeeds or ctx ends: a failed start counts
// as not held, so returning with an address still up would let the peer
// bring up the same one.
func (g *Group) Acquire(ctx context.Context) error {
	for i, a := range g.Agents {
		if err := a.Start(ctx); err != nil {
			g.log().Error("resource start failed", "group", g.Key, "resource", a.String(), "err", err)
			var stuck []error
			for j := i - 1; j >= 0; j-- {
				if serr := g.stopUntilDone(ctx, g.Agents[j]); serr != nil {
					stuck = append(stuck, serr)
				}
			}
			return errors.Join(append([]error{fmt.Errorf("start %s: %w", a, err)}, stuck...)...)
		}
		g.log().Info("resource started", "group", g.Key, "resource", a.String())
	}
	return nil
}

// Release stops the resources right to left. A failed stop is retried;
// the others are stopped regardless, and every failure is reported.
func (g *Group) Release(ctx context.Context) error {
	var errs []error
	for i := len(g.Agents) - 1; i >= 0; i-- {
		if err := g.stop(ctx, g.Agents[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// stopUntilDone is stop, again and again until it succeeds or ctx ends.
func (g *Group) stopUntilDone(ctx context.Context, a Agent) error {
	wait := cleanupRetry
	for {
		err := g.stop(ctx, a)
		if err == nil {
			return nil
		}
		g.log().Error("resource group partly held after a failed start: rollback stop failed, retrying",
			"group", g.Key, "resource", a.String(), "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("rollback: %w (still running)", err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// Pauses between stop attempts (variables for the tests).
var (
	stopRetryDelay = 200 * time.Millisecond // times the attempt number, within stop
	cleanupRetry   = time.Second            // first pause between rollback stops
)

func (g *Group) stop(ctx context.Context, a Agent) error {
	var err error
	for try := 0; try <= StopRetries; try++ {
		if err = a.Stop(ctx); err == nil {
			g.log().Info("resource stopped", "group", g.Key, "resource", a.String())
			return nil
		}
		g.log().Error("resource stop failed", "group", g.Key, "resource", a.String(), "try", try+1, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("stop %s: %w", a, err)
		case <-time.After(time.Duration(try+1) * stopRetryDelay):
		}
	}
	return fmt.Errorf("stop %s failed %d times: %w", a, StopRetries+1, err)
}

func (g *Group) log() *slog.Logger {
	if g.Log != nil {
		return g.Log
	}
	return slog.Default()
}

// IP holds a service address.
type IP struct {
	M    *ipaddr.Manager
	Addr ipaddr.Address
}

func (r *IP) Start(ctx context.Context) error { return r.M.Add(ctx, r.Addr) }
func (r *IP) Stop(context.Context) error      { return r.M.Del(r.Addr) }
func (r *IP) Running(context.Context) (bool, error) {
	return r.M.Has(r.Addr)
}
func (r *IP) String() string { return "IPaddr::" + r.Addr.String() }

// Director runs ldirectord::CFG in-process: the same director as the
// ldirectord command, stopped (with its cleanstop) when the group goes.
type Director struct {
	Path  string // as given in haresources; looked up like ldirectord does
	Log   *slog.Logger
	Table func() (ipvs.Table, error) // nil opens the kernel table

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan error
	inst   *director.Instance
	exited chan struct{} // closed when inst's Run has returned
	reload chan struct{}
	// live is inst while its Run has not returned: Snapshot and
	// CheckStats read it without mu, which Start holds until the first
	// table write and Stop through cleanstop.
	live atomic.Pointer[director.Instance]
}

// ConfigPath finds CFG as ldirectord does: /etc/ha.d/CFG, /etc/ha.d/conf/CFG, CFG.
func ConfigPath(haDir, name string) string {
	for _, p := range []string{filepath.Join(haDir, name), filepath.Join(haDir, "conf", name), name} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

func (r *Director) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done != nil {
		select {
		case <-r.done:
		default:
			return nil // running
		}
	}
	cfg, err := director.ParseFile(r.Path, director.ParseOptions{})
	if err != nil {
		return errors.New(director.ErrorLine(err))
	}
	open := r.Table
	if open == nil {
		open = func() (ipvs.Table, error) { return ipvs.NewKernel(ipvs.KernelOptions{Logger: r.Log}) }
	}
	table, err := open()
	if err != nil {
		return err
	}
	ready := make(chan struct{})
	r.reload = make(chan struct{}, 1)
	r.inst = &director.Instance{Path: r.Path, Table: table, Log: r.Log, Reload: r.reload,
		Options: director.Options{Ready: func() { close(ready) }}}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel, r.done, r.exited = cancel, make(chan error, 1), make(chan struct{})
	r.live.Store(r.inst)
	go func(in *director.Instance, done chan error, exited chan struct{}) {
		err := in.Run(rctx, cfg)
		r.live.CompareAndSwap(in, nil)
		table.Close()
		close(exited)
		done <- err
		close(done)
	}(r.inst, r.done, r.exited)
	select {
	case <-ready:
		return nil
	case err := <-r.done:
		r.done = nil
		if err == nil {
			err = errors.New("director exited during start")
		}
		return err
	case <-ctx.Done():
		cancel()
		return ctx.Err()
	}
}

func (r *Director) Stop(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done == nil {
		return nil
	}
	r.cancel()
	select {
	case err := <-r.done:
		r.done = nil
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *Director) Running(context.Context) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done == nil {
		return false, nil
	}
	select {
	case <-r.done:
		return false, nil
	default:
		return true, nil
	}
}

// Reload asks a running director to re-read its configuration.
func (r *Director) Reload() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reload != nil {
		select {
		case r.reload <- struct{}{}:
		default:
		}
	}
}

func (r *Director) String() string { return "ldirectord::" + r.Path }

// Snapshot reports the running director's table and health (nil if not
// running: before Start, after Stop, or once it has exited).
func (r *Director) Snapshot() []director.VirtualStatus {
	if in := r.running(); in != nil {
		return in.Snapshot()
	}
	return nil
}

// Drain drains (on) or undrains a real of the running director.
func (r *Director) Drain(ctx context.Context, real ipvs.DestKey, on bool) error {
	if in := r.running(); in != nil {
		return in.Drain(ctx, real, on)
	}
	return director.ErrNotRunning
}

// Counters reads the running director's kernel counters (nil if not
// running).
func (r *Director) Counters(ctx context.Context) ([]director.VirtualCounters, error) {
	if in := r.running(); in != nil {
		return in.Counters(ctx)
	}
	return nil, nil
}

// CheckStats reports the running director's check totals and recent
// lateness (zero if not running).
func (r *Director) CheckStats() healthcheck.Stats {
	if in := r.running(); in != nil {
		return in.CheckStats()
	}
	return healthcheck.Stats{}
}

// running is the instance while its director runs, else nil.
// Alive is the running director's liveness (director.Director.Alive);
// zero when it is not running.
func (r *Director) Alive() time.Time {
	if in := r.running(); in != nil {
		return in.Alive()
	}
	return time.Time{}
}

func (r *Director) running() *director.Instance { return r.live.Load() }

// Script is a resource script run as "script [args...] start|stop|status",
// found in resource.d, then init.d.
type Script struct {
	Name    string
	Args    []string
	Dirs    []string // default /etc/ha.d/resource.d, /etc/init.d
	Timeout time.Duration
}

func (r *Script) path() (string, error) {
	dirs := r.Dirs
	if dirs == nil {
		dirs = []string{"/etc/ha.d/resource.d", "/etc/init.d"}
	}
	for _, d := range dirs {
		p := filepath.Join(d, r.Name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("resource script %s not found in %s", r.Name, strings.Join(dirs, ", "))
}

func (r *Script) run(ctx context.Context, op string) (string, error) {
	p, err := r.path()
	if err != nil {
		return "", err
	}
	t := r.Timeout
	if t <= 0 {
		t = 2 * time.Minute
	}
	// Like ResourceManager: done when the script exits, daemons it
	// started in the background left running; stdout is what status is
	// judged by. One that hangs is stopped with its process group,
	// SIGTERM first so that a stop cut short can still clean up.
	res, err := subproc.Run(ctx, subproc.Cmd{Path: p, Args: append(append([]string(nil), r.Args...), op),
		Timeout: t, Grace: scriptGrace, SeparateStderr: true})
	if msg := bytes.TrimSpace(res.Stderr); err != nil && len(msg) > 0 {
		err = fmt.Errorf("%w: %.200s", err, msg)
	}
	return string(res.Output), err
}

// scriptGrace is how long a resource script that timed out has between
// SIGTERM and SIGKILL.
const scriptGrace = 5 * time.Second

func (r *Script) Start(ctx context.Context) error { _, err := r.run(ctx, "start"); return err }
func (r *Script) Stop(ctx context.Context) error  { _, err := r.run(ctx, "stop"); return err }

// Running is ResourceManager's rule: stdout saying "running" or "OK" (but
// not "not running") means running, whatever the exit status.
func (r *Script) Running(ctx context.Context) (bool, error) {
	out, err := r.run(ctx, "status")
	if strings.Contains(out, "not running") {
		return false, nil
	}
	if strings.Contains(out, "running") || strings.Contains(out, "OK") {
		return true, nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return false, nil
	}
	return false, err
}

func (r *Script) String() string {
	if len(r.Args) == 0 {
		return r.Name
	}
	return r.Name + "::" + strings.Join(r.Args, "::")
}

// Locate finds the script as Start would (for a config test): an
// executable regular file in the first of Dirs that has one.
func (r *Script) Locate() (string, error) { return r.path() }
