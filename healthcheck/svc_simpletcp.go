package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/lvsdirector/director/ipvs"
)

func init() {
	registerService("simpletcp", func(s Spec) (Checker, error) { return simpleTCPCheck{s: s}, nil })
}

// simpleTCPCheck is ldirectord's service simpletcp: connect over the
// virtual's protocol, send request (leading "/" dropped, each literal
// two-character "\n" turned into a newline), half-close, and read lines
// until one matches receive. Without receive any line will do. The
// deadline bounds the whole exchange; at most maxBody bytes are read.
type simpleTCPCheck struct{ s Spec }

func (c simpleTCPCheck) Check(ctx context.Context) error {
	network := "tcp"
	if c.s.Protocol == ipvs.UDP {
		network = "udp"
	}
	req := strings.ReplaceAll(strings.TrimPrefix(c.s.Request, "/"), `\n`, "\n")
	d, err := openDialog(ctx, c.s, network, false, maxBody)
	if err != nil {
		return fmt.Errorf("simpletcp: %w", err)
	}
	defer d.close()
	if req != "" {
		if _, err := io.WriteString(d.conn, req); err != nil {
			return fmt.Errorf("simpletcp: sending request: %w", err)
		}
	}
	if tc, ok := d.conn.(*net.TCPConn); ok {
		// A failure here (the server already closed) shows in the read.
		_ = tc.CloseWrite()
	}
	lines := 0
	for {
		line, err := d.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				if lines == 0 {
					return errors.New("simpletcp: connection closed without a reply")
				}
				return fmt.Errorf("simpletcp: no line of %d matches receive %q", lines, c.s.Receive.String())
			}
			return fmt.Errorf("simpletcp: reading reply (%d lines so far): %w", lines, err)
		}
		lines++
		if c.s.Receive == nil || c.s.Receive.MatchString(line) {
			return nil
		}
	}
}
