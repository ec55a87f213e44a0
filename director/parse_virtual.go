package director

// virtual= blocks and the lines inside them.

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/lvsdirector/director/ipvs"
)

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
