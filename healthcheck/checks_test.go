package healthcheck

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lvsdirector/director/ipvs"
)

func addrPort(t *testing.T, hostport string) (netip.Addr, uint16) {
	t.Helper()
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		t.Fatal(err)
	}
	return ap.Addr(), ap.Port()
}

func httpSpec(t *testing.T, url, request, receive string) Spec {
	a, p := addrPort(t, strings.TrimPrefix(strings.TrimPrefix(url, "http://"), "https://"))
	s := Spec{Type: "negotiate", Service: "http", Addr: a, Port: p, Protocol: ipvs.TCP, Request: request,
		HTTPMethod: "GET", NegotiateTimeout: 2 * time.Second, Timeout: time.Second, Interval: time.Second, FailureCount: 1}
	if strings.HasPrefix(url, "https://") {
		s.Service = "https"
	}
	if receive != "" {
		s.Receive = regexp.MustCompile(receive)
	}
	return s
}

func check(t *testing.T, s Spec) error {
	t.Helper()
	c, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.deadline())
	defer cancel()
	return c.Check(ctx)
}

func TestHTTPNegotiate(t *testing.T) {
	var gotHost string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotHost = r.Host
		switch r.URL.Path {
		case "/test.html":
			w.Write([]byte("all is ok here"))
		case "/moved":
			http.Redirect(w, r, "/test.html", http.StatusFound)
		case "/err":
			http.Error(w, "ok but 500", 500)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	cases := []struct {
		req, recv, vhost string
		up               bool
	}{
		{"/test.html", "ok", "", true},
		{"/test.html", "", "", true},
		{"/test.html", "^all.*here$", "", true},
		{"/test.html", "nope", "", false},
		{"/missing", "", "", false},
		{"/err", "ok", "", false},
		{"/moved", "ok", "", true},
		{"/test.html", "ok", "www.example.com", true},
	}
	for _, c := range cases {
		s := httpSpec(t, srv.URL, c.req, c.recv)
		s.VirtualHost = c.vhost
		err := check(t, s)
		if (err == nil) != c.up {
			t.Errorf("%s recv %q: up=%v, want %v (%v)", c.req, c.recv, err == nil, c.up, err)
		}
		if c.vhost != "" && gotHost != c.vhost {
			t.Errorf("Host header %q, want %q", gotHost, c.vhost)
		}
	}
}

func TestHTTPSNoVerifyAndSNI(t *testing.T) {
	var sni string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sni = r.TLS.ServerName
		w.Write([]byte("secure ok"))
	}))
	srv.StartTLS()
	defer srv.Close()
	s := httpSpec(t, srv.URL, "/", "secure")
	s.VirtualHost = "shop.example"
	if err := check(t, s); err != nil {
		t.Fatalf("https check with a self-signed cert: %v", err)
	}
	if sni != "shop.example" {
		t.Errorf("SNI %q, want virtualhost", sni)
	}
}

// A real server that accepts and never answers, or answers garbage, is
// down within the negotiate timeout.
func TestHTTPHungAndGarbage(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { time.Sleep(5 * time.Second); c.Close() }()
		}
	}()
	s := httpSpec(t, "http://"+ln.Addr().String(), "/", "")
	s.NegotiateTimeout, s.Timeout = 300*time.Millisecond, 300*time.Millisecond
	t0 := time.Now()
	if err := check(t, s); err == nil {
		t.Fatal("hung server reported up")
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("hung check took %v", d)
	}

	g, _ := net.Listen("tcp", "127.0.0.1:0")
	defer g.Close()
	go func() {
		for {
			c, err := g.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("\x00\x01garbage\r\n\r\n"))
			c.Close()
		}
	}()
	if err := check(t, httpSpec(t, "http://"+g.Addr().String(), "/", "")); err == nil {
		t.Fatal("garbage answer reported up")
	}
}

func TestConnect(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	a, p := addrPort(t, ln.Addr().String())
	s := Spec{Type: "connect", Addr: a, Port: p, Protocol: ipvs.TCP, Timeout: time.Second}
	if err := check(t, s); err != nil {
		t.Fatalf("open port: %v", err)
	}
	ln.Close()
	if err := check(t, s); err == nil {
		t.Fatal("closed port reported up")
	}
}

func TestExternal(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "chk")
	os.WriteFile(script, []byte("#!/bin/sh\necho \"$@\" > "+dir+"/args\n[ \"$3\" = 10.0.1.11 ] || exit 1\n[ \"$5\" = hang ] && sleep 30\nexit 0\n"), 0o755)
	s := Spec{Type: "external", Command: script, Addr: netip.MustParseAddr("10.0.1.11"), Port: 80,
		Virtual: ipvs.ServiceKey{Family: ipvs.INET, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("10.0.0.100"), Port: 8080}, Timeout: time.Second}
	if err := check(t, s); err != nil {
		t.Fatal(err)
	}
	args, _ := os.ReadFile(filepath.Join(dir, "args"))
	if string(args) != "10.0.0.100 8080 10.0.1.11 80\n" {
		t.Fatalf("args %q", args)
	}
	s.Addr = netip.MustParseAddr("10.0.1.12")
	if err := check(t, s); err == nil {
		t.Fatal("exit 1 reported up")
	}
}

func TestCombinedNegotiatesEveryN(t *testing.T) {
	var neg, con int
	n := &countCheck{n: &neg}
	c := &combinedCheck{connect: &countCheck{n: &con}, negotiate: n, every: 2, count: -1}
	for i := 0; i < 7; i++ {
		c.Check(context.Background())
	}
	// pass 1 negotiate, then connect, connect, negotiate, connect, connect, negotiate
	if neg != 3 || con != 4 {
		t.Fatalf("negotiates %d connects %d", neg, con)
	}
}

type countCheck struct {
	n   *int
	err error
}

func (c *countCheck) Check(context.Context) error { *c.n++; return c.err }
