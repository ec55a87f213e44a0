package healthcheck

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"

	"github.com/jlaffaye/ftp"
)

func init() {
	registerService("ftp", func(s Spec) (Checker, error) { return newFTPCheck(s), nil })
}

// ftpCheck is ldirectord's negotiate check for service ftp (Net::FTP):
// connect, log in as login with passwd (the config defaults them to
// anonymous and ldirectord@<hostname>), cwd "/", binary, passive, RETR
// request. Up when the download matches receive.
//
// With an empty receive the check is up when the download succeeded: in
// ldirectord an empty pattern is Perl's "last successful pattern", which
// makes the result depend on unrelated earlier matches.
//
// At most maxBody bytes are downloaded: receive is matched on that much,
// and a longer file is not read further (the transfer is aborted, which is
// not a failure). Data connections go to the real server's address, never
// to the one a PASV reply names (EPSV is tried first). The whole session is
// bounded by the context's deadline, every connection included.
type ftpCheck struct {
	s    Spec
	addr string
}

func newFTPCheck(s Spec) *ftpCheck {
	return &ftpCheck{s: s, addr: netip.AddrPortFrom(s.Addr, s.Port).String()}
}

func (c *ftpCheck) Check(ctx context.Context) error {
	// Every connection the library opens — control and data — is dialed
	// here, tied to ctx and capped, and closed when the check returns.
	var (
		mu    sync.Mutex
		conns []net.Conn
		stops []*connWatch
	)
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for i, nc := range conns {
			stops[i].stop()
			nc.Close()
		}
	}()
	dial := func(network, address string) (net.Conn, error) {
		d := checkDialer()
		nc, err := d.DialContext(ctx, network, address)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		conns = append(conns, nc)
		stops = append(stops, watchConn(ctx, nc))
		mu.Unlock()
		return &cappedConn{Conn: nc, left: maxBody + 64<<10}, nil
	}
	fail := func(what string, err error) error {
		return fmt.Errorf("ftp %s: %s: %w", c.addr, what, ctxErr(ctx, err))
	}

	sc, err := ftp.Dial(c.addr, ftp.DialWithDialFunc(dial), ftp.DialWithDisabledUTF8(true))
	if err != nil {
		return fail("connect", err)
	}
	defer sc.Quit()
	// Login also switches to binary (TYPE I).
	if err := sc.Login(c.s.Login, c.s.Passwd); err != nil {
		return fail("login as "+c.s.Login, err)
	}
	// As in ldirectord a refused "CWD /" is not a failure by itself: the
	// request is usually an absolute path anyway.
	_ = sc.ChangeDir("/")
	r, err := sc.Retr(c.s.Request)
	if err != nil {
		return fail("retr "+c.s.Request, err)
	}
	body, err := io.ReadAll(io.LimitReader(r, maxBody))
	if err != nil {
		r.Close()
		return fail("retr "+c.s.Request, err)
	}
	// When the whole file came, the server must confirm the transfer
	// (226). A longer file is cut short instead: its data connection is
	// closed on return, after QUIT.
	if len(body) < maxBody {
		if err := r.Close(); err != nil {
			return fail("retr "+c.s.Request, err)
		}
	}
	if c.s.Receive != nil && !c.s.Receive.Match(body) {
		return fmt.Errorf("ftp %s: %s (%d bytes) does not match receive %q", c.addr, c.s.Request, len(body), c.s.Receive.String())
	}
	return nil
}
