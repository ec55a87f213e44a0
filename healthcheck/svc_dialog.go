package healthcheck

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"
)

// A dialog is one conversation with a real server for the line-oriented
// negotiate checks (simpletcp, nntp, smtp, pop, imap, sip). It is bound to
// the check's context: the connection's deadline is the context's, and
// cancelling the context unblocks any read or write at once. Everything
// read from the server passes through a cap, and lines are cut at
// dialogMaxLine, so a server that streams forever or never ends a line
// costs neither unbounded time nor unbounded memory.
type dialog struct {
	ctx  context.Context
	conn net.Conn
	r    *bufio.Reader
	stop func() bool
}

const (
	// dialogMaxRead bounds what one mail or SIP dialog reads in all.
	dialogMaxRead = 64 << 10
	// dialogMaxLine is the longest line kept; the rest of a longer line
	// is read and dropped.
	dialogMaxLine = 16 << 10
)

var errDialogCap = errors.New("server sent too much")

// dialogPast is a deadline already gone: setting it unblocks I/O.
var dialogPast = time.Unix(1, 0)

// openDialog connects to the real over network (tcp or udp), with TLS
// (no certificate check, SNI = virtualhost when set) when useTLS, and
// reads at most limit bytes from it.
func openDialog(ctx context.Context, s Spec, network string, useTLS bool, limit int64) (*dialog, error) {
	if !s.Addr.IsValid() || s.Port == 0 {
		return nil, errors.New("no address or port to check")
	}
	d := checkDialer()
	conn, err := d.DialContext(ctx, network, netip.AddrPortFrom(s.Addr, s.Port).String())
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(dialogPast) })
	if useTLS {
		tc := tls.Client(conn, &tls.Config{
			InsecureSkipVerify: true, // as ldirectord: no certificate check
			ServerName:         s.VirtualHost,
		})
		if err := tc.HandshakeContext(ctx); err != nil {
			stop()
			conn.Close()
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
		conn = tc
	}
	return &dialog{
		ctx:  ctx,
		conn: conn,
		r:    bufio.NewReaderSize(&dialogCapReader{r: conn, n: limit}, 4096),
		stop: stop,
	}, nil
}

func (d *dialog) close() {
	d.stop()
	d.conn.Close()
}

// dialogBye bounds a polite goodbye (QUIT, LOGOUT) once the check has
// its answer: a server slow to say goodbye must not hold the check.
const dialogBye = 500 * time.Millisecond

// goodbye sends line and waits, briefly, for one line of answer; errors
// do not matter any more.
func (d *dialog) goodbye(line string) {
	if d.ctx.Err() != nil {
		return
	}
	dl := time.Now().Add(dialogBye)
	if cdl, ok := d.ctx.Deadline(); ok && cdl.Before(dl) {
		dl = cdl
	}
	_ = d.conn.SetDeadline(dl)
	if d.send(line) == nil {
		_, _ = d.readLine()
	}
}

// send writes one line ended by CRLF.
func (d *dialog) send(line string) error {
	_, err := io.WriteString(d.conn, line+"\r\n")
	return err
}

// readLine returns the next line without its line ending (LF or CRLF),
// cut at dialogMaxLine. A last line the server ended with EOF rather than
// LF is returned too; the call after it returns io.EOF.
func (d *dialog) readLine() (string, error) {
	var line []byte
	for {
		frag, err := d.r.ReadSlice('\n')
		if room := dialogMaxLine - len(line); room > 0 {
			line = append(line, frag[:min(len(frag), room)]...)
		}
		switch {
		case err == nil:
			return strings.TrimRight(string(line), "\r\n"), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			return strings.TrimRight(string(line), "\r\n"), nil
		}
		return "", err
	}
}

// dialogCapReader reads at most n bytes, then fails with errDialogCap.
type dialogCapReader struct {
	r io.Reader
	n int64
}

func (c *dialogCapReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, errDialogCap
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	return n, err
}

// dialogText quotes what a server said for an error message, cut short.
func dialogText(s string) string {
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// dialogSafe refuses a value that would break out of a line-oriented
// command (CR, LF or NUL).
func dialogSafe(what, v string) error {
	if strings.ContainsAny(v, "\r\n\x00") {
		return fmt.Errorf("%s contains CR, LF or NUL", what)
	}
	return nil
}

// openLoginDialog opens a TCP dialog (TLS for the secure variants) for a
// check that may log in: login and passwd, when a login is set, must be
// safe to put on a protocol line. Errors are prefixed with the service name.
func openLoginDialog(ctx context.Context, s Spec, name string, useTLS bool) (*dialog, error) {
	if s.Login != "" {
		if err := dialogSafe("login", s.Login); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if err := dialogSafe("passwd", s.Passwd); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	d, err := openDialog(ctx, s, "tcp", useTLS, dialogMaxRead)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return d, nil
}
