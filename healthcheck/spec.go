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
	}
	return s.Timeout
}

// Checker checks one real server. Check returns nil when it is up, else
// why it is down. It must return by the context's deadline.
type Checker interface {
	Check(ctx context.Context) error
}

// New builds the checker for a spec.
func New(s Spec) (Checker, error) {
	switch s.Type {
	case "connect":
		if s.Protocol == ipvs.UDP {
			return nil, fmt.Errorf("checktype connect on a UDP virtual is a ping check, not supported yet")
		}
		return connectCheck{s: s}, nil
	case "negotiate":
		return negotiator(s)
	case "combined":
		n, err := negotiator(s)
		if err != nil {
			return nil, err
		}
		return &combinedCheck{connect: connectCheck{s: s}, negotiate: n, every: s.CombinedN, count: -1}, nil
	case "external", "external-perl":
		return externalCheck{s: s}, nil
	case "on":
		return constCheck{}, nil
	case "off":
		return constCheck{err: errOff}, nil
	}
	return nil, fmt.Errorf("checktype %s is not supported yet", s.Type)
}

var errOff = fmt.Errorf("checktype off")

type constCheck struct{ err error }

func (c constCheck) Check(context.Context) error { return c.err }

func negotiator(s Spec) (Checker, error) {
	switch s.Service {
	case "http", "https":
		return newHTTPCheck(s), nil
	case "none":
		return constCheck{}, nil
	}
	return nil, fmt.Errorf("negotiate service %s is not supported yet", s.Service)
}
