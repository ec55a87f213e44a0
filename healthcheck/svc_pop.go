package healthcheck

import (
	"context"
	"fmt"
	"strings"
)

func init() {
	registerService("pop", func(s Spec) (Checker, error) { return popCheck{s: s, name: "pop"}, nil })
	registerService("pops", func(s Spec) (Checker, error) { return popCheck{s: s, name: "pops", tls: true}, nil })
}

// popCheck is ldirectord's service pop and pops (Mail::POP3Client, pops
// over TLS without certificate check, SNI = virtualhost when set): a +OK
// greeting and, when login is set, USER and PASS both answered +OK; then
// QUIT (its answer does not matter).
type popCheck struct {
	s    Spec
	name string
	tls  bool
}

func (c popCheck) Check(ctx context.Context) error {
	d, err := openLoginDialog(ctx, c.s, c.name, c.tls)
	if err != nil {
		return err
	}
	defer d.close()
	if err := popReply(d); err != nil {
		return fmt.Errorf("%s: greeting: %w", c.name, err)
	}
	if c.s.Login != "" {
		if err := d.send("USER " + c.s.Login); err != nil {
			return fmt.Errorf("%s: USER: %w", c.name, err)
		}
		if err := popReply(d); err != nil {
			return fmt.Errorf("%s: USER %s: %w", c.name, c.s.Login, err)
		}
		if err := d.send("PASS " + c.s.Passwd); err != nil {
			return fmt.Errorf("%s: PASS: %w", c.name, err)
		}
		if err := popReply(d); err != nil {
			return fmt.Errorf("%s: PASS for %s: %w", c.name, c.s.Login, err)
		}
	}
	d.goodbye("QUIT")
	return nil
}

// popReply reads one reply line and fails unless it is +OK.
func popReply(d *dialog) error {
	line, err := d.readLine()
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+OK") {
		return fmt.Errorf("server said %s", dialogText(line))
	}
	return nil
}
