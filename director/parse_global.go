package director

// Global lines of ldirectord.cf and their values.

import (
	"fmt"
	"strings"
)

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
	p.cfg.markGlobal(name, n)
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
