package healthcheck

import (
	"context"
	"fmt"
	"io"
)

func init() {
	registerService("nntp", func(s Spec) (Checker, error) { return nntpCheck{s: s}, nil })
}

// nntpCheck is ldirectord's service nntp: connect, read (at most 64 bytes)
// what the server says first; up if that begins with '2' (200/201 ready).
type nntpCheck struct{ s Spec }

func (c nntpCheck) Check(ctx context.Context) error {
	d, err := openDialog(ctx, c.s, "tcp", false, 64)
	if err != nil {
		return fmt.Errorf("nntp: %w", err)
	}
	defer d.close()
	buf := make([]byte, 64)
	n, err := d.r.Read(buf)
	if n == 0 {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("nntp: reading greeting: %w", err)
	}
	if buf[0] != '2' {
		return fmt.Errorf("nntp: greeting %s", dialogText(string(buf[:n])))
	}
	return nil
}
