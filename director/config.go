package director

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"time"

	"github.com/lvsdirector/director/internal/printable"
	"github.com/lvsdirector/director/ipvs"
)

// Config is a parsed ldirectord.cf with every derived default applied: the
// consumers (desired table, checks) never re-derive anything.
type Config struct {
	File     string // path as opened
	Global   Global
	Virtuals []*Virtual

	executeLine []int          // line of each Global.Execute entry
	globalLine  map[string]int // last line of each global directive, for Lint
}

func (c *Config) markGlobal(name string, line int) {
	if c.globalLine == nil {
		c.globalLine = map[string]int{}
	}
	c.globalLine[name] = line
}

// Global holds the global directives that are not only per-virtual defaults.
type Global struct {
	AutoReload     bool
	Callback       string   // run "callback CONFIG" when the file changes
	Logfile        string   // "/path" or a syslog facility name; default /var/log/ldirectord.log
	Execute        []string // other configs to start/stop/reload alongside
	Fork           bool     // accepted; checks are concurrent anyway
	Supervised     bool
	ReaddQuiescent bool
	MaintenanceDir string
	EmailAlertFrom string
}

// Virtual is one virtual= / virtual6= block.
type Virtual struct {
	Line    int          // line of the virtual= directive
	Service ipvs.Service // key + scheduler, persistence flags/timeout/netmask
	Reals   []*Real      // in file order, ranges expanded
	Check   Check        // how its reals are checked
	// Fallback is the virtual's own fallback, else the global one of its
	// family, with the port defaulted to the virtual's; nil when none.
	Fallback        *ipvs.Destination
	FallbackCommand string // run as "cmd start|stop vip:vport proto" through the shell
	Quiescent       bool   // down reals get weight 0 instead of removal (default no)
	CleanStop       bool   // remove the virtual on stop (default yes)

	EmailAlert       []string
	EmailAlertFreq   time.Duration
	EmailAlertStatus []string // subset of starting, running, stopping, reloading
	SMTP             string
	MonitorFile      string
	ServiceName      string
	Comment          string
}

// ID is ldirectord's virtual id string (tcp:1.2.3.4:80, fwm:5, fwm6:5).
func (v *Virtual) ID() string { return v.Service.ServiceKey.String() }

// Real is one real server of a virtual (a real= range yields several).
type Real struct {
	Line int
	// Dest is the destination as the kernel holds it: port already mapped
	// the way ipvsadm does (gate/ipip take the virtual's port; a masq real
	// keeps its port, 0 when none is given, as ipvsadm leaves it; fwmark
	// virtuals keep the given port).
	Dest ipvs.Destination
	// CheckPort is the port written on the real= line (0 if none): what
	// ldirectord checks when there is no checkport, before the service's
	// default port. It can differ from Dest.Port, which ipvsadm maps.
	CheckPort uint16
	// Request and Receive override the virtual's check when set.
	Request, Receive string
	ReceiveRE        *regexp.Regexp
}

// Check is the effective check of a virtual: timeouts resolved through
// ldirectord's chains, defaults applied.
type Check struct {
	Type                            string // connect, negotiate, ping, off, on, external, external-perl, combined
	CombinedN                       int    // checktype=N: negotiate every N connects
	Service                         string // http, https, ..., none
	Request                         string // with the leading "/" added as ldirectord does
	Receive                         string
	ReceiveRE                       *regexp.Regexp // nil when Receive is empty
	HTTPMethod                      string         // GET or HEAD
	VirtualHost                     string
	Port                            uint16 // checkport; 0 = the real's port
	Login, Passwd, Database, Secret string
	Command                         string        // checkcommand for external / external-perl
	Timeout                         time.Duration // checktimeout (connect, ping, external)
	NegotiateTimeout                time.Duration
	Interval                        time.Duration
	Count                           int // checkcount: ICMP attempts
	FailureCount                    int // consecutive failures before a real goes down
}

// Error is a configuration error at a line of a file.
type Error struct {
	File string
	Line int // 0 when the error is about the file as a whole
	Msg  string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", printable.String(e.File), printable.String(e.Msg))
	}
	return fmt.Sprintf("%s:%d: %s", printable.String(e.File), e.Line, printable.String(e.Msg))
}

// ParseOptions carries the lookups the parser needs, so tests need no DNS.
type ParseOptions struct {
	// LookupHost resolves a host name to one address of the family (first
	// result, as getaddrinfo); nil uses the system resolver.
	LookupHost func(ctx context.Context, host string, v6 bool) (netip.Addr, error)
	// LookupPort resolves a service name ("http") for "tcp" or "udp"; nil
	// uses /etc/services through net.LookupPort.
	LookupPort func(network, service string) (int, error)
	// Hostname is used for the ftp/sip login defaults; "" uses os.Hostname.
	Hostname string
	// FindConfig, when set, makes ParseFile follow execute= lines (each
	// name found as ldirectord would find it; "" when not found) and
	// refuse a cycle at the line that closes it: ldirectord would run
	// itself without end.
	FindConfig func(name string) string
}
