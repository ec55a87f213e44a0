package healthcheck

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// maxBody bounds what a negotiate check reads of a reply, so a real server
// that streams forever cannot hold memory; receive is matched on this much.
const maxBody = 1 << 20

type connectCheck struct{ s Spec }

func (c connectCheck) Check(ctx context.Context) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(c.s.Addr, c.s.Port).String())
	if err != nil {
		return err
	}
	return conn.Close()
}

// httpCheck is ldirectord's negotiate check for service http and https:
// fetch request, require a 2xx final status (redirects followed) and, when
// receive is set, a body matching it.
type httpCheck struct {
	s      Spec
	url    string
	client *http.Client
}

func newHTTPCheck(s Spec) *httpCheck {
	scheme := s.Service
	host := netip.AddrPortFrom(s.Addr, s.Port).String()
	url := s.Request
	if !strings.Contains(url, scheme+"://") {
		url = scheme + "://" + host + "/" + strings.TrimPrefix(url, "/")
	} else {
		url = strings.TrimPrefix(url, "/")
	}
	tr := &http.Transport{
		// Every check opens a fresh connection, as ldirectord does: a
		// kept-alive socket would hide a server that stopped accepting.
		DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{
			InsecureSkipVerify: true, // ldirectord: verify_hostname => 0
			ServerName:         s.VirtualHost,
		},
		Proxy:              nil,
		DisableCompression: true,
	}
	return &httpCheck{s: s, url: url, client: &http.Client{Transport: tr}}
}

func (c *httpCheck) Check(ctx context.Context) error {
	method := c.s.HTTPMethod
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url, nil)
	if err != nil {
		return err
	}
	if c.s.VirtualHost != "" {
		req.Host = c.s.VirtualHost
	}
	req.Header.Set("User-Agent", "directord-check")
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s %s: status %s", method, c.url, resp.Status)
	}
	if c.s.Receive == nil || method == http.MethodHead {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("%s %s: reading body: %w", method, c.url, err)
	}
	if !c.s.Receive.Match(body) {
		return fmt.Errorf("%s %s: body does not match receive %q", method, c.url, c.s.Receive.String())
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
	cmd := exec.CommandContext(ctx, c.s.Command, vip, vport, c.s.Addr.String(), strconv.Itoa(int(c.s.Port)))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Kill the whole process group on timeout: a check script's children
	// must not outlive it.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return fmt.Errorf("%s: timed out", c.s.Command)
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			msg := strings.TrimSpace(string(out))
			if len(msg) > 200 {
				msg = msg[:200]
			}
			return fmt.Errorf("%s exited %d %s", c.s.Command, ee.ExitCode(), msg)
		}
		return err
	}
	return nil
}
