package director

// This file reads ldirectord.cf the way ldirectord 4.12 does (lexical
// quirks included) and fills Config with every derived default applied.
// It holds the entry points, the parser's state and the final pass; the
// jobs along the way have a file each: parse_lex.go (splitting lines and
// values), parse_global.go, parse_fallback.go, parse_resolve.go (hosts,
// ports), parse_virtual.go (virtual blocks) and parse_real.go (real=).
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
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
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
