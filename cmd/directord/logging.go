package main

import (
	"io"
	"log/slog"
	"log/syslog"
	"os"

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
