// Package ldlog writes log/slog records the way ldirectord writes its log:
// "[Tue Nov 24 05:58:34 2026|ldirectord.cf|1234] message" to a file that is
// opened for each line (so logrotate needs no signal), to syslog, to stderr
// (-d), or "[<localtime>] message" to stdout (supervised=yes).
package ldlog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"strings"
	"sync"
	"time"
)

// Target says where lines go.
type Target struct {
	File       string    // a path: append a line at a time
	Facility   string    // a syslog facility (logfile= without a leading /)
	W          io.Writer // stderr or stdout
	Supervised bool      // "[localtime] msg" format
	Name       string    // config name in the prefix
	Level      slog.Level
}

// Handler is a slog.Handler for a Target.
type Handler struct {
	t     Target
	mu    *sync.Mutex
	sys   *syslog.Writer
	attrs string
}

// New returns a handler; a syslog facility that cannot be opened is an error.
func New(t Target) (*Handler, error) {
	h := &Handler{t: t, mu: &sync.Mutex{}}
	if t.Facility != "" {
		pri, err := Facility(t.Facility)
		if err != nil {
			return nil, err
		}
		w, err := syslog.New(pri|syslog.LOG_INFO, "ldirectord")
		if err != nil {
			return nil, fmt.Errorf("syslog: %w", err)
		}
		h.sys = w
	}
	return h, nil
}

// Facility maps a syslog facility name (daemon, local0, ...) to its priority.
func Facility(name string) (syslog.Priority, error) {
	m := map[string]syslog.Priority{
		"kern": syslog.LOG_KERN, "user": syslog.LOG_USER, "mail": syslog.LOG_MAIL, "daemon": syslog.LOG_DAEMON,
		"auth": syslog.LOG_AUTH, "syslog": syslog.LOG_SYSLOG, "lpr": syslog.LOG_LPR, "news": syslog.LOG_NEWS,
		"uucp": syslog.LOG_UUCP, "cron": syslog.LOG_CRON, "authpriv": syslog.LOG_AUTHPRIV, "ftp": syslog.LOG_FTP,
		"local0": syslog.LOG_LOCAL0, "local1": syslog.LOG_LOCAL1, "local2": syslog.LOG_LOCAL2, "local3": syslog.LOG_LOCAL3,
		"local4": syslog.LOG_LOCAL4, "local5": syslog.LOG_LOCAL5, "local6": syslog.LOG_LOCAL6, "local7": syslog.LOG_LOCAL7,
	}
	p, ok := m[strings.ToLower(name)]
	if !ok {
		return 0, fmt.Errorf("logfile %q is neither an absolute path nor a syslog facility", name)
	}
	return p, nil
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.t.Level }

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range as {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	c.attrs = b.String()
	return &c
}

// WithGroup implements slog.Handler (groups are flattened).
func (h *Handler) WithGroup(string) slog.Handler { return h }

// Handle implements slog.Handler.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	if r.Level >= slog.LevelError && !strings.HasPrefix(r.Message, "Error") {
		b.WriteString("Error: ")
	}
	b.WriteString(r.Message)
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	msg := strings.ReplaceAll(b.String(), "\n", " ")
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sys != nil {
		if r.Level >= slog.LevelError {
			return h.sys.Err(msg)
		}
		return h.sys.Info(msg)
	}
	ts := r.Time
	if ts.IsZero() {
		ts = time.Now()
	}
	var line string
	if h.t.Supervised {
		line = fmt.Sprintf("[%s] %s\n", ts.Format("Mon Jan _2 15:04:05 2006"), msg)
	} else {
		line = fmt.Sprintf("[%s|%s|%d] %s\n", ts.Format("Mon Jan _2 15:04:05 2006"), h.t.Name, os.Getpid(), msg)
	}
	if h.t.W != nil {
		_, err := io.WriteString(h.t.W, line)
		return err
	}
	f, err := os.OpenFile(h.t.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
