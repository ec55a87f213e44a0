package director

// Name, port and address resolution for ldirectord.cf values.

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strings"
)

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
