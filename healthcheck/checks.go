package healthcheck

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"github.com/lvsdirector/director/internal/subproc"
)

// maxBody bounds what a negotiate check reads of a reply, so a real server
// that streams forever cannot hold memory; receive is matched on this much.
const maxBody = 1 << 20

// checkDialer is the dialer of every check. TCP keepalive is off: a check's
// connection lives for one exchange, and setting it up costs four
// setsockopt calls per check (8 % of the CPU at 10,000 checks a second).
func checkDialer() *net.Dialer { return &net.Dialer{KeepAlive: -1} }

// dialTCP connects to addr ("ip:port" or "name:port"). A literal address
// (what a real server nearly always is) skips the resolver: parsing and
// resolving the string again at every check cost a dozen allocations.
func dialTCP(ctx context.Context, addr string) (net.Conn, error) {
	d := checkDialer()
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		c, err := d.DialTCP(ctx, "tcp", netip.AddrPort{}, ap)
		if err != nil {
			return nil, err // a nil *TCPConn must not become a non-nil net.Conn
		}
		return c, nil
	}
	return d.DialContext(ctx, "tcp", addr)
}

type connectCheck struct{ s Spec }

func (c connectCheck) Check(ctx context.Context) error {
	c2, err := checkDialer().DialTCP(ctx, "tcp", netip.AddrPort{}, netip.AddrPortFrom(c.s.Addr, c.s.Port))
	if err != nil {
		return err
	}
	return c2.Close()
}

// httpCheck is ldirectord's negotiate check for service http and https:
// fetch request, require a 2xx final status (redirects followed, as LWP
// does for GET and HEAD) and, when receive is set, a body matching it.
//
// It speaks HTTP/1.1 over a fresh connection per check ("Connection:
// close", as ldirectord: a kept-alive socket would hide a server that
// stopped accepting) and parses the reply with net/http's reader. It does
// not use http.Client: its transport machinery (connection pool, reader
// and writer goroutines per connection) costs more than the probe itself
// when thousands of reals are checked every second.
type httpCheck struct {
	s     Spec
	url   *url.URL
	tls   *tls.Config
	proxy string // host:port: fetch through this HTTP proxy (http_proxy)
}

const maxRedirects = 7 // LWP's default

func newHTTPCheck(s Spec) (*httpCheck, error) {
	scheme := s.Service
	raw := s.Request
	if !strings.Contains(raw, scheme+"://") {
		raw = scheme + "://" + netip.AddrPortFrom(s.Addr, s.Port).String() + "/" + strings.TrimPrefix(raw, "/")
	} else {
		raw = strings.TrimPrefix(raw, "/")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("check URL %q: %w", raw, err)
	}
	return &httpCheck{s: s, url: u, tls: &tls.Config{
		InsecureSkipVerify: true, // ldirectord: verify_hostname => 0
		ServerName:         s.VirtualHost,
	}}, nil
}

func (c *httpCheck) Check(ctx context.Context) error {
	method := c.s.HTTPMethod
	if method == "" {
		method = http.MethodGet
	}
	u := c.url
	for hop := 0; ; hop++ {
		status, body, loc, err := c.fetch(ctx, method, u, hop == 0)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) {
				// The socket deadline is the context's: say so plainly.
				err = fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
			}
			return fmt.Errorf("%s %s: %w", method, u, err)
		}
		if loc != "" {
			if hop >= maxRedirects {
				return fmt.Errorf("%s %s: more than %d redirects", method, c.url, maxRedirects)
			}
			next, err := u.Parse(loc)
			if err != nil {
				return fmt.Errorf("%s %s: bad redirect %q: %w", method, u, loc, err)
			}
			if err := c.followable(next); err != nil {
				return fmt.Errorf("%s %s: redirect to %s not followed: %w", method, u, dialogText(next.String()), err)
			}
			u = next
			continue
		}
		if status < 200 || status > 299 {
			return fmt.Errorf("%s %s: status %d %s", method, u, status, http.StatusText(status))
		}
		if c.s.Receive != nil && method != http.MethodHead && !c.s.Receive.Match(body) {
			return fmt.Errorf("%s %s: body does not match receive %q", method, u, c.s.Receive.String())
		}
		return nil
	}
}

// followable says whether a redirect target may be fetched. LWP follows
// a redirect anywhere; a check follows only those that stay on the real
// server (its address, the check URL's host or virtualhost, all dialled
// where the check URL points), so a real cannot send the director to
// probe other hosts, nor pass by answering for another server. Through
// http_proxy every fetch goes to the real anyway.
func (c *httpCheck) followable(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("not http or https")
	}
	if c.proxy != "" || c.dialHostname(u) != "" {
		return nil
	}
	return errors.New("another host than the real server's")
}

// dialHostname is where a URL on the real's host is dialled, or "" for
// another host. virtualhost names the real's site, not where to connect.
func (c *httpCheck) dialHostname(u *url.URL) string {
	h := u.Hostname()
	if strings.EqualFold(h, c.url.Hostname()) {
		return h
	}
	if a, err := netip.ParseAddr(h); err == nil && a.Unmap() == c.s.Addr.Unmap() {
		return h
	}
	if vh := c.s.VirtualHost; vh != "" {
		if name, _, err := net.SplitHostPort(vh); err == nil {
			vh = name
		}
		if strings.EqualFold(h, vh) {
			return c.url.Hostname()
		}
	}
	return ""
}

// Bounds on what an http check reads of one reply (Net::HTTP's limits
// for lines and header count): a real server that never ends a line, its
// headers or its body costs at most this, then the check fails saying so.
const (
	httpMaxLine    = 8 << 10  // status line, one header line
	httpMaxHeaders = 128      // header lines
	httpMaxHead    = 64 << 10 // status line and headers together
	// httpMaxWire bounds the bytes read from the connection in all: the
	// head, maxBody of body and chunked encoding's overhead.
	httpMaxWire = httpMaxHead + 2*maxBody
)

// fetch does one request on a new connection. It returns the redirect
// target for 301/302/303/307/308 replies that carry one.
func (c *httpCheck) fetch(ctx context.Context, method string, u *url.URL, first bool) (int, []byte, string, error) {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	host := net.JoinHostPort(u.Hostname(), port)
	dial := host
	if c.proxy != "" {
		dial = c.proxy
	} else if h := c.dialHostname(u); h != "" {
		dial = net.JoinHostPort(h, port)
	}
	raw, err := dialTCP(ctx, dial)
	if err != nil {
		return 0, nil, "", err
	}
	defer raw.Close()
	if dl, ok := ctx.Deadline(); ok {
		raw.SetDeadline(dl)
	}
	conn := net.Conn(&cappedConn{Conn: raw, left: httpMaxWire})
	target := u.RequestURI()
	if c.proxy != "" {
		if u.Scheme == "https" {
			if err := connectTunnel(conn, host); err != nil {
				return 0, nil, "", err
			}
		} else {
			target = u.String() // a proxy takes the absolute URI
		}
	}
	// The Host header is virtualhost on the first hop; a redirect to
	// another host names its own.
	hostHeader := u.Host
	if first && c.s.VirtualHost != "" {
		hostHeader = c.s.VirtualHost
	}
	if u.Scheme == "https" {
		cfg := c.tls
		if !first || c.s.VirtualHost == "" {
			cfg = cfg.Clone()
			cfg.ServerName = u.Hostname()
			if first && c.s.VirtualHost != "" {
				cfg.ServerName = c.s.VirtualHost
			}
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return 0, nil, "", err
		}
		conn = tc
	}
	req := method + " " + target + " HTTP/1.1\r\nHost: " + hostHeader +
		"\r\nUser-Agent: directord-check\r\nAccept: */*\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return 0, nil, "", err
	}
	br := getReader(conn)
	defer putReader(br)
	head, err := readHTTPHead(br)
	if err != nil {
		return 0, nil, "", err
	}
	rr := getReader(io.MultiReader(bytes.NewReader(head), br))
	defer putReader(rr)
	resp, err := http.ReadResponse(rr, &http.Request{Method: method})
	if err != nil {
		return 0, nil, "", err
	}
	// resp.Body is not closed: closing it would read the rest of the body
	// (until the deadline, from a server that streams forever). Closing
	// the connection ends it.
	switch resp.StatusCode {
	case 301, 302, 303, 307, 308:
		if loc := resp.Header.Get("Location"); loc != "" {
			return resp.StatusCode, nil, loc, nil
		}
	}
	if c.s.Receive == nil || method == http.MethodHead {
		return resp.StatusCode, nil, "", nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if errors.Is(err, errReadCap) {
		return 0, nil, "", fmt.Errorf("reading body: reply larger than %d bytes", httpMaxWire)
	}
	if err != nil {
		return 0, nil, "", fmt.Errorf("reading body: %w", err)
	}
	return resp.StatusCode, body, "", nil
}

// readers are the 4 KiB read buffers of checks in flight, reused: a check
// every second for each of thousands of reals would otherwise allocate
// two of them each time. Nothing read through one outlives its fetch.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

func getReader(r io.Reader) *bufio.Reader {
	br := readers.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

// putReader returns br to the pool, holding on to nothing it read from.
func putReader(br *bufio.Reader) {
	br.Reset(nil)
	readers.Put(br)
}

// readHTTPHead reads a reply's status line and headers, up to and with
// the blank line, within httpMaxLine, httpMaxHeaders and httpMaxHead.
func readHTTPHead(br *bufio.Reader) ([]byte, error) {
	// One buffer for the whole head: lines are appended as they come, so
	// a usual reply (a few hundred bytes) costs one allocation.
	head := make([]byte, 0, 512)
	for lines := 0; ; lines++ {
		what := "header line"
		if lines == 0 {
			what = "status line"
		}
		start := len(head)
		for {
			frag, err := br.ReadSlice('\n')
			head = append(head, frag...)
			if len(head)-start > httpMaxLine {
				return nil, fmt.Errorf("%s longer than %d bytes", what, httpMaxLine)
			}
			if err == nil {
				break
			}
			if !errors.Is(err, bufio.ErrBufferFull) {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return nil, fmt.Errorf("reading %s: %w", what, err)
			}
		}
		if len(head) > httpMaxHead {
			return nil, fmt.Errorf("response head larger than %d bytes", httpMaxHead)
		}
		line := head[start:]
		if lines > 0 && (len(line) == 1 || len(line) == 2 && line[0] == '\r') {
			return head, nil
		}
		if lines >= httpMaxHeaders {
			return nil, fmt.Errorf("more than %d header lines", httpMaxHeaders)
		}
	}
}

// connectTunnel asks an HTTP proxy for a tunnel to host (for https).
func connectTunnel(conn net.Conn, host string) error {
	if _, err := io.WriteString(conn, "CONNECT "+host+" HTTP/1.1\r\nHost: "+host+"\r\n\r\n"); err != nil {
		return err
	}
	// Read the reply byte by byte up to the blank line, so nothing of the
	// tunnelled stream is swallowed by a buffer.
	var head []byte
	one := make([]byte, 1)
	for !strings.HasSuffix(string(head), "\r\n\r\n") {
		if len(head) > 8192 {
			return fmt.Errorf("proxy CONNECT reply too long")
		}
		if _, err := conn.Read(one); err != nil {
			return fmt.Errorf("proxy CONNECT: %w", err)
		}
		head = append(head, one[0])
	}
	if f := strings.Fields(string(head)); len(f) < 2 || f[1] != "200" {
		return fmt.Errorf("proxy refused CONNECT %s: %q", host, strings.SplitN(string(head), "\r\n", 2)[0])
	}
	return nil
}

// combinedCheck is checktype=N: a connect check every pass and a negotiate
// check every N passes; a failed connect forces a negotiate on the next.
type combinedCheck struct {
	connect   Checker
	negotiate Checker
	every     int
	count     int // passes since the last negotiate; -1 forces one
}

func (c *combinedCheck) Check(ctx context.Context) error {
	if c.count < 0 || c.count >= c.every {
		if err := c.negotiate.Check(ctx); err != nil {
			c.count = -1
			return err
		}
		c.count = 0
		return nil
	}
	if err := c.connect.Check(ctx); err != nil {
		c.count = -1
		return err
	}
	c.count++
	return nil
}

// externalCheck runs "checkcommand VIP VPORT RIP RPORT"; exit 0 is up.
// For fwmark virtuals VIP is the mark and VPORT 0, as in ldirectord.
type externalCheck struct{ s Spec }

func (c externalCheck) Check(ctx context.Context) error {
	vip, vport := c.s.Virtual.Addr.String(), strconv.Itoa(int(c.s.Virtual.Port))
	if c.s.Virtual.FWMark != 0 {
		vip, vport = strconv.FormatUint(uint64(c.s.Virtual.FWMark), 10), "0"
	}
	// The check's budget is its context; a probe that overruns it is
	// down already and holds a concurrency slot, so its group gets
	// SIGKILL at once. Only the start of its output is kept, for the log.
	res, err := subproc.Run(ctx, subproc.Cmd{Path: c.s.Command, Args: []string{vip, vport, c.s.Addr.String(), strconv.Itoa(int(c.s.Port))},
		Limit: 4 << 10})
	if ctx.Err() != nil {
		return fmt.Errorf("%s: timed out", c.s.Command)
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			msg := strings.TrimSpace(string(res.Output))
			if len(msg) > 200 {
				msg = msg[:200]
			}
			return fmt.Errorf("%s exited %d %s", c.s.Command, ee.ExitCode(), msg)
		}
		return err
	}
	return nil
}
