package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"os"
	"strings"
	"sync"
)

func init() {
	registerService("smtp", func(s Spec) (Checker, error) { return smtpCheck{s: s, name: "smtp"}, nil })
	registerService("submission", func(s Spec) (Checker, error) { return smtpCheck{s: s, name: "submission"}, nil })
}

// smtpCheck is ldirectord's service smtp and submission (Net::SMTP->new):
// a 220 greeting, then EHLO answered 250, or, when the server refuses
// EHLO, HELO answered 250; then QUIT (its answer does not matter).
type smtpCheck struct {
	s    Spec
	name string
}

// smtpHelloName is the name given in EHLO/HELO: this host's name.
var smtpHelloName = sync.OnceValue(func() string {
	h, err := os.Hostname()
	if err != nil || h == "" || strings.ContainsAny(h, " \t\r\n") {
		return "localhost"
	}
	return h
})

func (c smtpCheck) Check(ctx context.Context) error {
	d, err := openDialog(ctx, c.s, "tcp", false, dialogMaxRead)
	if err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	defer d.close()
	tp := textproto.NewConn(struct {
		io.Reader
		io.Writer
		io.Closer
	}{d.r, d.conn, io.NopCloser(nil)})
	if _, _, err := tp.ReadResponse(220); err != nil {
		return fmt.Errorf("%s: greeting: %w", c.name, err)
	}
	if err := smtpHello(tp, "EHLO"); err != nil {
		var refused *textproto.Error
		if !errors.As(err, &refused) {
			return fmt.Errorf("%s: EHLO: %w", c.name, err)
		}
		if err := smtpHello(tp, "HELO"); err != nil {
			return fmt.Errorf("%s: EHLO refused (%v), HELO: %w", c.name, refused, err)
		}
	}
	d.goodbye("QUIT")
	return nil
}

func smtpHello(tp *textproto.Conn, verb string) error {
	if _, err := tp.Cmd("%s %s", verb, smtpHelloName()); err != nil {
		return err
	}
	_, _, err := tp.ReadResponse(250)
	return err
}
