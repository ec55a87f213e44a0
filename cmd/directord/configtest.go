package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/lvsdirector/director/director"
	"github.com/lvsdirector/director/failover/haconf"
	"github.com/lvsdirector/director/failover/resource"
)

// Exit codes of -t, keepalived's convention for its --config-test (the
// same as ldirectord -t).
const (
	exitTestCannotRun = 3 // an error: directord would refuse to start, or a group could not be held
	exitTestWarnings  = 4 // it would run, but see the warnings
)

// startOptions are what start reads its files from; -t reads the same.
type startOptions struct {
	node          string // lowercased
	nodeGiven     bool   // --node, not uname -n
	haDir         string
	settingsPath  string
	settingsGiven bool
}

// configTest reads every file start would read — ha.cf, authkeys,
// haresources, each ldirectord::CFG they name, the resource scripts, the
// settings — with start's own loaders, and reports each problem at its
// file and line on stderr, with a hint for the common mistakes; one
// summary line goes to stdout. Nothing is started, bound or written (no
// generation bump, no socket, no lock).
func configTest(o startOptions, stdout, stderr io.Writer) int {
	errs, warns := 0, 0
	errorf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...); errs++ }
	warnf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...); warns++ }
	log := slog.New(&testLogHandler{w: stderr, warns: &warns})

	cfg, err := haconf.Load(o.haDir, o.node)
	if err != nil {
		errorf("%s", err)
		if h := hint(err, o); h != "" {
			fmt.Fprintln(stderr, "  hint: "+h)
		}
	}
	if cfg != nil {
		for _, w := range cfg.Warnings {
			warnf("%s", warningLine(w))
		}
		if _, err := mediaSpecs(cfg.HA); err != nil {
			errorf("%s", err)
			fmt.Fprintln(stderr, "  hint: a ucast peer named by host name must resolve at start (/etc/hosts); an address needs no lookup")
		}
		// A medium's missing interface is refused by haconf.Load, as
		// heartbeat 3.0.6 refuses it; a serial device is checked at open.
		checkGroups(cfg, o.haDir, log, stderr, errorf, warnf)
	}
	st, err := loadSettings(o.settingsPath, o.settingsGiven)
	if err != nil {
		errorf("%s", err)
	} else if cfg != nil {
		acceptAnyAuthIndex(cfg, st, o.haDir, log)
	}
	where := o.haDir
	switch {
	case errs > 0:
		fmt.Fprintf(stdout, "%s: %d error(s), %d warning(s): directord would not start\n", where, errs, warns)
		return exitTestCannotRun
	case warns > 0:
		fmt.Fprintf(stdout, "%s: OK with %d warning(s)\n", where, warns)
		return exitTestWarnings
	}
	fmt.Fprintf(stdout, "%s: OK\n", where)
	return 0
}

// checkGroups builds the groups as start does and reads what each
// resource needs: every ldirectord::CFG is parsed and linted, every
// script must be found.
func checkGroups(cfg *haconf.Config, haDir string, log *slog.Logger, stderr io.Writer, errorf, warnf func(string, ...any)) {
	gs, err := groups(cfg, haDir, nil, 0, log)
	if err != nil {
		errorf("%s", err)
		return
	}
	for i, g := range gs {
		line := cfg.Resources.Groups[i].Line
		for _, a := range g.Agents {
			switch a := a.(type) {
			case *resource.Director:
				dc, err := director.ParseFile(a.Path, director.ParseOptions{})
				if err != nil {
					errorf("%s", director.ErrorLine(err))
					continue
				}
				for _, w := range director.Lint(dc) {
					warnf("%s", w)
				}
			case *resource.Script:
				if _, err := a.Locate(); err != nil {
					errorf("%s:%d: group %s: %v: the group cannot be taken over", cfg.Resources.File, line, g.Key, err)
					fmt.Fprintln(stderr, "  hint: a resource script must be executable (chmod +x) in "+filepath.Join(haDir, "resource.d")+" or /etc/init.d")
				}
			}
		}
	}
}

// hint words the fix for the mistakes seen most.
func hint(err error, o startOptions) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "Bad permissions on keyfile"):
		return "chmod 600 " + filepath.Join(o.haDir, haconf.AuthkeysName) + " (heartbeat refuses a key file others can read)"
	case strings.Contains(msg, "is not listed in the node directives"):
		if o.nodeGiven {
			return "--node " + o.node + " must be one of ha.cf's node lines"
		}
		return "this node's name is uname -n (" + o.node + "): ha.cf's node lines must use it exactly (or give --node)"
	case strings.Contains(msg, "in haresources: not a node of ha.cf"):
		return "each haresources line starts with the node that prefers the group: one of ha.cf's node lines, spelled as uname -n there"
	case errors.Is(err, fs.ErrNotExist):
		return "directord reads " + o.haDir + "/{ha.cf,authkeys,haresources} (--hadir)"
	}
	return ""
}

// warningLine words a haconf warning as ldirectord -t words its own.
func warningLine(w haconf.Warning) string {
	if w.Line > 0 {
		return fmt.Sprintf("%s:%d: warning: %s", w.File, w.Line, w.Msg)
	}
	return fmt.Sprintf("%s: warning: %s", w.File, w.Msg)
}

// testLogHandler prints what start would log as a warning (the loaders
// warn through a logger) as a config-test warning, and counts it.
type testLogHandler struct {
	w     io.Writer
	warns *int
}

func (h *testLogHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h *testLogHandler) Handle(_ context.Context, r slog.Record) error {
	*h.warns++
	_, err := fmt.Fprintln(h.w, "warning: "+r.Message)
	return err
}
func (h *testLogHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *testLogHandler) WithGroup(string) slog.Handler      { return h }
