package director

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Warning is a problem of a configuration that parses and would run, but
// probably not as its author meant (ldirectord -t reports them).
type Warning struct {
	File string
	Line int // 0: the file as a whole
	Msg  string
}

func (w Warning) String() string {
	if w.Line == 0 {
		return fmt.Sprintf("%s: warning: %s", quoteOdd(w.File), w.Msg)
	}
	return fmt.Sprintf("%s:%d: warning: %s", quoteOdd(w.File), w.Line, w.Msg)
}

// Lint looks for the mistakes a parsed file can still hold: programs that
// are not there, directories missing, virtuals nobody can be sent to. It
// reads the file system but changes nothing.
func Lint(cfg *Config) []Warning {
	var out []Warning
	warn := func(line int, format string, args ...any) {
		out = append(out, Warning{File: cfg.File, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	g := cfg.Global
	if g.Callback != "" {
		if err := lintProgram(firstWord(g.Callback)); err != nil {
			warn(cfg.globalLine["callback"], "callback %s: %v: it is run each time the file changes", cfQuote(g.Callback), err)
		}
	}
	if d := g.MaintenanceDir; d != "" {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			warn(cfg.globalLine["maintenancedir"], "maintenancedir %s is not a directory: no real will ever be put in maintenance", cfQuote(d))
		}
	}
	if l := g.Logfile; strings.HasPrefix(l, "/") {
		if st, err := os.Stat(filepath.Dir(l)); err != nil || !st.IsDir() {
			warn(cfg.globalLine["logfile"], "logfile %s: directory %s does not exist", cfQuote(l), cfQuote(filepath.Dir(l)))
		}
	}
	mailWanted := false
	for _, v := range cfg.Virtuals {
		c := v.Check
		if len(v.Reals) == 0 && v.Fallback == nil {
			warn(v.Line, "virtual %s has no real servers and no fallback: the service has no destination and its clients are refused", v.ID())
		}
		switch c.Type {
		case "external", "external-perl":
			if err := lintProgram(firstWord(c.Command)); err != nil {
				warn(v.Line, "checkcommand %s: %v: every real of %s will be taken down", cfQuote(c.Command), err, v.ID())
			}
		}
		if v.FallbackCommand != "" {
			if err := lintProgram(firstWord(v.FallbackCommand)); err != nil {
				warn(v.Line, "fallbackcommand %s: %v", cfQuote(v.FallbackCommand), err)
			}
		}
		if len(v.EmailAlert) > 0 && v.SMTP == "" {
			mailWanted = true
		}
		for _, r := range v.Reals {
			if r.Dest.Weight == 0 && v.Fallback == nil && len(v.Reals) == 1 {
				warn(r.Line, "the only real of %s has weight 0: it is never sent a connection", v.ID())
			}
		}
	}
	if mailWanted {
		if _, err := os.Stat("/usr/sbin/sendmail"); err != nil {
			warn(cfg.globalLine["emailalert"], "emailalert without smtp= and no /usr/sbin/sendmail: alerts are sent to localhost:25")
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

// lintProgram says why the program a check or hook names would not run.
func lintProgram(name string) error {
	if name == "" {
		return fmt.Errorf("no program named")
	}
	if !strings.Contains(name, "/") {
		if _, err := exec.LookPath(name); err != nil {
			return fmt.Errorf("not found on PATH")
		}
		return nil
	}
	st, err := os.Stat(name)
	switch {
	case err != nil:
		return fmt.Errorf("not found")
	case st.IsDir():
		return fmt.Errorf("is a directory")
	case st.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("not executable")
	}
	return nil
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}
