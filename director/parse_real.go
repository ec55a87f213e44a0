package director

// real= lines: their syntax, flags and resolution.

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/lvsdirector/director/ipvs"
)

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
