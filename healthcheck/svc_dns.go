package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/lvsdirector/director/ipvs"
)

func init() {
	registerService("dns", func(s Spec) (Checker, error) { return newDNSCheck(s), nil })
}

// dnsCheck is ldirectord's negotiate check for service dns: ask the real
// server about request (leading "/" stripped), over TCP when the virtual is
// TCP, else over UDP. A request that is an IPv4 or IPv6 address is looked
// up as a PTR query of its reverse name, anything else as an A query.
// Up when some answer record matches receive: an A (or AAAA) address in
// its usual text form, or a PTR target with and without its final dot.
//
// As in ldirectord an empty receive is always down: there is nothing to
// compare the answer with.
//
// Beyond ldirectord: when the name exists but no A record matches, an
// AAAA query follows, so IPv6-only names and receive patterns for IPv6
// addresses work; UDP queries are resent until the deadline (as Net::DNS
// retries); a truncated UDP reply is retried over TCP. The name is queried
// as given, fully qualified: no resolv.conf search list is applied (Net::DNS
// search would append the local domains to a name without dots).
type dnsCheck struct {
	s     Spec
	net   string // udp or tcp
	addr  string
	name  string // fully qualified query name
	qtype uint16
}

func newDNSCheck(s Spec) *dnsCheck {
	c := &dnsCheck{s: s, net: "udp", addr: netip.AddrPortFrom(s.Addr, s.Port).String(), qtype: dns.TypeA}
	if s.Protocol == ipvs.TCP {
		c.net = "tcp"
	}
	req := strings.TrimPrefix(s.Request, "/")
	if a, err := netip.ParseAddr(req); err == nil {
		c.name, _ = dns.ReverseAddr(a.WithZone("").String())
		c.qtype = dns.TypePTR
	} else if req != "" {
		c.name = dns.Fqdn(req)
	}
	return c
}

func (c *dnsCheck) Check(ctx context.Context) error {
	if c.s.Receive == nil {
		return errors.New("dns: receive is empty, so no answer can match (as in ldirectord)")
	}
	if c.name == "" {
		return errors.New("dns: request names nothing to look up")
	}
	r, err := c.query(ctx, c.qtype)
	if err != nil {
		return err
	}
	if c.matches(r) {
		return nil
	}
	seen := c.answers(r)
	if c.qtype == dns.TypeA && r.Rcode == dns.RcodeSuccess {
		r6, err := c.query(ctx, dns.TypeAAAA)
		if err != nil {
			return fmt.Errorf("dns %s A %s: no answer matches receive %q (%s); AAAA: %w",
				c.addr, c.name, c.s.Receive.String(), seen, err)
		}
		if c.matches(r6) {
			return nil
		}
		seen += "; AAAA " + c.answers(r6)
	}
	return fmt.Errorf("dns %s %s %s: no answer matches receive %q (%s)",
		c.addr, dns.TypeToString[c.qtype], c.name, c.s.Receive.String(), seen)
}

func (c *dnsCheck) matches(r *dns.Msg) bool {
	for _, rr := range r.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			if c.s.Receive.MatchString(rr.A.String()) {
				return true
			}
		case *dns.AAAA:
			if c.s.Receive.MatchString(rr.AAAA.String()) {
				return true
			}
		case *dns.PTR:
			if c.s.Receive.MatchString(strings.TrimSuffix(rr.Ptr, ".")) || c.s.Receive.MatchString(rr.Ptr) {
				return true
			}
		}
	}
	return false
}

// answers summarises a reply for the reason of a down result.
func (c *dnsCheck) answers(r *dns.Msg) string {
	var got []string
	for _, rr := range r.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			got = append(got, rr.A.String())
		case *dns.AAAA:
			got = append(got, rr.AAAA.String())
		case *dns.PTR:
			got = append(got, rr.Ptr)
		}
		if len(got) == 5 {
			got = append(got, "...")
			break
		}
	}
	if len(got) == 0 {
		return "rcode " + dns.RcodeToString[r.Rcode] + ", no addresses"
	}
	return "answers " + strings.Join(got, " ")
}

// query asks the real server, retrying a truncated UDP reply over TCP.
func (c *dnsCheck) query(ctx context.Context, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(c.name, qtype) // recursion desired, as Net::DNS
	r, err := c.exchange(ctx, c.net, m)
	if err == nil && r.Truncated && c.net == "udp" {
		r, err = c.exchange(ctx, "tcp", m)
	}
	if err != nil {
		return nil, fmt.Errorf("dns %s %s %s over %s: %w", c.addr, dns.TypeToString[qtype], c.name, c.net, ctxErr(ctx, err))
	}
	return r, nil
}

func (c *dnsCheck) exchange(ctx context.Context, network string, m *dns.Msg) (*dns.Msg, error) {
	d := checkDialer()
	nc, err := d.DialContext(ctx, network, c.addr)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	w := watchConn(ctx, nc)
	defer w.stop()
	co := &dns.Conn{Conn: nc, UDPSize: 4096}
	if network == "tcp" {
		if err := co.WriteMsg(m); err != nil {
			return nil, err
		}
		r, err := co.ReadMsg()
		if err == nil && r.Id != m.Id {
			err = dns.ErrId
		}
		return r, err
	}
	// UDP: resend the same query each interval until the deadline, and
	// skip replies to other queries (a late reply to an earlier check).
	every := retryInterval(time.Until(w.deadline()))
	for {
		if err := co.WriteMsg(m); err != nil {
			return nil, err
		}
		w.setReadDeadline(time.Now().Add(every))
		for {
			r, err := co.ReadMsg()
			if err == nil && r.Id == m.Id && r.Response {
				return r, nil
			}
			if err == nil {
				continue
			}
			var ne net.Error
			if !errors.As(err, &ne) {
				continue // a datagram that does not parse: not from a DNS server
			}
			if ne.Timeout() && ctx.Err() == nil && time.Until(w.deadline()) > 0 {
				break // resend
			}
			return nil, err
		}
	}
}

// retryInterval spreads resends of a datagram over a deadline: about three
// tries, each waiting at least half a second and at most five.
func retryInterval(total time.Duration) time.Duration {
	return min(max(total/3, 500*time.Millisecond), 5*time.Second)
}
