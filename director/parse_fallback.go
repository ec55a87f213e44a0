package director

// fallback= lines, global and per virtual.

import (
	"strconv"
	"strings"

	"github.com/lvsdirector/director/ipvs"
)

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
