package healthcheck

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
)

func init() {
	registerService("imap", func(s Spec) (Checker, error) { return imapCheck{s: s, name: "imap"}, nil })
	registerService("imaps", func(s Spec) (Checker, error) { return imapCheck{s: s, name: "imaps", tls: true}, nil })
}

// imapCheck is ldirectord's service imap and imaps (Net::IMAP::Simple,
// imaps over TLS without certificate check, SNI = virtualhost when set):
// an "* OK" greeting and, when login is set, LOGIN answered OK; then
// LOGOUT (its answer does not matter). A "* PREAUTH" greeting is up
// without LOGIN (the session is already authenticated).
type imapCheck struct {
	s    Spec
	name string
	tls  bool
}

func (c imapCheck) Check(ctx context.Context) error {
	d, err := openLoginDialog(ctx, c.s, c.name, c.tls)
	if err != nil {
		return err
	}
	defer d.close()
	line, err := d.readLine()
	if err != nil {
		return fmt.Errorf("%s: greeting: %w", c.name, err)
	}
	status, _, _ := strings.Cut(strings.TrimPrefix(line, "* "), " ")
	preauth := strings.EqualFold(status, "PREAUTH")
	if !strings.HasPrefix(line, "* ") || !strings.EqualFold(status, "OK") && !preauth {
		return fmt.Errorf("%s: greeting %s", c.name, dialogText(line))
	}
	if c.s.Login != "" && !preauth {
		if err := imapCommand(d, "a1", "LOGIN", c.s.Login, c.s.Passwd); err != nil {
			return fmt.Errorf("%s: LOGIN: %w", c.name, err)
		}
		if err := imapResult(d, "a1"); err != nil {
			return fmt.Errorf("%s: LOGIN %s: %w", c.name, c.s.Login, err)
		}
	}
	d.goodbye("a2 LOGOUT")
	return nil
}

// imapCommand sends "tag verb args..." with every argument a quoted
// string, or, when it holds 8-bit bytes, a synchronizing literal (sent
// after the server's "+" continuation).
func imapCommand(d *dialog, tag, verb string, args ...string) error {
	buf := tag + " " + verb
	for _, a := range args {
		if imapQuotable(a) {
			buf += " " + imapQuote(a)
			continue
		}
		if err := d.send(buf + " {" + strconv.Itoa(len(a)) + "}"); err != nil {
			return err
		}
		if err := imapContinue(d, tag); err != nil {
			return err
		}
		buf = a
	}
	return d.send(buf)
}

// imapContinue waits for the "+" continuation request.
func imapContinue(d *dialog, tag string) error {
	for {
		line, err := d.readLine()
		if err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(line, "+"):
			return nil
		case strings.HasPrefix(line, tag+" "):
			return fmt.Errorf("server refused the literal: %s", dialogText(line))
		}
		if err := imapSkipLiteral(d, line); err != nil {
			return err
		}
	}
}

// imapResult reads responses up to the one tagged tag; nil if it is OK.
func imapResult(d *dialog, tag string) error {
	for {
		line, err := d.readLine()
		if err != nil {
			return err
		}
		if rest, ok := strings.CutPrefix(line, tag+" "); ok {
			status, _, _ := strings.Cut(rest, " ")
			if strings.EqualFold(status, "OK") {
				return nil
			}
			return fmt.Errorf("server said %s", dialogText(line))
		}
		if err := imapSkipLiteral(d, line); err != nil {
			return err
		}
	}
}

// imapSkipLiteral reads and drops the literal an untagged response line
// announces at its end ("{n}" or "{n+}").
func imapSkipLiteral(d *dialog, line string) error {
	if !strings.HasSuffix(line, "}") {
		return nil
	}
	i := strings.LastIndexByte(line, '{')
	if i < 0 {
		return nil
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(line[i+1:len(line)-1], "+"), 10, 64)
	if err != nil || n < 0 {
		return nil
	}
	_, err = io.CopyN(io.Discard, d.r, n)
	return err
}

// imapQuotable reports whether s can be sent as a quoted string: 7-bit,
// no NUL, CR or LF.
func imapQuotable(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b == 0 || b == '\r' || b == '\n' || b >= 0x80 {
			return false
		}
	}
	return true
}

// imapQuote makes s an IMAP quoted string.
func imapQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}
