package healthcheck

import (
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync/atomic"
	"testing"
)

func TestHTTPProxy(t *testing.T) {
	var conns atomic.Int32
	// A fake proxy: it answers absolute-form requests itself.
	proxy := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !r.URL.IsAbs() || r.URL.Host != "origin.example" {
			http.Error(w, "not a proxy request: "+r.RequestURI, http.StatusBadRequest)
			return
		}
		switch r.URL.Path {
		case "/ok.html":
			w.Write([]byte("proxied fine for " + r.Host))
		default:
			http.NotFound(w, r)
		}
	}))
	proxy.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	proxy.Start()
	defer proxy.Close()
	ap := proxy.Listener.Addr().(*net.TCPAddr).AddrPort()

	spec := func(req, recv string) Spec {
		s := dlgSpec("http_proxy", ap)
		s.Request, s.HTTPMethod = req, "GET"
		if recv != "" {
			s.Receive = regexp.MustCompile(recv)
		}
		return s
	}
	dlgUp(t, spec("/http://origin.example/ok.html", "fine for origin.example$"))
	dlgUp(t, spec("http://origin.example/ok.html", ""))
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections for 2 checks, want a fresh one each time", n)
	}
	s := spec("http://origin.example/ok.html", "fine")
	s.VirtualHost = "vhost.example"
	dlgUp(t, s)

	dlgDown(t, spec("http://origin.example/ok.html", "nope"), "does not match")
	dlgDown(t, spec("http://origin.example/missing", ""), "404")
	dlgDown(t, spec("/ok.html", ""), "not an absolute")
	refused := dlgRefused(t)
	s = dlgSpec("http_proxy", refused)
	s.Request = "http://origin.example/ok.html"
	dlgDown(t, s, "refused")
	hung := dlgServe(t, "127.0.0.1:0", nil, dlgHang)
	s = dlgHung("http_proxy", hung)
	s.Request = "http://origin.example/ok.html"
	dlgDown(t, s, "deadline")
}
