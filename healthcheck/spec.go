// Package healthcheck checks real servers the way ldirectord does and
// schedules those checks: every check runs every interval on its own clock,
// concurrently within a bound, debounced by failurecount.
package healthcheck

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/lvsdirector/director/ipvs"
)

// Spec is everything one check of one real server needs.
type Spec struct {
	Type      string // connect, negotiate, ping, external, external-perl, combined, on, off
	Service   string // for negotiate: http, https, none, ...
	CombinedN int    // for combined (checktype=N)

	Addr     netip.Addr    // real server
	Port     uint16        // check port
	Protocol ipvs.Protocol // the virtual's protocol (0 for fwmark: checks use TCP)
	Virtual  ipvs.ServiceKey

	Request     string
	Receive     *regexp.Regexp
	HTTPMethod  string
	VirtualHost string
	Login       string
	Passwd      string
	Database    string
	Secret      string
	Command     string
	// MaintenanceDir: a file there named after the real forces it down
	// at once (ldirectord's maintenancedir).
	MaintenanceDir string

	Timeout          time.Duration // connect, ping, external
	NegotiateTimeout time.Duration // negotiate
	Interval         time.Duration
	Count            int
	FailureCount     int
}

// ID identifies a check the way ldirectord's real id does: reals with the
// same ID in several virtuals share one check and its result.
func (s *Spec) ID() string {
	check := s.Type
	switch s.Type {
	case "negotiate", "combined":
		check += ":" + s.Service
		if s.Type == "combined" {
			check += ":" + strconv.Itoa(s.CombinedN)
		}
	case "external", "external-perl":
		check += ":" + s.Command
	}
	recv := ""
	if s.Receive != nil {
		recv = s.Receive.String()
	}
	return strings.Join([]string{check, s.Protocol.String(), netip.AddrPortFrom(s.Addr, s.Port).String(),
		s.VirtualHost, s.HTTPMethod, strconv.Quote(s.Request), strconv.Quote(recv)}, "|")
}

// Timeouts returns the deadline for one run of the check.
func (s *Spec) deadline() time.Duration {
	switch s.Type {
	case "negotiate", "combined":
		return max(s.NegotiateTimeout, s.Timeout)
	case "ping":
		return s.Timeout * time.Duration(max(s.Count, 1))
	case "connect":
		if s.Protocol == ipvs.UDP { // a ping check: every attempt gets its time
			return s.Timeout * time.Duration(max(s.Count, 1))
		}
	}
	return s.Timeout
}

// Checker checks one real server. Check returns nil when it is up, else
// why it is down. It must return by the context's deadline.
type Checker interface {
	Check(ctx context.Context) error
}

// Builder makes the checker for a spec.
type Builder func(Spec) (Checker, error)

// checkTypes and services are the registries: each check kind registers
// itself from its own file (init), so kinds are added without touching a
// central switch.
var (
	checkTypes = map[string]Builder{}
	services   = map[string]Builder{}
)

func registerType(name string, b Builder)    { checkTypes[name] = b }
func registerService(name string, b Builder) { services[name] = b }

// Supported reports whether a checktype (and, for negotiate and combined
// checks, a service) can be built, so the config can be refused at load.
func Supported(checkType, service string) error {
	if _, ok := checkTypes[checkType]; !ok {
		return fmt.Errorf("checktype %s is not supported", checkType)
	}
	if checkType == "negotiate" || checkType == "combined" {
		if _, ok := services[service]; !ok {
			return fmt.Errorf("service %s is not supported for negotiate checks", service)
		}
	}
	return nil
}

// New builds the checker for a spec.
func New(s Spec) (Checker, error) {
	b, ok := checkTypes[s.Type]
	if !ok {
		return nil, fmt.Errorf("checktype %s is not supported", s.Type)
	}
	c, err := b(s)
	if err != nil || s.MaintenanceDir == "" {
		return c, err
	}
	return newMaintenance(s, c), nil
}

func init() {
	registerType("connect", connector)
	registerType("ping", func(s Spec) (Checker, error) { return newPingCheck(s), nil })
	registerType("negotiate", negotiator)
	registerType("combined", func(s Spec) (Checker, error) {
		n, err := negotiator(s)
		if err != nil {
			return nil, err
		}
		c, _ := connector(s)
		return &combinedCheck{connect: c, negotiate: n, every: s.CombinedN, count: -1}, nil
	})
	external := func(s Spec) (Checker, error) { return externalCheck{s: s}, nil }
	registerType("external", external)
	registerType("external-perl", external)
	registerType("on", func(Spec) (Checker, error) { return constCheck{}, nil })
	registerType("off", func(Spec) (Checker, error) { return constCheck{err: errOff}, nil })

	registerService("http", func(s Spec) (Checker, error) { return newHTTPCheck(s) })
	registerService("https", func(s Spec) (Checker, error) { return newHTTPCheck(s) })
	registerService("none", func(Spec) (Checker, error) { return constCheck{}, nil })
}

// connector is the connect check: TCP, or on a UDP virtual the ping check,
// as in ldirectord.
func connector(s Spec) (Checker, error) {
	if s.Protocol == ipvs.UDP {
		return newPingCheck(s), nil
	}
	return connectCheck{s: s}, nil
}

var errOff = fmt.Errorf("checktype off")

type constCheck struct{ err error }

func (c constCheck) Check(context.Context) error { return c.err }

func negotiator(s Spec) (Checker, error) {
	b, ok := services[s.Service]
	if !ok {
		return nil, fmt.Errorf("negotiate service %s is not supported yet", s.Service)
	}
	return b(s)
}
