package healthcheck

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

func init() {
	registerService("http_proxy", func(s Spec) (Checker, error) { return newHTTPProxyCheck(s), nil })
}

// httpProxyCheck is ldirectord's service http_proxy: request, an absolute
// URL, is fetched through the real server used as an HTTP proxy; success
// is as for http (final status 2xx and, when receive is set, a body
// matching it). It reuses httpCheck in proxy mode (absolute URI; CONNECT
// for https targets), a fresh connection every time.
type httpProxyCheck struct {
	http *httpCheck
	err  error // a request that is not an absolute URL: always down
}

func newHTTPProxyCheck(s Spec) *httpProxyCheck {
	raw := strings.TrimPrefix(s.Request, "/")
	u, err := url.Parse(raw)
	if err == nil && (u.Scheme != "http" && u.Scheme != "https" || u.Host == "") {
		err = fmt.Errorf("request %q is not an absolute http:// or https:// URL", raw)
	}
	if err != nil {
		return &httpProxyCheck{err: fmt.Errorf("http_proxy: %w", err)}
	}
	hc, err := newHTTPCheck(Spec{Service: u.Scheme, Request: raw, VirtualHost: s.VirtualHost, HTTPMethod: s.HTTPMethod, Receive: s.Receive})
	if err != nil {
		return &httpProxyCheck{err: fmt.Errorf("http_proxy: %w", err)}
	}
	hc.s = s
	hc.proxy = netip.AddrPortFrom(s.Addr, s.Port).String()
	return &httpProxyCheck{http: hc}
}

func (c *httpProxyCheck) Check(ctx context.Context) error {
	if c.err != nil {
		return c.err
	}
	if err := c.http.Check(ctx); err != nil {
		return fmt.Errorf("http_proxy via %s: %w", netip.AddrPortFrom(c.http.s.Addr, c.http.s.Port), err)
	}
	return nil
}
