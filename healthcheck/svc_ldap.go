package healthcheck

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"
)

func init() {
	registerService("ldap", func(s Spec) (Checker, error) { return newLDAPCheck(s, false), nil })
	registerService("ldaps", func(s Spec) (Checker, error) { return newLDAPCheck(s, true), nil })
}

// ldapCheck is ldirectord's negotiate check for service ldap and ldaps:
// bind (as login with passwd when both are set, else anonymously), then a
// base-scope search of request (leading "/" stripped) with filter
// (objectClass=*). Up when exactly one entry comes back and, when receive
// is set, its DN matches receive.
//
// ldaps is TLS from the first byte, without certificate verification (as
// Net::LDAP's default verify => 'none'), with SNI set to virtualhost when
// one is configured. The whole check — connect, TLS, bind, search — is
// bounded by the context's deadline, and at most maxBody bytes are read.
// The search asks for no attributes ("1.1"): only the DN is needed.
type ldapCheck struct {
	s    Spec
	tls  bool
	addr string
	base string
}

func newLDAPCheck(s Spec, useTLS bool) *ldapCheck {
	return &ldapCheck{s: s, tls: useTLS, addr: netip.AddrPortFrom(s.Addr, s.Port).String(),
		base: strings.TrimPrefix(s.Request, "/")}
}

func (c *ldapCheck) Check(ctx context.Context) error {
	d := checkDialer()
	raw, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return fmt.Errorf("ldap %s: %w", c.addr, err)
	}
	w := watchConn(ctx, raw)
	defer w.stop()
	conn := net.Conn(&cappedConn{Conn: raw, left: maxBody})
	if c.tls {
		tc := tls.Client(conn, &tls.Config{
			InsecureSkipVerify: true, // ldirectord: Net::LDAP verify => 'none'
			ServerName:         c.s.VirtualHost,
		})
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return fmt.Errorf("ldaps %s: TLS handshake: %w", c.addr, ctxErr(ctx, err))
		}
		conn = tc
	}
	l := ldap.NewConn(conn, c.tls)
	l.Start()
	// Close waits for the library's goroutines to confirm: bound that wait
	// too, in case the deadline already passed.
	l.SetTimeout(max(time.Until(w.deadline()), 100*time.Millisecond))
	defer l.Close()

	if c.s.Login != "" && c.s.Passwd != "" {
		err = l.Bind(c.s.Login, c.s.Passwd)
	} else {
		err = l.UnauthenticatedBind("")
	}
	if err != nil {
		who := "anonymously"
		if c.s.Login != "" && c.s.Passwd != "" {
			who = "as " + c.s.Login
		}
		return fmt.Errorf("%s %s: bind %s: %w", c.s.Service, c.addr, who, ctxErr(ctx, err))
	}
	secs := 0
	if dl, ok := ctx.Deadline(); ok {
		secs = max(int(time.Until(dl)/time.Second), 1)
	}
	res, err := l.Search(ldap.NewSearchRequest(c.base, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		2, secs, false, "(objectClass=*)", []string{"1.1"}, nil))
	if err != nil {
		return fmt.Errorf("%s %s: search base %q: %w", c.s.Service, c.addr, c.base, ctxErr(ctx, err))
	}
	if len(res.Entries) != 1 {
		return fmt.Errorf("%s %s: search base %q: %d entries, want exactly 1", c.s.Service, c.addr, c.base, len(res.Entries))
	}
	if dn := res.Entries[0].DN; c.s.Receive != nil && !c.s.Receive.MatchString(dn) {
		return fmt.Errorf("%s %s: DN %q does not match receive %q", c.s.Service, c.addr, dn, c.s.Receive.String())
	}
	return nil
}

// ctxErr names the deadline when it is why an operation failed: a library
// reports it as an i/o timeout or a closed connection.
func ctxErr(ctx context.Context, err error) error {
	cerr := ctx.Err()
	if dl, ok := ctx.Deadline(); ok && cerr == nil && !time.Now().Before(dl) {
		cerr = context.DeadlineExceeded // the socket's deadline fired first
	}
	if cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}

// connWatch ties a connection to a context for code that cannot pass the
// context down (protocol libraries): the connection's deadline is the
// context's, and cancelling the context interrupts blocked reads and writes
// by moving the deadline into the past. Per-operation deadlines set through
// setReadDeadline never reach beyond the context's and are ignored once it
// is done.
type connWatch struct {
	conn   net.Conn
	ctxDL  time.Time // zero: the context has no deadline
	mu     sync.Mutex
	done   bool
	stopFn func() bool
}

func watchConn(ctx context.Context, conn net.Conn) *connWatch {
	w := &connWatch{conn: conn}
	if dl, ok := ctx.Deadline(); ok {
		w.ctxDL = dl
		conn.SetDeadline(dl)
	}
	w.stopFn = context.AfterFunc(ctx, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.done = true
		conn.SetDeadline(time.Unix(1, 0))
	})
	return w
}

// deadline is the context's deadline, or one minute from now without one.
func (w *connWatch) deadline() time.Time {
	if w.ctxDL.IsZero() {
		return time.Now().Add(time.Minute)
	}
	return w.ctxDL
}

// setReadDeadline sets the read deadline to t, or the context's if earlier.
func (w *connWatch) setReadDeadline(t time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	if !w.ctxDL.IsZero() && w.ctxDL.Before(t) {
		t = w.ctxDL
	}
	w.conn.SetReadDeadline(t)
}

func (w *connWatch) stop() { w.stopFn() }

// cappedConn fails reads once left bytes have been read, so a real server
// cannot make a check buffer without bound.
type cappedConn struct {
	net.Conn
	mu   sync.Mutex
	left int64
}

var errReadCap = errors.New("reply too large")

func (c *cappedConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	left := c.left
	c.mu.Unlock()
	if left <= 0 {
		return 0, errReadCap
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.left -= int64(n)
	c.mu.Unlock()
	return n, err
}
