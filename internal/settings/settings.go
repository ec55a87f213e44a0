// Package settings reads the appliance's own settings file
// (/etc/lvsdirector/settings.toml): what ldirectord.cf and ha.cf have no
// words for, such as the metrics endpoint or which authkeys indices the
// heartbeat peer may sign with. Unknown keys are errors, and
// every error names the file and, where there is one, the line.
package settings

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/lvsdirector/director/internal/cfgfile"
	"github.com/lvsdirector/director/internal/printable"
)

// DefaultPath is where the settings are read from when no path is given.
const DefaultPath = "/etc/lvsdirector/settings.toml"

// EnvVar overrides DefaultPath for ldirectord, whose command line has no
// room for another option.
const EnvVar = "LVSDIRECTOR_SETTINGS"

// DefaultMetricsPath is the HTTP path of the metrics endpoint.
const DefaultMetricsPath = "/metrics"

// Settings is the whole file.
type Settings struct {
	// File is where the settings came from ("" when defaults were used
	// because the default file does not exist).
	File      string    `toml:"-"`
	Metrics   Metrics   `toml:"metrics"`
	Heartbeat Heartbeat `toml:"heartbeat"`
	Sync      Sync      `toml:"sync"`
}

// Heartbeat is the [heartbeat] table: directord's heartbeat protocol.
type Heartbeat struct {
	// AcceptAnyAuthIndex accepts packets signed with any index of
	// authkeys, as heartbeat does, instead of only the "auth N" in use
	// (default false: a listed crc is then no way in for a forger). Turn
	// it on only while moving a pair from one "auth N" to another.
	AcceptAnyAuthIndex bool `toml:"accept_any_auth_index"`
	// ScriptTimeout bounds one run of a resource script (start, stop or
	// status); one that runs longer is stopped with its process group and
	// counts as failed. A stop that fails keeps the group held and is
	// retried, so this is how long a hung stop holds the group each try.
	ScriptTimeout Duration `toml:"script_timeout"`
}

// DefaultScriptTimeout is [heartbeat] script_timeout when unset.
const DefaultScriptTimeout = 2 * time.Minute

// Metrics is the [metrics] table.
type Metrics struct {
	// Listen is host:port for the Prometheus endpoint; empty turns it off.
	Listen string `toml:"listen"`
	// Path is the HTTP path served (default /metrics).
	Path string `toml:"path"`
}

// Enabled reports whether a metrics endpoint is configured.
func (m Metrics) Enabled() bool { return m.Listen != "" }

// Defaults are the settings without a file: metrics off.
func Defaults() *Settings {
	s := &Settings{Metrics: Metrics{Path: DefaultMetricsPath}, Heartbeat: Heartbeat{ScriptTimeout: Duration(DefaultScriptTimeout)}}
	_ = checkSync(&s.Sync, func(toml.Key, string) error { return nil }) // the defaults are valid
	return s
}

// Error is a settings error at File (and Line, when known).
type Error struct {
	File string
	Line int // 0 when the error has no single line
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", printable.String(e.File), e.Line, printable.String(e.Msg))
	}
	return fmt.Sprintf("%s: %s", printable.String(e.File), printable.String(e.Msg))
}

// Load reads the settings at path, which must exist.
func Load(path string) (*Settings, error) {
	b, err := cfgfile.ReadFile(path) // a regular file, bounded: not a FIFO nor /dev/zero
	if err != nil {
		return nil, &Error{File: path, Msg: readErr(err)}
	}
	return Parse(path, b)
}

// LoadDefault reads path if it exists and returns Defaults() if it does
// not: for the default path, which a box without settings lacks.
func LoadDefault(path string) (*Settings, error) {
	b, err := cfgfile.ReadFile(path) // a regular file, bounded: not a FIFO nor /dev/zero
	if errors.Is(err, fs.ErrNotExist) {
		return Defaults(), nil
	}
	if err != nil {
		return nil, &Error{File: path, Msg: readErr(err)}
	}
	return Parse(path, b)
}

// FromEnv reads the file named by $LVSDIRECTOR_SETTINGS (which must exist)
// or else DefaultPath (which may be missing). The path returned is the one
// used, made absolute, for a child process to read the same file.
func FromEnv() (*Settings, string, error) {
	if p := os.Getenv(EnvVar); p != "" {
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		s, err := Load(p)
		return s, p, err
	}
	s, err := LoadDefault(DefaultPath)
	return s, DefaultPath, err
}

func readErr(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return "cannot read: " + err.Error()
}

// "toml: line 3 (last key "metrics.listen"): message", as the decoder words
// type mismatches.
var decodeErrRE = regexp.MustCompile(`^toml: (?:line (\d+) )?(?:\(last key "([^"]*)"\): )?(.*)$`)

// Parse reads settings from data; file names the source in errors.
func Parse(file string, data []byte) (*Settings, error) {
	s := Defaults()
	md, err := toml.Decode(string(data), s)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			msg := pe.Message
			if pe.LastKey != "" {
				msg = pe.LastKey + ": " + msg
			}
			return nil, &Error{File: file, Line: pe.Position.Line, Msg: msg}
		}
		e := &Error{File: file, Msg: err.Error()}
		if m := decodeErrRE.FindStringSubmatch(err.Error()); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Msg = m[3]
			if m[2] != "" {
				e.Msg = m[2] + ": " + m[3]
				if e.Line == 0 {
					e.Line = keyLine(data, toml.Key(strings.Split(m[2], ".")))
				}
			}
		}
		return nil, e
	}
	if err := unknownKeys(file, data, md.Undecoded()); err != nil {
		return nil, err
	}
	s.File = file
	if s.Metrics.Path == "" {
		s.Metrics.Path = DefaultMetricsPath
	}
	bad := func(key toml.Key, msg string) error {
		return &Error{File: file, Line: keyLine(data, key), Msg: key.String() + ": " + msg}
	}
	if l := s.Metrics.Listen; l != "" {
		if err := checkListen(l); err != nil {
			return nil, bad(toml.Key{"metrics", "listen"}, err.Error())
		}
	}
	if p := s.Metrics.Path; !strings.HasPrefix(p, "/") || strings.ContainsAny(p, " \t?#") {
		return nil, bad(toml.Key{"metrics", "path"}, fmt.Sprintf("%q is not an absolute URL path (/metrics)", p))
	}
	if t := s.Heartbeat.ScriptTimeout.D(); t < time.Second || t > time.Hour {
		return nil, bad(toml.Key{"heartbeat", "script_timeout"}, fmt.Sprintf("%v is out of range (1s to 1h)", t))
	}
	if err := checkSync(&s.Sync, bad); err != nil {
		return nil, err
	}
	return s, nil
}

// unknownKeys reports the first key (in file order) that nothing decoded.
// Keys below an unknown table are not reported again.
func unknownKeys(file string, data []byte, keys []toml.Key) error {
	if len(keys) == 0 {
		return nil
	}
	unknown := map[string]bool{}
	for _, k := range keys {
		unknown[k.String()] = true
	}
	var top []toml.Key
	for _, k := range keys {
		inner := false
		for i := 1; i < len(k); i++ {
			if unknown[k[:i].String()] {
				inner = true
				break
			}
		}
		if !inner {
			top = append(top, k)
		}
	}
	first, firstLine := top[0], keyLine(data, top[0])
	for _, k := range top[1:] {
		if l := keyLine(data, k); l > 0 && (firstLine == 0 || l < firstLine) {
			first, firstLine = k, l
		}
	}
	msg := "unknown key " + first.String()
	if len(top) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(top)-1)
	}
	return &Error{File: file, Line: firstLine, Msg: msg}
}

// checkListen accepts host:port with a numeric port 1-65535; the host may
// be empty (every address), an IP address or a name.
func checkListen(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port (127.0.0.1:9773, [::1]:9773, :9773)", s)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || port != strconv.Itoa(n) {
		return fmt.Errorf("%q: port %q is not a number from 1 to 65535", s, port)
	}
	if host == "" || net.ParseIP(host) != nil {
		return nil
	}
	if strings.HasPrefix(s, "[") {
		return fmt.Errorf("%q: %q is not an IPv6 address", s, host)
	}
	if !hostnameRE.MatchString(host) {
		return fmt.Errorf("%q: %q is neither an IP address nor a host name", s, host)
	}
	return nil
}

var hostnameRE = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$`)
