package main

import (
	"context"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"sync"
	"sync/atomic"

	"github.com/lvsdirector/director/failover/haconf"
	"github.com/lvsdirector/director/internal/ldlog"
)

// logger sends every record where heartbeat would: logfile (info and up,
// debug too with -d or "debug N"), debugfile (everything), syslog at
// logfacility, and stderr when none of them is set or with -d. A
// destination that cannot be opened is reported on stderr and skipped.
func logger(ha *haconf.HACF, debug bool) (*slog.Logger, func()) {
	level := slog.LevelInfo
	if debug || ha.Debug > 0 {
		level = slog.LevelDebug
	}
	var hs []slog.Handler
	var closers []io.Closer
	add := func(w io.Writer, l slog.Level) {
		hs = append(hs, slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
	}
	open := func(path string, l slog.Level) {
		w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			slog.Error("directord: log file", "err", err)
			return
		}
		closers = append(closers, w)
		add(w, l)
	}
	switch {
	case ha.Logfile != "" && ha.Logfile == ha.Debugfile:
		open(ha.Logfile, slog.LevelDebug)
	default:
		if ha.Logfile != "" {
			open(ha.Logfile, level)
		}
		if ha.Debugfile != "" {
			open(ha.Debugfile, slog.LevelDebug)
		}
	}
	if ha.LogFacility != "" && ha.LogFacility != "none" {
		pri, err := ldlog.Facility(ha.LogFacility)
		if err == nil {
			var w *syslog.Writer
			if w, err = syslog.New(pri|syslog.LOG_INFO, "directord"); err == nil {
				closers = append(closers, w)
				add(w, level)
			}
		}
		if err != nil {
			slog.Error("directord: syslog", "facility", ha.LogFacility, "err", err)
		}
	}
	if len(hs) == 0 || debug {
		add(os.Stderr, level)
	}
	return slog.New(slog.NewMultiHandler(hs...)), func() {
		for _, c := range closers {
			c.Close()
		}
	}
}

// logSwitch is the daemon's log handler, whose destinations a reload
// replaces (heartbeat re-opens its logs on SIGHUP); loggers made from it
// (With, WithGroup) follow the switch.
type logSwitch struct {
	debug bool
	cur   atomic.Pointer[slog.Handler]
	mu    sync.Mutex // serialises set and close
	close func()
}

// newLogSwitch opens ha's log destinations, as logger does.
func newLogSwitch(ha *haconf.HACF, debug bool) (*logSwitch, *slog.Logger) {
	s := &logSwitch{debug: debug, close: func() {}}
	s.set(ha)
	return s, slog.New(switched{s: s})
}

// set switches to ha's destinations and closes the previous ones.
func (s *logSwitch) set(ha *haconf.HACF) {
	l, closer := logger(ha, s.debug)
	h := l.Handler()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur.Store(&h)
	old := s.close
	s.close = closer
	old()
}

// Close closes the destinations in use.
func (s *logSwitch) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.close()
	s.close = func() {}
}

// switched sends to the logSwitch's current handler, with the attributes
// and groups given to it applied on the way.
type switched struct {
	s    *logSwitch
	wrap func(slog.Handler) slog.Handler
}

func (h switched) handler() slog.Handler {
	cur := *h.s.cur.Load()
	if h.wrap != nil {
		return h.wrap(cur)
	}
	return cur
}

func (h switched) Enabled(ctx context.Context, l slog.Level) bool  { return h.handler().Enabled(ctx, l) }
func (h switched) Handle(ctx context.Context, r slog.Record) error { return h.handler().Handle(ctx, r) }

func (h switched) WithAttrs(as []slog.Attr) slog.Handler {
	w := h.wrap
	return switched{s: h.s, wrap: func(x slog.Handler) slog.Handler {
		if w != nil {
			x = w(x)
		}
		return x.WithAttrs(as)
	}}
}

func (h switched) WithGroup(name string) slog.Handler {
	w := h.wrap
	return switched{s: h.s, wrap: func(x slog.Handler) slog.Handler {
		if w != nil {
			x = w(x)
		}
		return x.WithGroup(name)
	}}
}
