package director

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/lvsdirector/director/healthcheck"
	"github.com/lvsdirector/director/internal/cfgfile"
	"github.com/lvsdirector/director/internal/printable"
	"github.com/lvsdirector/director/internal/subproc"
	"github.com/lvsdirector/director/ipvs"
)

// Instance runs a director for one configuration file: it reloads on
// request and, with autoreload=yes, when the file changes. A file that
// fails to parse is logged with its file:line and changes nothing.
type Instance struct {
	Path    string
	Parse   ParseOptions
	Table   ipvs.Table
	Log     *slog.Logger
	Options Options
	// Reload delivers reload requests (SIGHUP, "ldirectord reload").
	Reload <-chan struct{}
	// Poll is how often the file is looked at for autoreload (default 1 s).
	Poll time.Duration
	// Reloaded, if set, is called after every reload attempt.
	Reloaded func(error)

	mu sync.Mutex
	d  *Director
}

// Snapshot reports the running director's virtuals (nil before Run).
func (in *Instance) Snapshot() []VirtualStatus {
	in.mu.Lock()
	d := in.d
	in.mu.Unlock()
	if d == nil {
		return nil
	}
	return d.Snapshot()
}

// Drain drains (on) or undrains a real of the running director.
func (in *Instance) Drain(ctx context.Context, real ipvs.DestKey, on bool) error {
	in.mu.Lock()
	d := in.d
	in.mu.Unlock()
	if d == nil {
		return ErrNotRunning
	}
	return d.Drain(ctx, real, on)
}

// Counters reads the running director's virtuals' kernel counters (nil
// before Run).
func (in *Instance) Counters(ctx context.Context) ([]VirtualCounters, error) {
	in.mu.Lock()
	d := in.d
	in.mu.Unlock()
	if d == nil {
		return nil, nil
	}
	return d.Counters(ctx)
}

// CheckStats reports the running director's check totals and recent
// lateness (zero before Run).
func (in *Instance) CheckStats() healthcheck.Stats {
	in.mu.Lock()
	d := in.d
	in.mu.Unlock()
	if d == nil {
		return healthcheck.Stats{}
	}
	return d.CheckStats()
}

// Alive is the running director's Alive (zero when none runs).
func (in *Instance) Alive() time.Time {
	in.mu.Lock()
	d := in.d
	in.mu.Unlock()
	if d == nil {
		return time.Time{}
	}
	return d.Alive()
}

// Run serves cfg (already parsed from Path) until ctx is done.
func (in *Instance) Run(ctx context.Context, cfg *Config) error {
	log := in.Log
	if log == nil {
		log = slog.Default()
	}
	opts := in.Options
	opts.Log = log
	d := New(cfg, in.Table, opts)
	in.mu.Lock()
	in.d = d
	in.mu.Unlock()
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- d.Run(dctx) }()

	poll := in.Poll
	if poll <= 0 {
		poll = time.Second
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	stamp := fileStamp(in.Path)
	for {
		select {
		case err := <-errc:
			return err
		case <-in.Reload:
			log.Info("Reloading configuration: " + in.Path)
			err := in.reload(ctx, d, log)
			stamp = fileStamp(in.Path)
			if in.Reloaded != nil {
				in.Reloaded(err)
			}
		case <-tick.C:
			now := fileStamp(in.Path)
			if now.same(stamp) {
				continue
			}
			stamp = now
			cur := d.Config()
			log.Info(fmt.Sprintf("Configuration file '%s' has changed on disk", in.Path))
			if cur.Global.AutoReload {
				err := in.reload(ctx, d, log)
				if in.Reloaded != nil {
					in.Reloaded(err)
				}
			} else {
				log.Info(" - ignore new configuration")
			}
			if cb := cur.Global.Callback; cb != "" {
				runCallback(ctx, cb, in.Path, log)
			}
		}
	}
}

// The callback's limit (a variable for tests). ldirectord waits for it
// without one; a callback that hangs would stop every later reload.
const defaultCallbackTimeout = 60 * time.Second

var callbackTimeout = defaultCallbackTimeout

// runCallback runs the callback= program with the configuration's path,
// through subproc like every other program: a group of its own stopped at
// callbackTimeout, bounded output (logged when it fails), and a background
// child it leaves holding its output does not hold the reload loop.
func runCallback(ctx context.Context, cb, path string, log *slog.Logger) {
	res, err := subproc.Run(ctx, subproc.Cmd{Path: cb, Args: []string{path}, Timeout: callbackTimeout,
		Grace: time.Second, Limit: 4 << 10, Log: log})
	if err != nil {
		log.Error("callback failed", "callback", cb, "err", err,
			"output", printable.String(strings.TrimSpace(string(res.Output))))
	}
}

func (in *Instance) reload(ctx context.Context, d *Director, log *slog.Logger) error {
	cfg, err := ParseFile(in.Path, in.Parse)
	if err != nil {
		log.Error(ErrorLine(err) + " - configuration kept as it was")
		return err
	}
	if err := d.Reload(ctx, cfg); err != nil {
		log.Error("reload: " + err.Error())
		return err
	}
	return nil
}

// ErrorLine formats a configuration error as ldirectord does.
func ErrorLine(err error) string {
	var ce *Error
	if errors.As(err, &ce) && ce.Line > 0 {
		return fmt.Sprintf("Error [%d] reading file %s at line %d: %s", os.Getpid(), printable.String(ce.File), ce.Line, printable.String(ce.Msg))
	}
	return fmt.Sprintf("Error [%d] reading file: %s", os.Getpid(), printable.String(err.Error()))
}

// stamp is what autoreload compares: mtime first, content when it moved.
type stamp struct {
	mtime time.Time
	sum   [32]byte
	ok    bool
}

func fileStamp(path string) stamp {
	st, err := os.Stat(path)
	if err != nil {
		return stamp{}
	}
	b, err := cfgfile.ReadFile(path) // a FIFO swapped in must not hang autoreload
	if err != nil {
		return stamp{}
	}
	return stamp{mtime: st.ModTime(), sum: sha256.Sum256(b), ok: true}
}

// same: an unchanged mtime means unchanged (the content is only compared
// when the mtime moved, so a touch alone does not reload).
func (a stamp) same(b stamp) bool {
	if a.ok != b.ok {
		return false
	}
	return a.mtime.Equal(b.mtime) || bytes.Equal(a.sum[:], b.sum[:])
}
