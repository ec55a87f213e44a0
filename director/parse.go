package director

// This file reads ldirectord.cf the way ldirectord 4.12 does (lexical
// quirks included) and fills Config with every derived default applied.
//
// Principle: a file ldirectord accepts is either accepted here with the same
// meaning, or rejected with an error naming the file and line. A file
// ldirectord rejects is rejected here too (with the two exceptions noted
// below). Where ldirectord pulled a value out of a line with an unanchored
// regular expression and silently ignored the rest, the rest must be
// whitespace (or, on global lines, a "#" comment, which ldirectord ignores
// there by the same accident and which users rely on).
//
// Deliberate differences from ldirectord
//
//   - Values ldirectord extracts with an unanchored pattern must be complete:
//     scheduler=Wrr (ldirectord: "rr"), checktimeout=3abc (3),
//     checktimeout=-3 (3), service=http-x (http), checktype=negotiate2
//     (combined 2), protocol=tcp x, httpmethod=GETX, smtp=host:25 (port
//     dropped), schedflags=a b, persistent=5s, load="a b", text after the
//     closing quote of request/receive/login/passwd/database/secret/
//     checkcommand/fallbackcommand/monitorfile/virtualhost, and trailing
//     text on virtual= and real= lines are errors. Trailing whitespace is
//     accepted, and on global lines a trailing "# comment" after such a
//     value (checktimeout=3 # c, virtual=1.2.3.4:80 # web) is accepted.
//   - virtual=1.2.3.4 (no port) is an error; ldirectord reads it as
//     firewall mark 1. virtual=0 (firewall mark 0) is an error.
//   - scheduler must be one the kernel has: rr wrr lc wlc lblc lblcr dh sh
//     sed nq fo ovf mh twos (ldirectord accepts any [a-z]+ and leaves the
//     failure to ipvsadm at run time).
//   - Values ipvsadm would refuse at run time are errors at their line:
//     weight above 65535, persistent=0 or above 2678400 (31 days), netmask
//     octets above 255, schedflags names ipvsadm does not know, and
//     sh-*/mh-* flags with another scheduler. Numbers above 2147483647 are
//     errors everywhere.
//   - IPv4 addresses must be canonical dotted quads; inet_aton forms that
//     getaddrinfo accepts (010.0.0.1 as octal, 10.1, 167772161) are errors.
//     IPv6 fallbacks must be bracketed ([::1]:80); ldirectord would take
//     the last ":group" of a bare address as the port.
//   - In real=, "u:N l:N" (u first) is an error; ldirectord silently drops
//     the u:N. Anything between the forwarding method, weight,
//     "request", "receive", l:N and u:N other than whitespace is an error
//     (ldirectord finds these pieces anywhere in the line: "gate x 5" has
//     weight 5 there, and "gate "/a", "b" 5" loses the request/receive).
//     Quoted per-real request/receive strings cannot contain '"'.
//   - Files ldirectord rejects by accident that are accepted here: a
//     virtual= line that is the last line of the file (ldirectord parses it
//     a second time and reports "duplicate virtual server"); a per-real
//     request/receive string containing a space followed by a digit when no
//     weight is given (gate "/x 5", "ok": ldirectord takes the 5 as the
//     weight and then fails; here the strings are read as written).
//   - checkcommand without quotes may not end in whitespace (ldirectord
//     would try to execute "/path " and always fail the check). An opening
//     quote without a closing one (checkcommand, fallbackcommand,
//     monitorfile, virtualhost) is an error.
//   - receive (and a per-real receive) must compile as a Go (RE2) regular
//     expression: Perl-only syntax such as backreferences (\1), lookaround
//     ((?=, (?<=), possessive quantifiers or \Z is an error at its line.
//   - execute= and fallback= with no value are errors (ldirectord starts
//     "ldirectord  start", or resolves an empty host name).
//   - A real= range may hold at most 65536 addresses and a file at most
//     262144 reals in total.
//   - The same real server (address and port after ipvsadm's port mapping)
//     twice in one virtual is an error ("duplicate real server"):
//     ldirectord would get "Destination already exists" from ipvsadm and
//     then check both entries against the one kernel destination.
//   - "duplicate virtual server" is reported at the virtual= line of the
//     second definition (ldirectord reports the line that ended its block).
//   - The first/last message of a reversed range says "first address must
//     not be greater than the last" (ldirectord's text says the opposite).
//   - emailalertstatus= (empty) is an error; ldirectord reads it as none.
//     logfile="" is an error.
//   - A global port name in fallback= only needs to resolve for the
//     protocol of the virtuals that use it (ldirectord requires it to
//     resolve for both tcp and udp).
//   - The global fallback/fallback6 is not applied to firewall-mark
//     virtuals: ldirectord builds an address-less destination for them that
//     ipvsadm refuses, so in effect they have none. A fallback inside a
//     firewall-mark virtual works as in ldirectord.
//   - A per-virtual checkinterval applies to that virtual whatever fork=
//     says (ldirectord honours it only with fork=yes).
//   - Port names of real= are looked up for tcp, then udp (ldirectord asks
//     getservbyname for any protocol).
//   - The logfile is not opened at parse time (ldirectord tries to open it
//     unless -d or supervised=yes is in force; the daemon does that when it
//     starts logging). monitorfile is opened for append at parse time, as in
//     ldirectord.
//   - Warnings (checkcount deprecated, bare supervised, missing
//     maintenancedir, checkinterval in a virtual with fork=no) are not
//     reported: Config has nowhere to put them.
//
// Fields config.go would need (not added; worked around as described):
//
//   - Config.Warnings []Error: for the warnings above.
//   - Real.CheckPort uint16: ldirectord checks a real on checkport, else on
//     the port written on its real= line, else on the default port of the
//     service (http 80, ...), and not on the port ipvsadm maps the
//     destination to. With "real=10.0.0.1:8080 gate" in a virtual on port
//     80 ldirectord checks 8080 while the kernel forwards to 80; with
//     "real=10.0.0.1 masq" in a virtual on 8080 with service=http it checks
//     80. Check.Port only carries checkport, so consumers using
//     Real.Dest.Port check the mapped port instead.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/lvsdirector/director/internal/cfgfile"
	"github.com/lvsdirector/director/internal/printable"
	"github.com/lvsdirector/director/ipvs"
)

const (
	cfMaxRangeSize = 1 << 16 // addresses in one real= range
	cfMaxReals     = 1 << 18 // reals in one file
	cfMaxNumber    = math.MaxInt32
	cfMaxWeight    = 65535      // ipvsadm -w
	cfMaxPersist   = 86400 * 31 // ipvsadm -p
	cfDefaultLog   = "/var/log/ldirectord.log"
	cfDefaultCheck = "/bin/true"
)

// cfSchedulers are the kernel's IPVS schedulers (ip_vs_<name>.ko).
var cfSchedulers = map[string]bool{
	"rr": true, "wrr": true, "lc": true, "wlc": true, "lblc": true, "lblcr": true,
	"dh": true, "sh": true, "sed": true, "nq": true, "fo": true, "ovf": true,
	"mh": true, "twos": true,
}

const cfSchedulerList = "rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos"

// cfServices are the values of service=.
var cfServices = map[string]bool{
	"dns": true, "ftp": true, "http": true, "https": true, "http_proxy": true,
	"imap": true, "imaps": true, "ldap": true, "ldaps": true, "nntp": true,
	"mysql": true, "none": true, "oracle": true, "pop": true, "pops": true,
	"radius": true, "pgsql": true, "sip": true, "smtp": true,
	"submission": true, "simpletcp": true,
}

// cfPortServices is the service a virtual gets from its port when it has no
// service= line.
var cfPortServices = map[uint16]string{
	21: "ftp", 25: "smtp", 53: "dns", 80: "http", 110: "pop", 119: "nntp",
	143: "imap", 389: "ldap", 443: "https", 587: "submission", 636: "ldaps",
	993: "imaps", 995: "pops", 1521: "oracle", 1812: "radius",
	3128: "http_proxy", 3306: "mysql", 5060: "sip", 5432: "pgsql",
}

// cfSchedFlags are ipvsadm -b's names; sched is the scheduler a flag needs.
var cfSchedFlags = map[string]struct {
	flag  uint32
	sched string
}{
	"flag-1":      {ipvs.FlagSched1, ""},
	"flag-2":      {ipvs.FlagSched2, ""},
	"flag-3":      {ipvs.FlagSched3, ""},
	"sh-fallback": {ipvs.FlagSched1, "sh"},
	"sh-port":     {ipvs.FlagSched2, "sh"},
	"mh-fallback": {ipvs.FlagSched1, "mh"},
	"mh-port":     {ipvs.FlagSched2, "mh"},
}

// cfEmailStatuses are the daemon states of emailalertstatus, in the order
// Virtual.EmailAlertStatus lists them.
var cfEmailStatuses = []string{"starting", "running", "stopping", "reloading"}

// cfGlobalOnly and virtualOnly name directives valid at one level only, for
// hints in "Unknown command" errors.
var cfGlobalOnly = map[string]bool{
	"autoreload": true, "callback": true, "logfile": true, "execute": true,
	"fork": true, "supervised": true, "readdquiescent": true,
	"maintenancedir": true, "emailalertfrom": true, "virtual": true,
	"virtual6": true,
}

var cfVirtualOnly = map[string]bool{
	"real": true, "real6": true, "request": true, "receive": true,
	"checktype": true, "checkcommand": true, "checkport": true, "login": true,
	"passwd": true, "database": true, "secret": true, "load": true,
	"scheduler": true, "persistent": true, "schedflags": true, "netmask": true,
	"protocol": true, "ops": true, "service": true, "httpmethod": true,
	"virtualhost": true, "monitorfile": true, "servicename": true,
	"comment": true,
}

// cfOpenForAppend checks that monitorfile can be opened for append (creating
// it, as Perl's open(">>") does). Tests replace it.
var cfOpenForAppend = func(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o666)
	if err != nil {
		return err
	}
	return f.Close()
}

// ParseFile reads a configuration file, and refuses checks this build
// cannot perform.
func ParseFile(path string, opts ParseOptions) (*Config, error) {
	// A regular file of bounded size: a FIFO must not hang the start, nor
	// /dev/zero fill the memory.
	b, err := cfgfile.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: "can not open file " + path + ": " + cfErrText(err)}
	}
	cfg, err := Parse(path, bytes.NewReader(b), opts)
	if err != nil {
		return nil, err
	}
	if err := checksSupported(cfg); err != nil {
		return nil, err
	}
	if opts.FindConfig != nil {
		if err := executeCycles(path, cfg, opts); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// Parse parses a configuration read from r; name is used in Config.File and
// in errors. The first error is returned, as an *Error.
func Parse(name string, r io.Reader, opts ParseOptions) (*Config, error) {
	if name == "" {
		name = "ldirectord.cf"
	}
	p := &cfParser{
		name: name,
		opts: opts,
		r:    bufio.NewReader(r),
		cfg: &Config{File: name, Global: Global{
			Logfile: cfDefaultLog,
		}},
		g: cfGlobals{
			checkTimeout:     -1,
			negotiateTimeout: -1,
			checkInterval:    10,
			checkCount:       1,
			failureCount:     1,
			cleanStop:        true,
			emailAlertStatus: append([]string(nil), cfEmailStatuses...),
		},
		seen: map[string]int{},
	}
	if err := p.run(); err != nil {
		return nil, err
	}
	return p.cfg, nil
}

// cfGlobals are the global directives that are defaults for each virtual,
// applied once the whole file has been read.
type cfGlobals struct {
	checkTimeout, negotiateTimeout          int // -1 = unset
	checkInterval, checkCount, failureCount int
	fallback, fallback6                     *cfFallbackSpec
	fallbackCommand                         string
	quiescent, cleanStop                    bool
	emailAlert                              []string
	emailAlertFreq                          int
	emailAlertStatus                        []string
	smtp                                    string
}

// cfFallbackSpec is a parsed fallback= value.
type cfFallbackSpec struct {
	line    int
	host    string // as written, brackets removed
	addr    netip.Addr
	portTok string // "" when omitted
	fwd     ipvs.Fwd
	// For the global form, the port resolved per protocol ("tcp", "udp")
	// and why it did not resolve.
	ports   map[string]uint16
	portErr map[string]string
}

// cfPendingReal is a real= line kept until its virtual's block has ended (as
// ldirectord does, since resolution needs the final protocol).
type cfPendingReal struct {
	text string
	line int
}

// cfVstate is a virtual being built.
type cfVstate struct {
	v        *Virtual
	v6       bool
	fwmark   bool
	hostTok  string // unresolved host of ip:port virtuals
	bracket  bool   // hostTok was [v6]
	portTok  string
	port     uint16 // resolved virtual port
	protocol string // tcp, udp, fwm

	checkTimeout, negotiateTimeout          int // -1 = unset
	checkInterval, checkCount, failureCount int // -1 = unset
	hasService                              bool
	persistent                              int // -1 = unset
	netmask                                 string
	schedFlags                              uint32
	schedFlagsSched                         string // scheduler the flags need
	schedFlagsLine                          int
	ops                                     bool
	fallback                                *cfFallbackSpec
	fallbackCommand                         *string
	quiescent, cleanStop                    *bool
	emailAlert                              []string
	hasEmailAlert                           bool
	emailAlertFreq                          *int
	emailAlertStatus                        []string
	hasEmailAlertStatus                     bool
	smtp                                    *string
	reals                                   []cfPendingReal
}

type cfParser struct {
	name   string
	opts   ParseOptions
	r      *bufio.Reader
	lineNo int
	eof    bool

	cfg      *Config
	g        cfGlobals
	vs       []*cfVstate
	seen     map[string]int // virtual id → line
	nreals   int
	execSeen map[string]bool

	hostname    string
	hasHostname bool

	// Where the last virtual block ended because of a blank line, for
	// hints on the "Unknown command" that typically follows.
	blankEnd, blankEndStart int
}

func (p *cfParser) errf(line int, format string, args ...any) error {
	return &Error{File: p.name, Line: line, Msg: printable.String(fmt.Sprintf(format, args...))}
}

// next returns the next line without its "\n".
func (p *cfParser) next() (string, bool, error) {
	if p.eof {
		return "", false, nil
	}
	s, err := p.r.ReadString('\n')
	if err != nil {
		p.eof = true
		if err != io.EOF {
			return "", false, p.errf(p.lineNo+1, "read error: %s", cfErrText(err))
		}
		if s == "" {
			return "", false, nil
		}
	}
	p.lineNo++
	return strings.TrimSuffix(s, "\n"), true, nil
}

func (p *cfParser) run() error {
	line, ok, err := p.next()
	for ok {
		if name, val, isDir := cfSplitDirective(line); isDir && (name == "virtual" || name == "virtual6") {
			line, ok, err = p.virtualBlock(name == "virtual6", val)
			if err != nil {
				return err
			}
			continue
		}
		if err := p.global(line); err != nil {
			return err
		}
		line, ok, err = p.next()
	}
	if err != nil {
		return err
	}
	return p.finish()
}

// ---------------------------------------------------------------------------
// Lexical helpers

// cfIsSpace is Perl's \s for bytes.
func cfIsSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func cfTrimLeftSpace(s string) string {
	i := 0
	for i < len(s) && cfIsSpace(s[i]) {
		i++
	}
	return s[i:]
}

func cfTrimRightSpace(s string) string {
	i := len(s)
	for i > 0 && cfIsSpace(s[i-1]) {
		i--
	}
	return s[:i]
}

func cfIsBlank(s string) bool { return cfTrimLeftSpace(s) == "" }

func cfIsCommentLine(s string) bool {
	t := cfTrimLeftSpace(s)
	return t != "" && t[0] == '#'
}

func cfIsNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func cfIsDigit(c byte) bool { return c >= '0' && c <= '9' }

// cfAll reports whether s is non-empty and every byte satisfies ok.
func cfAll(s string, ok func(byte) bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func cfAllDigits(s string) bool { return cfAll(s, cfIsDigit) }

// cfSplitDirective splits "name = value" (ldirectord's /^name\s*=\s*(.*)/).
func cfSplitDirective(s string) (name, value string, ok bool) {
	i := 0
	for i < len(s) && cfIsNameChar(s[i]) {
		i++
	}
	if i == 0 {
		return "", "", false
	}
	name = s[:i]
	j := i
	for j < len(s) && cfIsSpace(s[j]) {
		j++
	}
	if j >= len(s) || s[j] != '=' {
		return name, "", false
	}
	return name, cfTrimLeftSpace(s[j+1:]), true
}

// cfTolerant is the part of a value that ldirectord's unanchored pattern
// looked at: a "#" comment (possible on global lines only) and trailing
// whitespace are dropped.
func cfTolerant(v string) string {
	if i := strings.IndexByte(v, '#'); i >= 0 {
		v = v[:i]
	}
	return cfTrimRightSpace(v)
}

// cfParseNum reads a non-negative decimal where ldirectord used (\d+).
func cfParseNum(v string) (int, bool) {
	s := cfTolerant(v)
	if !cfAllDigits(s) {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > cfMaxNumber {
		return 0, false
	}
	return int(n), true
}

// cfQuoted reads a value ldirectord matched with /"(.*)"/: the text between
// the first and the last double quote. After the closing quote only
// whitespace (or a # comment on global lines) may follow. ok is false when
// the value does not start with a quote or has no closing quote (ldirectord:
// "Unknown command"); trailing is true when other text follows.
func cfQuoted(v string) (content string, ok, trailing bool) {
	if v == "" || v[0] != '"' {
		return "", false, false
	}
	last := strings.LastIndexByte(v, '"')
	if last == 0 {
		return "", false, false
	}
	return v[1:last], true, cfTolerant(v[last+1:]) != ""
}

// cfOptQuoted reads a value that may be in double quotes
// (/"(.*)"/ or else /(.*)/), for checkcommand, fallbackcommand, monitorfile.
func cfOptQuoted(v string) (content string, wasQuoted, trailing, unbalanced bool) {
	if c, ok, tr := cfQuoted(v); ok {
		return c, true, tr, false
	}
	if v != "" && v[0] == '"' {
		return v, false, false, true
	}
	return v, false, false, false
}

func cfYesNo(v string) (bool, bool) {
	switch v {
	case "yes":
		return true, true
	case "no":
		return false, true
	}
	return false, false
}

func cfErrText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func cfQuote(s string) string { return strconv.Quote(s) }

// yesNoErr is ldirectord's "X must be 'yes' or 'no'" with a hint when the
// value only has trailing whitespace or a comment after yes/no.
func (p *cfParser) yesNoErr(line int, name, v string) error {
	msg := name + " must be 'yes' or 'no'"
	if t := cfTolerant(v); (t == "yes" || t == "no") && t != v {
		msg += ", not " + cfQuote(v) + " (no trailing whitespace or comment is allowed after yes/no, as in ldirectord)"
	}
	return p.errf(line, "%s", msg)
}

// ---------------------------------------------------------------------------
// Global lines

func (p *cfParser) unknownGlobal(line string) error {
	msg := "Unknown command " + cfQuote(line)
	name, _, isDir := cfSplitDirective(cfTrimLeftSpace(line))
	switch {
	case line != "" && cfIsSpace(line[0]) && p.blankEnd > 0:
		msg += fmt.Sprintf(" (the virtual block of line %d ended at the blank line %d; a blank line ends a virtual block)", p.blankEndStart, p.blankEnd)
	case line != "" && cfIsSpace(line[0]):
		msg += " (global directives start in column 0; lines of a virtual block follow its virtual= line and are indented by at least 4 spaces or a tab)"
	case isDir && cfVirtualOnly[name]:
		msg += " (" + name + " is only valid inside a virtual block, indented)"
	case (name == "logfile" || name == "callback") && isDir:
		msg += " (the " + name + " value must be in double quotes)"
	}
	return p.errf(p.lineNo, "%s", msg)
}

func (p *cfParser) global(line string) error {
	if cfIsBlank(line) || cfIsCommentLine(line) {
		return nil
	}
	n := p.lineNo
	g := &p.g
	defer func() { p.blankEnd = 0 }()
	if strings.HasPrefix(line, "supervised") {
		if name, v, ok := cfSplitDirective(line); ok && name == "supervised" && (v == "yes" || v == "no") {
			p.cfg.Global.Supervised = v == "yes"
			return nil
		}
		if cfIsBlank(line[len("supervised"):]) {
			p.cfg.Global.Supervised = true // bare "supervised": ldirectord warns
			return nil
		}
		return p.errf(n, "supervised must be 'yes' or 'no'")
	}
	name, v, ok := cfSplitDirective(line)
	if !ok {
		if name == "timeout" {
			return p.errf(n, "timeout directive deprecated in favour of checktimeout and negotiatetimeout")
		}
		return p.unknownGlobal(line)
	}
	var err error
	switch name {
	case "checktimeout":
		g.checkTimeout, err = p.positive(n, v, "invalid check timeout value")
	case "negotiatetimeout":
		g.negotiateTimeout, err = p.positive(n, v, "invalid negotiate timeout value")
	case "connecttimeout":
		err = p.errf(n, "connecttimeout directive deprecated in favour of negotiatetimeout")
	case "timeout":
		err = p.errf(n, "timeout directive deprecated in favour of checktimeout and negotiatetimeout")
	case "checkinterval":
		g.checkInterval, err = p.positive(n, v, "invalid check interval value")
	case "checkcount":
		g.checkCount, err = p.positive(n, v, "invalid check count value")
	case "failurecount":
		g.failureCount, err = p.positive(n, v, "invalid failure count value")
	case "fallback", "fallback6":
		var fb *cfFallbackSpec
		fb, err = p.parseFallback(n, v)
		if err == nil {
			err = p.resolveGlobalFallback(fb, name == "fallback6")
		}
		if name == "fallback" {
			g.fallback = fb
		} else {
			g.fallback6 = fb
		}
	case "fallbackcommand":
		// The global form keeps quotes: the string goes to the shell.
		if v == "" {
			return p.errf(n, "invalid fallback command")
		}
		g.fallbackCommand = v
	case "autoreload":
		p.cfg.Global.AutoReload, err = p.yesNo(n, name, v)
	case "callback":
		c, ok, tr := cfQuoted(v)
		if !ok {
			return p.unknownGlobal(line)
		}
		if tr {
			return p.errf(n, "invalid callback: text after the closing quote in %s", cfQuote(v))
		}
		p.cfg.Global.Callback = c
	case "logfile":
		c, ok, tr := cfQuoted(v)
		if !ok {
			return p.unknownGlobal(line)
		}
		if tr {
			return p.errf(n, "unable to open logfile: text after the closing quote in %s", cfQuote(v))
		}
		if c == "" {
			return p.errf(n, "unable to open logfile: empty name")
		}
		p.cfg.Global.Logfile = c
	case "execute":
		c := strings.TrimSpace(v)
		if c == "" {
			return p.errf(n, "invalid execute: no configuration file given")
		}
		if p.execSeen == nil {
			p.execSeen = map[string]bool{}
		}
		if !p.execSeen[c] {
			p.execSeen[c] = true
			p.cfg.Global.Execute = append(p.cfg.Global.Execute, c)
			p.cfg.executeLine = append(p.cfg.executeLine, n)
		}
	case "fork":
		p.cfg.Global.Fork, err = p.yesNo(n, name, v)
	case "quiescent":
		g.quiescent, err = p.yesNo(n, name, v)
	case "readdquiescent":
		p.cfg.Global.ReaddQuiescent, err = p.yesNo(n, name, v)
	case "cleanstop":
		g.cleanStop, err = p.yesNo(n, name, v)
	case "emailalert":
		g.emailAlert, err = p.emailAlert(n, v)
	case "emailalertfreq":
		g.emailAlertFreq, err = p.emailAlertFreq(n, v)
	case "emailalertstatus":
		g.emailAlertStatus, err = p.emailAlertStatus(n, v)
	case "emailalertfrom":
		if v == "" {
			return p.errf(n, "no email from address specified")
		}
		from := cfTrimRightSpace(v)
		if err := p.mailHeader(n, "emailalertfrom", from); err != nil {
			return err
		}
		p.cfg.Global.EmailAlertFrom = from
	case "smtp":
		g.smtp, err = p.smtp(n, v)
	case "maintenancedir":
		if v == "" {
			return p.errf(n, "maintenance directory not specified")
		}
		p.cfg.Global.MaintenanceDir = v
	default:
		return p.unknownGlobal(line)
	}
	return err
}

func (p *cfParser) positive(line int, v, msg string) (int, error) {
	n, ok := cfParseNum(v)
	if !ok || n <= 0 {
		return 0, p.errf(line, "%s: %s is not a whole number of at least 1 (at most %d)", msg, cfQuote(v), cfMaxNumber)
	}
	return n, nil
}

func (p *cfParser) yesNo(line int, name, v string) (bool, error) {
	b, ok := cfYesNo(v)
	if !ok {
		return false, p.yesNoErr(line, name, v)
	}
	return b, nil
}

func (p *cfParser) emailAlert(line int, v string) ([]string, error) {
	s := strings.TrimSpace(v)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' && !strings.Contains(s[1:len(s)-1], `"`) {
		s = s[1 : len(s)-1]
	}
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			if err := p.mailHeader(line, "emailalert", a); err != nil {
				return nil, err
			}
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, p.errf(line, "no email address specified")
	}
	return out, nil
}

// mailHeader refuses control characters in what becomes a mail header
// (From, To, Subject): a CR or LF there would let the file add headers
// (Bcc:) or end the headers early.
func (p *cfParser) mailHeader(line int, name, v string) error {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return p.errf(line, "invalid %s %s: control character %s (it would go into the mail headers)", name, cfQuote(v), cfQuote(string(c)))
		}
	}
	return nil
}

func (p *cfParser) emailAlertFreq(line int, v string) (int, error) {
	n, ok := cfParseNum(v)
	if !ok {
		return 0, p.errf(line, "invalid email alert frequency: %s is not a whole number of seconds", cfQuote(v))
	}
	return n, nil
}

// emailAlertStatus parses "all", "none" or a comma list of states.
func (p *cfParser) emailAlertStatus(line int, v string) ([]string, error) {
	if v == "" {
		return nil, p.errf(line, "invalid email alert status: empty (use \"none\" to send no alerts)")
	}
	// Perl's split /\s*,\s*/ drops trailing empty fields.
	parts := cfSplitComma(v)
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	none := false
	for _, s := range parts {
		if s == "none" {
			none = true
		}
	}
	set := map[string]bool{}
	for _, s := range parts {
		switch s {
		case "none":
			continue
		case "all":
			for _, st := range cfEmailStatuses {
				set[st] = true
			}
		case "starting", "running", "stopping", "reloading":
			set[s] = true
		default:
			return nil, p.errf(line, "invalid email alert status at: %s (must be all, none, starting, running, stopping or reloading)", cfQuote(s))
		}
		if none {
			return nil, p.errf(line, "invalid email alert status: %s specified with \"none\"", cfQuote(s))
		}
	}
	out := []string{}
	for _, st := range cfEmailStatuses {
		if set[st] {
			out = append(out, st)
		}
	}
	return out, nil
}

// cfSplitComma is Perl's split /\s*,\s*/.
func cfSplitComma(v string) []string {
	raw := strings.Split(v, ",")
	for i := range raw {
		if i > 0 {
			raw[i] = cfTrimLeftSpace(raw[i])
		}
		if i < len(raw)-1 {
			raw[i] = cfTrimRightSpace(raw[i])
		}
	}
	return raw
}

func (p *cfParser) smtp(line int, v string) (string, error) {
	s := cfTolerant(v)
	ok := s != ""
	for i := 0; i < len(s) && ok; i++ {
		ok = cfIsNameChar(s[i]) || s[i] == '.' || s[i] == '+'
	}
	if !ok {
		return "", p.errf(line, "invalid SMTP server address %s (a host name or address, letters, digits and ._+- only)", cfQuote(v))
	}
	return s, nil
}

// ---------------------------------------------------------------------------
// Fallback

// parseFallback reads "host[:port] [gate|masq|ipip]" (syntax only).
func (p *cfParser) parseFallback(line int, v string) (*cfFallbackSpec, error) {
	fields := strings.FieldsFunc(v, func(r rune) bool { return r < 0x80 && cfIsSpace(byte(r)) })
	if len(fields) == 0 || len(fields) > 2 {
		return nil, p.errf(line, "invalid fallback server: %s (expected host[:port] [gate|masq|ipip])", cfQuote(v))
	}
	fb := &cfFallbackSpec{line: line, fwd: ipvs.Route}
	if len(fields) == 2 {
		f, err := ipvs.ParseFwd(fields[1])
		if err != nil {
			return nil, p.errf(line, "forward method must be gate, masq or ipip, not %s", cfQuote(fields[1]))
		}
		fb.fwd = f
	}
	hp := fields[0]
	if strings.HasPrefix(hp, "[") {
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return nil, p.errf(line, "invalid fallback server: %s", cfQuote(v))
		}
		fb.host = hp[:end+1]
		rest := hp[end+1:]
		if rest != "" {
			if rest[0] != ':' || !cfIsPortTok(rest[1:]) {
				return nil, p.errf(line, "invalid fallback server: %s", cfQuote(v))
			}
			fb.portTok = rest[1:]
		}
	} else {
		host := hp
		if i := strings.LastIndexByte(hp, ':'); i >= 0 && cfIsPortTok(hp[i+1:]) {
			host, fb.portTok = hp[:i], hp[i+1:]
		}
		if strings.IndexByte(host, ':') >= 0 {
			return nil, p.errf(line, "invalid fallback server: %s (write IPv6 addresses in brackets: [2001:db8::1]:80)", cfQuote(v))
		}
		fb.host = host
	}
	if fb.host == "" {
		return nil, p.errf(line, "invalid fallback server: %s", cfQuote(v))
	}
	if fb.portTok != "" && cfAllDigits(fb.portTok) {
		if _, ok := cfNumPort(fb.portTok); !ok {
			return nil, p.errf(line, "invalid port for fallback server: %s", cfQuote(fb.portTok))
		}
	}
	return fb, nil
}

func cfIsPortTok(s string) bool { return cfAll(s, cfIsNameChar) }

func cfNumPort(s string) (uint16, bool) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > 65535 {
		return 0, false
	}
	return uint16(n), true
}

// resolveFallbackHost resolves the fallback's host for the family.
func (p *cfParser) resolveFallbackHost(fb *cfFallbackSpec, v6 bool) error {
	a, err := p.resolveHost(fb.host, v6)
	if err != nil {
		ipv := "IPv4"
		if v6 {
			ipv = "IPv6"
		}
		return p.errf(fb.line, "invalid %s address or could not resolve for fallback server: %s (%s)", ipv, fb.host, err)
	}
	fb.addr = a
	return nil
}

// resolveGlobalFallback resolves a global fallback's host now and its port
// for tcp and for udp.
func (p *cfParser) resolveGlobalFallback(fb *cfFallbackSpec, v6 bool) error {
	if err := p.resolveFallbackHost(fb, v6); err != nil {
		return err
	}
	if fb.portTok == "" {
		return nil
	}
	fb.ports = map[string]uint16{}
	fb.portErr = map[string]string{}
	for _, proto := range []string{"tcp", "udp"} {
		port, err := p.resolvePort(fb.portTok, proto)
		if err != nil {
			fb.portErr[proto] = err.Error()
			continue
		}
		fb.ports[proto] = port
	}
	if len(fb.ports) == 0 {
		return p.errf(fb.line, "invalid port for fallback server: %s (%s)", cfQuote(fb.portTok), fb.portErr["tcp"])
	}
	return nil
}

// ---------------------------------------------------------------------------
// Resolution

func (p *cfParser) lookupHost(host string, v6 bool) (netip.Addr, error) {
	if p.opts.LookupHost != nil {
		return p.opts.LookupHost(context.Background(), host, v6)
	}
	network := "ip4"
	if v6 {
		network = "ip6"
	}
	addrs, err := net.DefaultResolver.LookupNetIP(context.Background(), network, host)
	if err != nil {
		return netip.Addr{}, err
	}
	if len(addrs) == 0 {
		return netip.Addr{}, fmt.Errorf("no %s address for %s", network, host)
	}
	return addrs[0], nil
}

// resolveHost turns a dotted quad, [v6] or host name into an address of the
// family: literals are never sent to the resolver.
func (p *cfParser) resolveHost(host string, v6 bool) (netip.Addr, error) {
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		inner := host[1 : len(host)-1]
		a, err := cfParseV6(inner)
		if err != nil {
			return netip.Addr{}, err
		}
		if !v6 {
			return netip.Addr{}, fmt.Errorf("%s is an IPv6 address", host)
		}
		return a, nil
	}
	if cfIsNumericHost(host) {
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is4() {
			return netip.Addr{}, fmt.Errorf("%s is not a valid IPv4 address (dotted quad, no leading zeros)", host)
		}
		if v6 {
			return netip.Addr{}, fmt.Errorf("%s is an IPv4 address", host)
		}
		return a, nil
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !(cfIsNameChar(c) || c == '.') {
			return netip.Addr{}, fmt.Errorf("%s is not a host name", cfQuote(host))
		}
	}
	a, err := p.lookupHost(host, v6)
	if err != nil {
		return netip.Addr{}, err
	}
	a = a.WithZone("")
	if v6 {
		if !a.Is6() {
			return netip.Addr{}, fmt.Errorf("%s resolved to %v, not an IPv6 address", host, a)
		}
		return a, nil
	}
	a = a.Unmap()
	if !a.Is4() {
		return netip.Addr{}, fmt.Errorf("%s resolved to %v, not an IPv4 address", host, a)
	}
	return a, nil
}

// cfIsNumericHost reports whether host can only be meant as an IPv4 literal.
func cfIsNumericHost(host string) bool {
	if host == "" {
		return false
	}
	for i := 0; i < len(host); i++ {
		if !cfIsDigit(host[i]) && host[i] != '.' {
			return false
		}
	}
	return true
}

func cfParseV6(s string) (netip.Addr, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(cfIsDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == ':') {
			return netip.Addr{}, fmt.Errorf("invalid IPv6 address [%s]", s)
		}
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() {
		return netip.Addr{}, fmt.Errorf("invalid IPv6 address [%s]", s)
	}
	return a, nil
}

// resolvePort reads a port number or looks a service name up for proto.
func (p *cfParser) resolvePort(tok, proto string) (uint16, error) {
	if cfAllDigits(tok) {
		port, ok := cfNumPort(tok)
		if !ok {
			return 0, fmt.Errorf("port %s is not in 0..65535", tok)
		}
		return port, nil
	}
	if !cfIsPortTok(tok) {
		return 0, fmt.Errorf("invalid port %s", cfQuote(tok))
	}
	lookup := p.opts.LookupPort
	if lookup == nil {
		lookup = net.LookupPort
	}
	n, err := lookup(proto, tok)
	if err != nil {
		return 0, fmt.Errorf("unknown %s service %s", proto, cfQuote(tok))
	}
	if n < 0 || n > 65535 {
		return 0, fmt.Errorf("service %s has port %d", cfQuote(tok), n)
	}
	return uint16(n), nil
}

func (p *cfParser) getHostname() string {
	if !p.hasHostname {
		p.hasHostname = true
		switch {
		case p.opts.Hostname != "":
			p.hostname = p.opts.Hostname
		case os.Getenv("HOSTNAME") != "":
			p.hostname = os.Getenv("HOSTNAME")
		default:
			p.hostname, _ = os.Hostname()
		}
	}
	return p.hostname
}

// cfCompileReceive compiles a receive pattern (ldirectord: a Perl regex).
func cfCompileReceive(s string) (*regexp.Regexp, error) {
	if s == "" {
		return nil, nil
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, fmt.Errorf("receive is a regular expression and %s does not compile in Go's RE2 syntax, which has no backreferences or lookaround: %s", cfQuote(s), err)
	}
	return re, nil
}

// ---------------------------------------------------------------------------
// Virtual blocks

// parseVirtualAddr reads the value of virtual= / virtual6= (syntax only).
func (p *cfParser) parseVirtualAddr(vs *cfVstate, val string) error {
	n := vs.v.Line
	s := cfTolerant(val)
	bad := func(hint string) error {
		msg := "invalid address for virtual server " + cfQuote(val)
		if hint != "" {
			msg += " (" + hint + ")"
		}
		return p.errf(n, "%s", msg)
	}
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 || end+1 >= len(s) || s[end+1] != ':' || !cfIsPortTok(s[end+2:]) {
			return bad("expected [IPv6 address]:port")
		}
		if !vs.v6 {
			return p.errf(n, "cannot specify an IPv6 address here. please use \"virtual6\" instead.")
		}
		if _, err := cfParseV6(s[1:end]); err != nil {
			return p.errf(n, "invalid ipv6 address for virtual server")
		}
		vs.hostTok, vs.bracket, vs.portTok = s[:end+1], true, s[end+2:]
		return nil
	}
	if cfAllDigits(s) {
		m, err := strconv.ParseUint(s, 10, 32)
		if err != nil || m == 0 {
			return bad("a firewall mark is a number from 1 to 4294967295")
		}
		vs.fwmark = true
		vs.v.Service.FWMark = uint32(m)
		return nil
	}
	i := 0
	for i < len(s) && (cfIsNameChar(s[i]) || s[i] == '.' || s[i] == '+') {
		i++
	}
	if i == 0 {
		return bad("expected address:port, host:port or a firewall mark")
	}
	if i == len(s) {
		if cfIsNumericHost(s) {
			j := 0
			for j < len(s) && cfIsDigit(s[j]) {
				j++
			}
			return bad("a port is required; ldirectord would read this as firewall mark " + s[:j])
		}
		return bad("a port is required: address:port")
	}
	if s[i] != ':' || !cfIsPortTok(s[i+1:]) {
		return bad("expected address:port, host:port or a firewall mark")
	}
	vs.hostTok, vs.portTok = s[:i], s[i+1:]
	return nil
}

// virtualBlock parses a virtual= line and its block. It returns the line
// that ended the block (not yet parsed) when there is one.
func (p *cfParser) virtualBlock(v6 bool, val string) (string, bool, error) {
	vs := &cfVstate{
		v: &Virtual{
			Line: p.lineNo,
			Check: Check{
				Type:       "negotiate",
				Request:    "/",
				HTTPMethod: "GET",
				Command:    cfDefaultCheck,
			},
		},
		v6:               v6,
		checkTimeout:     -1,
		negotiateTimeout: -1,
		checkInterval:    -1,
		checkCount:       -1,
		failureCount:     -1,
		persistent:       -1,
	}
	if err := p.parseVirtualAddr(vs, val); err != nil {
		return "", false, err
	}
	if vs.fwmark {
		vs.protocol = "fwm"
		vs.v.Check.Service = "none"
		vs.hasService = true
	} else {
		vs.protocol = "tcp"
		if vs.portTok == "53" || vs.portTok == "domain" {
			vs.protocol = "udp"
		}
	}

	p.blankEnd = 0
	var pending string
	var havePending bool
	for {
		raw, ok, err := p.next()
		if err != nil {
			return "", false, err
		}
		if !ok {
			break
		}
		if cfIsCommentLine(raw) {
			continue
		}
		s := raw
		if i := strings.IndexByte(s, '#'); i >= 0 {
			s = s[:i]
		}
		s = strings.ReplaceAll(s, "\t", "    ")
		// /^ {4,}(.+)/
		sp := 0
		for sp < len(s) && s[sp] == ' ' {
			sp++
		}
		if sp < 4 || len(s) < 5 {
			if cfIsBlank(raw) {
				p.blankEnd, p.blankEndStart = p.lineNo, vs.v.Line
			}
			pending, havePending = raw, true
			break
		}
		rcmd := s[sp:]
		if rcmd == "" {
			rcmd = " " // whitespace-only line of 5+ columns
		}
		if err := p.virtualLine(vs, raw, rcmd); err != nil {
			return "", false, err
		}
	}
	if err := p.endVirtual(vs); err != nil {
		return "", false, err
	}
	return pending, havePending, nil
}

func (p *cfParser) unknownVirtual(raw, rcmd string) error {
	msg := "Unknown command " + cfQuote(raw)
	name, v, isDir := cfSplitDirective(rcmd)
	switch {
	case cfIsBlank(rcmd):
		msg += " (a whitespace-only line inside a virtual block: use an empty line to end the block)"
	case isDir && cfGlobalOnly[name]:
		msg += " (" + name + " is a global directive: it must start in column 0, after the end of the virtual block)"
	case isDir && (name == "request" || name == "receive" || name == "login" || name == "passwd" || name == "database" || name == "secret" || name == "load"):
		if strings.IndexByte(raw, '#') >= 0 && strings.Count(v, `"`) == 1 {
			msg += " (the value must be in double quotes; inside a virtual block # starts a comment, even within quotes)"
		} else {
			msg += " (the " + name + " value must be in double quotes)"
		}
	}
	return p.errf(p.lineNo, "%s", msg)
}

// virtualLine handles one directive of a virtual block.
func (p *cfParser) virtualLine(vs *cfVstate, raw, rcmd string) error {
	n := p.lineNo
	v := vs.v
	c := &v.Check
	name, val, ok := cfSplitDirective(rcmd)
	if !ok {
		return p.unknownVirtual(raw, rcmd)
	}
	var err error
	switch name {
	case "real", "real6":
		if vs.v6 != (name == "real6") {
			want := "real"
			if vs.v6 {
				want = "real6"
			}
			return p.errf(n, "cannot specify %q here.  please use %q instead", name, want)
		}
		vs.reals = append(vs.reals, cfPendingReal{text: val, line: n})
	case "request":
		s, ok, tr := cfQuoted(val)
		if !ok {
			return p.unknownVirtual(raw, rcmd)
		}
		if s == "" {
			return p.errf(n, "no request string specified")
		}
		if tr {
			return p.errf(n, "invalid request: text after the closing quote in %s", cfQuote(val))
		}
		c.Request = cfWithSlash(s)
	case "receive":
		s, ok, tr := cfQuoted(val)
		if !ok {
			return p.unknownVirtual(raw, rcmd)
		}
		if s == "" {
			return p.errf(n, "invalid receive string")
		}
		if tr {
			return p.errf(n, "invalid receive string: text after the closing quote in %s", cfQuote(val))
		}
		re, err := cfCompileReceive(s)
		if err != nil {
			return p.errf(n, "invalid receive string: %s", err)
		}
		c.Receive, c.ReceiveRE = s, re
	case "checktype":
		t := cfTolerant(val)
		switch {
		case cfAllDigits(t):
			k, ok := cfParseNum(t)
			if !ok {
				return p.errf(n, "checktype must be \"connect\", \"negotiate\", \"on\", \"off\", \"ping\", \"external\", \"external-perl\" or a positive number (at most %d)", cfMaxNumber)
			}
			c.Type, c.CombinedN = "combined", k
		case t == "connect" || t == "negotiate" || t == "ping" || t == "off" || t == "on" || t == "external" || t == "external-perl":
			c.Type, c.CombinedN = t, 0
		default:
			return p.errf(n, "checktype must be \"connect\", \"negotiate\", \"on\", \"off\", \"ping\", \"external\", \"external-perl\" or a positive number, not %s", cfQuote(val))
		}
	case "checkcommand":
		s, q, tr, unbal := cfOptQuoted(val)
		switch {
		case unbal:
			return p.errf(n, "invalid check command: unbalanced quote in %s", cfQuote(val))
		case tr:
			return p.errf(n, "invalid check command: text after the closing quote in %s", cfQuote(val))
		case s == "":
			return p.errf(n, "invalid check command")
		case !q && cfTrimRightSpace(s) != s:
			return p.errf(n, "invalid check command %s: trailing whitespace or comment (ldirectord would execute the path with the trailing spaces)", cfQuote(s))
		}
		c.Command = s
	case "checktimeout":
		vs.checkTimeout, err = p.positive(n, val, "invalid check timeout")
	case "connecttimeout":
		err = p.errf(n, "connecttimeout directive deprecated in favour of negotiatetimeout")
	case "negotiatetimeout":
		vs.negotiateTimeout, err = p.positive(n, val, "invalid negotiate timeout")
	case "checkcount":
		vs.checkCount, err = p.positive(n, val, "invalid check count")
	case "failurecount":
		vs.failureCount, err = p.positive(n, val, "invalid failure count")
	case "checkinterval":
		vs.checkInterval, err = p.positive(n, val, "invalid checkinterval")
	case "checkport":
		k, ok := cfParseNum(val)
		if !ok {
			return p.errf(n, "invalid port %s", cfQuote(val))
		}
		if k < 1 || k > 65535 {
			return p.errf(n, "checkport must be in range 1..65535")
		}
		c.Port = uint16(k)
	case "login", "passwd", "database", "secret":
		s, ok, tr := cfQuoted(val)
		if !ok {
			return p.unknownVirtual(raw, rcmd)
		}
		what := map[string]string{"login": "invalid login string", "passwd": "invalid password", "database": "invalid database", "secret": "invalid secret"}[name]
		if s == "" {
			return p.errf(n, "%s", what)
		}
		if tr {
			return p.errf(n, "%s: text after the closing quote in %s", what, cfQuote(val))
		}
		switch name {
		case "login":
			c.Login = s
		case "passwd":
			c.Passwd = s
		case "database":
			c.Database = s
		case "secret":
			c.Secret = s
		}
	case "load":
		s, ok, tr := cfQuoted(val)
		if !ok {
			return p.unknownVirtual(raw, rcmd)
		}
		if tr || s == "" || !cfIsWord(s) {
			return p.errf(n, "invalid string for load testing: %s (a single word)", cfQuote(val))
		}
	case "scheduler":
		t := cfTolerant(val)
		if !cfSchedulers[t] {
			return p.errf(n, "invalid scheduler %s: must be one of %s", cfQuote(val), cfSchedulerList)
		}
		v.Service.Scheduler = t
	case "persistent":
		k, ok := cfParseNum(val)
		if !ok || k < 1 || k > cfMaxPersist {
			return p.errf(n, "invalid persistent timeout %s: seconds from 1 to %d", cfQuote(val), cfMaxPersist)
		}
		vs.persistent = k
	case "schedflags":
		t := cfTolerant(val)
		if t == "" || strings.IndexFunc(t, func(r rune) bool { return r < 0x80 && cfIsSpace(byte(r)) }) >= 0 {
			return p.errf(n, "invalid sched-flags %s", cfQuote(val))
		}
		var flags uint32
		need := ""
		for _, f := range strings.Split(t, ",") {
			if f == "" {
				continue
			}
			sf, ok := cfSchedFlags[f]
			if !ok {
				return p.errf(n, "invalid sched-flags: unknown flag %s (flag-1, flag-2, flag-3, sh-fallback, sh-port, mh-fallback, mh-port)", cfQuote(f))
			}
			if sf.sched != "" {
				if need != "" && need != sf.sched {
					return p.errf(n, "invalid sched-flags %s: flags for different schedulers", cfQuote(t))
				}
				need = sf.sched
			}
			flags |= sf.flag
		}
		vs.schedFlags, vs.schedFlagsSched, vs.schedFlagsLine = flags, need, n
	case "netmask":
		if vs.v6 {
			k, ok := 0, cfAllDigits(val)
			if ok {
				k, ok = cfParseNum(val)
			}
			if !ok || k < 1 || k > 128 {
				return p.errf(n, "invalid netmask: a prefix length between 1 and 128 is required")
			}
		} else {
			a, err := netip.ParseAddr(val)
			if err != nil || !a.Is4() || !cfIsNumericHost(val) {
				return p.errf(n, "invalid netmask: dotted quad notation is required")
			}
		}
		vs.netmask = val
	case "protocol":
		t := cfTolerant(val)
		if !cfIsWord(t) {
			return p.errf(n, "invalid protocol %s", cfQuote(val))
		}
		if vs.fwmark {
			if t != "fwm" {
				return p.errf(n, "protocol must be fwm if the virtual service is a fwmark (a number)")
			}
		} else {
			if t != "tcp" && t != "udp" {
				return p.errf(n, "protocol must be tcp or udp if the virtual service is an address and port")
			}
			vs.protocol = t
		}
	case "ops":
		vs.ops, err = p.yesNo(n, "ops", val)
	case "service":
		t := cfTolerant(val)
		if !cfServices[t] {
			return p.errf(n, "service must be dns, ftp, http, https, http_proxy, imap, imaps, ldap, ldaps, mysql, nntp, none, oracle, pop, pops, radius, pgsql, simpletcp, sip, smtp or submission, not %s", cfQuote(val))
		}
		c.Service, vs.hasService = t, true
		if t == "ftp" && c.Login == "" {
			c.Login = "anonymous"
		} else if t == "sip" && c.Login == "" {
			c.Login = "ldirectord@" + p.getHostname()
		}
		if t == "ftp" && c.Passwd == "" {
			c.Passwd = "ldirectord@" + p.getHostname()
		}
	case "httpmethod":
		t := strings.ToUpper(cfTolerant(val))
		if t != "GET" && t != "HEAD" {
			return p.errf(n, "httpmethod must be GET or HEAD, not %s", cfQuote(val))
		}
		c.HTTPMethod = t
	case "virtualhost":
		s, q, tr, unbal := cfOptQuoted(val)
		switch {
		case unbal || tr || (q && strings.IndexByte(s, '"') >= 0) || (!q && strings.IndexByte(s, '"') >= 0):
			return p.errf(n, "invalid virtualhost %s", cfQuote(val))
		}
		c.VirtualHost = cfTrimRightSpace(s)
	case "fallback", "fallback6":
		if vs.v6 != (name == "fallback6") {
			want := "fallback"
			if vs.v6 {
				want = "fallback6"
			}
			return p.errf(n, "cannot specify %q here.  please use %q instead", name, want)
		}
		vs.fallback, err = p.parseFallback(n, val)
	case "fallbackcommand":
		s, _, tr, unbal := cfOptQuoted(val)
		switch {
		case unbal:
			return p.errf(n, "invalid fallback command: unbalanced quote in %s", cfQuote(val))
		case tr:
			return p.errf(n, "invalid fallback command: text after the closing quote in %s", cfQuote(val))
		case s == "":
			return p.errf(n, "invalid fallback command")
		}
		vs.fallbackCommand = &s
	case "quiescent":
		b, e := p.yesNo(n, name, val)
		vs.quiescent, err = &b, e
	case "cleanstop":
		b, e := p.yesNo(n, name, val)
		vs.cleanStop, err = &b, e
	case "emailalert":
		vs.emailAlert, err = p.emailAlert(n, val)
		vs.hasEmailAlert = true
	case "emailalertfreq":
		k, e := p.emailAlertFreq(n, val)
		vs.emailAlertFreq, err = &k, e
	case "emailalertstatus":
		vs.emailAlertStatus, err = p.emailAlertStatus(n, val)
		vs.hasEmailAlertStatus = true
	case "monitorfile":
		s, _, tr, unbal := cfOptQuoted(val)
		if unbal || tr {
			return p.errf(n, "unable to open monitorfile %s: text outside the quotes", cfQuote(val))
		}
		s = strings.TrimSpace(s) // Perl's open(">>name") trims the name
		if s == "" {
			return p.errf(n, "unable to open monitorfile: no file name")
		}
		if e := cfOpenForAppend(s); e != nil {
			return p.errf(n, "unable to open monitorfile %s: %s", s, cfErrText(e))
		}
		v.MonitorFile = s
	case "smtp":
		s, e := p.smtp(n, val)
		vs.smtp, err = &s, e
	case "servicename":
		// A CRLF file's CR is whitespace here as everywhere.
		v.ServiceName = cfTrimRightSpace(val)
		err = p.mailHeader(n, "servicename", v.ServiceName)
	case "comment":
		v.Comment = cfTrimRightSpace(val)
	default:
		return p.unknownVirtual(raw, rcmd)
	}
	return err
}

func cfWithSlash(s string) string {
	if strings.HasPrefix(s, "/") {
		return s
	}
	return "/" + s
}

func cfIsWord(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !cfIsNameChar(s[i]) || s[i] == '-' {
			return false
		}
	}
	return true
}

// endVirtual resolves a finished block in ldirectord's order: fallback,
// virtual address, reals; then checks for a duplicate.
func (p *cfParser) endVirtual(vs *cfVstate) error {
	v := vs.v
	svc := &v.Service
	if vs.v6 {
		svc.Family = ipvs.INET6
	} else {
		svc.Family = ipvs.INET
	}
	if fb := vs.fallback; fb != nil {
		if err := p.resolveFallbackHost(fb, vs.v6); err != nil {
			return err
		}
		if fb.portTok != "" {
			proto := vs.protocol
			port, err := p.resolvePortAny(fb.portTok, proto)
			if err != nil {
				return p.errf(fb.line, "invalid port for fallback server: %s", err)
			}
			fb.ports = map[string]uint16{proto: port}
		}
	}
	if !vs.fwmark {
		a, err := p.resolveHost(vs.hostTok, vs.v6)
		if err != nil {
			return p.errf(v.Line, "invalid address for virtual service: %s", err)
		}
		port, err := p.resolvePort(vs.portTok, vs.protocol)
		if err != nil {
			return p.errf(v.Line, "invalid address for virtual service: %s", err)
		}
		svc.Addr, svc.Port, vs.port = a, port, port
		if vs.protocol == "udp" {
			svc.Protocol = ipvs.UDP
		} else {
			svc.Protocol = ipvs.TCP
		}
		if !vs.hasService {
			v.Check.Service = "none"
			if s, ok := cfPortServices[port]; ok {
				v.Check.Service = s
			}
		}
	}
	if err := p.resolveReals(vs); err != nil {
		return err
	}
	id := svc.ServiceKey.String()
	if prev, dup := p.seen[id]; dup {
		return p.errf(v.Line, "duplicate virtual server %s (already defined at line %d)", id, prev)
	}
	p.seen[id] = v.Line

	// Service settings that do not depend on globals.
	if svc.Scheduler == "" {
		svc.Scheduler = "wrr"
	}
	if vs.schedFlagsSched != "" && svc.Scheduler != vs.schedFlagsSched {
		return p.errf(vs.schedFlagsLine, "invalid sched-flags: the %s-* flags need scheduler=%s, not %s", vs.schedFlagsSched, vs.schedFlagsSched, svc.Scheduler)
	}
	svc.Flags |= vs.schedFlags
	if vs.ops && vs.protocol == "udp" {
		svc.Flags |= ipvs.FlagOnePacket
	}
	if vs.v6 {
		svc.Netmask = 128
	} else {
		svc.Netmask = 0xffffffff
	}
	if vs.persistent >= 0 {
		svc.Flags |= ipvs.FlagPersistent
		svc.Timeout = uint32(vs.persistent)
		if vs.netmask != "" {
			if vs.v6 {
				k, _ := strconv.Atoi(vs.netmask)
				svc.Netmask = uint32(k)
			} else {
				a := netip.MustParseAddr(vs.netmask).As4()
				svc.Netmask = uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
			}
		}
	}
	p.vs = append(p.vs, vs)
	p.cfg.Virtuals = append(p.cfg.Virtuals, v)
	return nil
}

// resolvePortAny resolves for proto, or for tcp then udp when proto is fwm.
func (p *cfParser) resolvePortAny(tok, proto string) (uint16, error) {
	if proto == "tcp" || proto == "udp" {
		return p.resolvePort(tok, proto)
	}
	port, err := p.resolvePort(tok, "tcp")
	if err != nil {
		if port2, err2 := p.resolvePort(tok, "udp"); err2 == nil {
			return port2, nil
		}
	}
	return port, err
}

// mapPort is ipvsadm's destination port rule: for address:port services a
// destination not forwarded by masq gets the service's port; firewall-mark
// services keep the port as given.
func (vs *cfVstate) mapPort(port uint16, fwd ipvs.Fwd) uint16 {
	if vs.fwmark {
		return port
	}
	// Measured against ldirectord 4.12 + ipvsadm in the VM: a masq real
	// without a port stays at port 0 in the kernel (IPVS then keeps the
	// client's destination port); gate and ipip always take the virtual's.
	if fwd != ipvs.Masq {
		return vs.port
	}
	return port
}

// ---------------------------------------------------------------------------
// real=

// cfRealSyntax is the first part of a real= value:
// HOST[->HOST2][:PORT] followed by whitespace and the flags.
type cfRealSyntax struct {
	host1, host2, port, flags string
}

// cfScanRealHost reads a dotted quad, host name or [v6] at the start of s.
func cfScanRealHost(s string) (host, rest string, ok bool) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 2 {
			return "", s, false
		}
		for i := 1; i < end; i++ {
			c := s[i]
			if !(cfIsDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == ':') {
				return "", s, false
			}
		}
		return s[:end+1], s[end+1:], true
	}
	i := 0
	for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z' || cfIsDigit(s[i]) || s[i] == '.' || s[i] == '-') {
		i++
	}
	// "a->b": the '-' of "->" is not part of the name.
	if i > 1 && s[i-1] == '-' && i < len(s) && s[i] == '>' {
		i--
	}
	if i == 0 {
		return "", s, false
	}
	return s[:i], s[i:], true
}

func cfParseRealSyntax(s string) (cfRealSyntax, bool) {
	var r cfRealSyntax
	var ok bool
	if r.host1, s, ok = cfScanRealHost(s); !ok {
		return r, false
	}
	if strings.HasPrefix(s, "->") {
		if r.host2, s, ok = cfScanRealHost(s[2:]); !ok {
			return r, false
		}
	}
	if strings.HasPrefix(s, ":") {
		i := 1
		for i < len(s) && cfIsNameChar(s[i]) {
			i++
		}
		if i == 1 {
			return r, false
		}
		r.port, s = s[1:i], s[i:]
	}
	if s == "" || !cfIsSpace(s[0]) {
		return r, false
	}
	r.flags = cfTrimLeftSpace(s)
	return r, true
}

// cfRealFlags is the rest of a real= value.
type cfRealFlags struct {
	fwd        ipvs.Fwd
	weight     int
	pair       bool
	req, recv  string
	lthr, uthr int
}

// cfNextElem skips the whitespace that must precede an optional element.
func cfNextElem(s string) (string, bool) {
	t := cfTrimLeftSpace(s)
	return t, len(t) < len(s) && t != ""
}

// cfElemEnd reports whether an element ends at s (whitespace or end).
func cfElemEnd(s string) bool { return s == "" || cfIsSpace(s[0]) }

func (p *cfParser) parseRealFlags(line int, flags string) (cfRealFlags, error) {
	f := cfRealFlags{weight: 1}
	i := 0
	for i < len(flags) && (cfIsNameChar(flags[i]) && flags[i] != '-') {
		i++
	}
	fwd, err := ipvs.ParseFwd(flags[:i])
	if err != nil {
		return f, p.errf(line, "forward method must be gate, masq or ipip, not %s", cfQuote(flags))
	}
	f.fwd = fwd
	rest := flags[i:]
	garbage := func(r string, hint string) error {
		msg := "Invalid real server line, around " + cfQuote(cfTrimLeftSpace(r))
		if hint != "" {
			msg += " (" + hint + ")"
		}
		return p.errf(line, "%s", msg)
	}
	if !cfElemEnd(rest) {
		return f, p.errf(line, "forward method must be gate, masq or ipip, not %s", cfQuote(flags))
	}
	const order = "expected [weight] [\"request\", \"receive\"] [l:lower] [u:upper] in that order"
	// weight
	if t, ok := cfNextElem(rest); ok && cfIsDigit(t[0]) {
		j := 0
		for j < len(t) && cfIsDigit(t[j]) {
			j++
		}
		if !cfElemEnd(t[j:]) {
			return f, garbage(t, order)
		}
		w, err := strconv.ParseInt(t[:j], 10, 64)
		if err != nil || w > cfMaxWeight {
			return f, p.errf(line, "invalid weight %s for real server: 0..%d", t[:j], cfMaxWeight)
		}
		f.weight, rest = int(w), t[j:]
	}
	// "request", "receive"
	if t, ok := cfNextElem(rest); ok && t[0] == '"' {
		e1 := strings.IndexByte(t[1:], '"')
		if e1 < 0 {
			return f, garbage(t, "unterminated quote")
		}
		req := t[1 : 1+e1]
		u := t[2+e1:]
		if u == "" || (u[0] != ',' && u[0] != ' ') {
			return f, garbage(t, "a request string must be followed by a receive string: \"request\", \"receive\"")
		}
		u = cfTrimLeftSpace(u[1:])
		if u == "" || u[0] != '"' {
			return f, garbage(t, "a request string must be followed by a receive string: \"request\", \"receive\"")
		}
		e2 := strings.IndexByte(u[1:], '"')
		if e2 < 0 {
			return f, garbage(t, "unterminated quote")
		}
		recv := u[1 : 1+e2]
		u = u[2+e2:]
		if !cfElemEnd(u) {
			return f, garbage(t, "quoted request and receive strings cannot contain '\"'")
		}
		f.pair, f.req, f.recv, rest = true, cfWithSlash(req), recv, u
	}
	thr := func(t, prefix string) (int, string, error) {
		j := len(prefix)
		for j < len(t) && cfIsDigit(t[j]) {
			j++
		}
		if j == len(prefix) || !cfElemEnd(t[j:]) {
			return 0, "", garbage(t, order)
		}
		k, ok := cfParseNum(t[len(prefix):j])
		if !ok {
			return 0, "", p.errf(line, "invalid connection threshold %s: at most %d", t[:j], cfMaxNumber)
		}
		return k, t[j:], nil
	}
	if t, ok := cfNextElem(rest); ok && strings.HasPrefix(t, "l:") {
		if f.lthr, rest, err = thr(t, "l:"); err != nil {
			return f, err
		}
	}
	if t, ok := cfNextElem(rest); ok && strings.HasPrefix(t, "u:") {
		if f.uthr, rest, err = thr(t, "u:"); err != nil {
			return f, err
		}
	}
	if t := cfTrimLeftSpace(rest); t != "" {
		hint := order
		if strings.HasPrefix(t, "l:") && f.uthr != 0 {
			hint = "l:N must come before u:N; ldirectord would ignore the u:N"
		}
		return f, garbage(t, hint)
	}
	return f, nil
}

// resolveReals parses and resolves the real= lines of a finished block.
func (p *cfParser) resolveReals(vs *cfVstate) error {
	v := vs.v
	seen := map[ipvs.DestKey]int{}
	for _, pr := range vs.reals {
		n := pr.line
		syn, ok := cfParseRealSyntax(pr.text)
		if !ok {
			return p.errf(n, "invalid address for real server (wrong format): %s (expected HOST[->HOST2][:PORT] gate|masq|ipip ...)", cfQuote(pr.text))
		}
		a1, err := p.resolveHost(syn.host1, vs.v6)
		if err != nil {
			return p.errf(n, "invalid address (%s) for real server (could not resolve host): %s", syn.host1, err)
		}
		var port uint16
		if syn.port != "" {
			if port, err = p.resolvePortAny(syn.port, "fwm"); err != nil {
				return p.errf(n, "invalid port (%s) for real server (could not resolve port): %s", syn.port, err)
			}
		}
		first, last := a1, a1
		if syn.host2 != "" {
			a2, err := p.resolveHost(syn.host2, vs.v6)
			if err != nil {
				return p.errf(n, "invalid address (%s) for real server (could not resolve end host): %s", syn.host2, err)
			}
			if vs.v6 {
				return p.errf(n, "Address range for IPv6 is not supported yet")
			}
			if a1.Compare(a2) > 0 {
				return p.errf(n, "Invalid Range: %v-%v: first address must not be greater than the last", a1, a2)
			}
			last = a2
			b1, b2 := a1.As4(), a2.As4()
			size := uint64(cfBe32(b2)) - uint64(cfBe32(b1)) + 1
			if size > cfMaxRangeSize {
				return p.errf(n, "Invalid Range: %v-%v: %d addresses, at most %d are supported", a1, a2, size, cfMaxRangeSize)
			}
		}
		fl, err := p.parseRealFlags(n, syn.flags)
		if err != nil {
			return err
		}
		var re *regexp.Regexp
		if fl.pair {
			if re, err = cfCompileReceive(fl.recv); err != nil {
				return p.errf(n, "invalid receive string for real server: %s", err)
			}
		}
		dport := vs.mapPort(port, fl.fwd)
		for a := first; ; a = a.Next() {
			if p.nreals >= cfMaxReals {
				return p.errf(n, "too many real servers: at most %d in one configuration", cfMaxReals)
			}
			p.nreals++
			key := ipvs.DestKey{Addr: a, Port: dport}
			if prev, dup := seen[key]; dup {
				return p.errf(n, "duplicate real server %v in virtual %s (already at line %d; with gate or ipip, or without a port, a real server takes the virtual's port)", key, v.ID(), prev)
			}
			seen[key] = n
			r := &Real{
				Line:      n,
				CheckPort: port,
				Dest: ipvs.Destination{
					DestKey:    key,
					Fwd:        fl.fwd,
					Weight:     int32(fl.weight),
					UThreshold: uint32(fl.uthr),
					LThreshold: uint32(fl.lthr),
				},
			}
			if fl.pair {
				r.Request, r.Receive, r.ReceiveRE = fl.req, fl.recv, re
			}
			v.Reals = append(v.Reals, r)
			if a == last {
				break
			}
		}
	}
	return nil
}

func cfBe32(b [4]byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// ---------------------------------------------------------------------------
// After the whole file: globals become per-virtual defaults.

func (p *cfParser) finish() error {
	g := &p.g
	for _, vs := range p.vs {
		v := vs.v
		c := &v.Check

		// Timeout chains (ldirectord's ld_setup).
		ct := cfFirstSet(vs.checkTimeout, vs.negotiateTimeout, g.checkTimeout, g.negotiateTimeout, 5)
		nt := cfFirstSet(vs.negotiateTimeout, vs.checkTimeout, g.negotiateTimeout, g.checkTimeout, 30)
		c.Timeout = time.Duration(ct) * time.Second
		c.NegotiateTimeout = time.Duration(nt) * time.Second
		c.Interval = time.Duration(cfFirstSet(vs.checkInterval, g.checkInterval)) * time.Second
		c.Count = cfFirstSet(vs.checkCount, g.checkCount)
		c.FailureCount = cfFirstSet(vs.failureCount, g.failureCount)

		// Fallback: the virtual's own, else the global one of its family.
		fb := vs.fallback
		var proto string
		if fb != nil {
			proto = vs.protocol
		} else if !vs.fwmark {
			proto = vs.protocol
			if vs.v6 {
				fb = g.fallback6
			} else {
				fb = g.fallback
			}
		}
		if fb != nil {
			var port uint16
			if fb.portTok != "" {
				pp, ok := fb.ports[proto]
				if !ok {
					return p.errf(fb.line, "invalid port for fallback server: %s (used by virtual %s of line %d)", fb.portErr[proto], v.ID(), v.Line)
				}
				port = pp
			} else {
				port = vs.port
			}
			v.Fallback = &ipvs.Destination{
				DestKey: ipvs.DestKey{Addr: fb.addr, Port: vs.mapPort(port, fb.fwd)},
				Fwd:     fb.fwd,
				Weight:  1,
			}
		}

		v.FallbackCommand = g.fallbackCommand
		if vs.fallbackCommand != nil {
			v.FallbackCommand = *vs.fallbackCommand
		}
		v.Quiescent = g.quiescent
		if vs.quiescent != nil {
			v.Quiescent = *vs.quiescent
		}
		v.CleanStop = g.cleanStop
		if vs.cleanStop != nil {
			v.CleanStop = *vs.cleanStop
		}
		v.EmailAlert = append([]string(nil), g.emailAlert...)
		if vs.hasEmailAlert {
			v.EmailAlert = append([]string(nil), vs.emailAlert...)
		}
		freq := g.emailAlertFreq
		if vs.emailAlertFreq != nil {
			freq = *vs.emailAlertFreq
		}
		v.EmailAlertFreq = time.Duration(freq) * time.Second
		v.EmailAlertStatus = append([]string{}, g.emailAlertStatus...)
		if vs.hasEmailAlertStatus {
			v.EmailAlertStatus = append([]string{}, vs.emailAlertStatus...)
		}
		v.SMTP = g.smtp
		if vs.smtp != nil {
			v.SMTP = *vs.smtp
		}
	}
	return nil
}

// cfFirstSet returns the first value that is not -1.
func cfFirstSet(vals ...int) int {
	for _, v := range vals {
		if v >= 0 {
			return v
		}
	}
	return vals[len(vals)-1]
}
