package healthcheck

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// hostileServer answers every connection with head, then writes filler
// forever (nothing when filler is empty). It counts the bytes the kernel
// took from it and the requests it got.
type hostileServer struct {
	addr     string
	written  atomic.Int64
	requests atomic.Int64
}

func serveHostile(t *testing.T, head string, filler string) *hostileServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &hostileServer{addr: ln.Addr().String()}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				// Read the request head first, as a server would.
				br := bufio.NewReader(c)
				for {
					l, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if l == "\r\n" {
						break
					}
				}
				h.requests.Add(1)
				head := strings.ReplaceAll(head, "{addr}", h.addr)
				n, err := io.WriteString(c, head)
				h.written.Add(int64(n))
				if err != nil || filler == "" {
					return
				}
				buf := []byte(strings.Repeat(filler, max(1, 32<<10/len(filler))))
				for {
					n, err := c.Write(buf)
					h.written.Add(int64(n))
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return h
}

// hostileCheck runs an http check against h and returns its error, the
// time it took and the bytes allocated meanwhile.
func hostileCheck(t *testing.T, h *hostileServer, receive string) (error, time.Duration, uint64) {
	t.Helper()
	s := httpSpec(t, "http://"+h.addr, "/", receive)
	s.NegotiateTimeout, s.Timeout = 3*time.Second, 3*time.Second
	c, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ctx, cancel := context.WithTimeout(context.Background(), s.deadline())
	defer cancel()
	t0 := time.Now()
	err = c.Check(ctx)
	took := time.Since(t0)
	runtime.ReadMemStats(&after)
	return err, took, after.TotalAlloc - before.TotalAlloc
}

// Every part of a reply a real server controls is bounded: the check
// fails (or succeeds) at once with a reason, having read and allocated
// little, instead of reading until the deadline or out of memory.
func TestHTTPHostileRealBounded(t *testing.T) {
	const (
		ok      = "HTTP/1.1 200 OK\r\n"
		chunked = ok + "Transfer-Encoding: chunked\r\n\r\n"
		// A bounded check allocates little: the buffers of one exchange
		// and at most maxBody of body.
		maxAlloc = 8 << 20
		// What the server may push into the kernel's socket buffers on
		// loopback before the check closes the connection.
		maxWritten = 24 << 20
	)
	cases := []struct {
		name, head, filler, receive string
		want                        string // in the error; "" = up
	}{
		{"endless status line", "HTTP/1.1 200 ", "a", "", "status line longer than"},
		{"endless header line", ok + "X-Long: ", "b", "", "header line longer than"},
		{"endless headers", ok, "X-A: b\r\n", "", "more than 128 header lines"},
		{"large head", ok + strings.Repeat("X-Big: "+strings.Repeat("c", 4000)+"\r\n", 100) + "\r\n", "", "", "response head larger than"},
		{"endless body, no receive", ok + "\r\n", "d", "", ""},
		{"endless body, receive", ok + "\r\n", "d", "never", "does not match"},
		{"endless chunked body", chunked, "1000\r\n" + strings.Repeat("e", 4096) + "\r\n", "never", "does not match"},
		{"endless chunked body, no receive", chunked, "1000\r\n" + strings.Repeat("e", 4096) + "\r\n", "", ""},
		{"tiny chunks", chunked, "1;" + strings.Repeat("x", 1000) + "\r\nf\r\n", "never", "too much non-data"},
		// Within net/http's allowance for chunk extensions, but twice as
		// much encoding as data: the connection's byte budget ends it.
		{"chunk extensions", chunked, "100;" + strings.Repeat("x", 490) + "\r\n" + strings.Repeat("g", 256) + "\r\n", "never", "reply larger than"},
		{"endless chunk-size line", chunked, "f", "never", "line too long"},
		{"endless trailers", chunked + "2\r\nok\r\n0\r\n", "X-T: u\r\n", "ok", "long trailer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := serveHostile(t, c.head, c.filler)
			err, took, alloc := hostileCheck(t, h, c.receive)
			t.Logf("err=%v took=%v alloc=%d KiB written=%d KiB", err, took, alloc>>10, h.written.Load()>>10)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("check failed: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("error %v, want one saying %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "deadline") {
				t.Errorf("check ran into its deadline: nothing bounded it")
			}
			if alloc > maxAlloc {
				t.Errorf("check allocated %d MiB, want at most %d MiB", alloc>>20, maxAlloc>>20)
			}
			if w := h.written.Load(); w > maxWritten {
				t.Errorf("server got %d MiB into the check, want at most %d MiB", w>>20, maxWritten>>20)
			}
		})
	}
}

// Redirects are followed at most maxRedirects times, only to the real's
// own host (its address, the URL's host or virtualhost, which are dialled
// at the real's address), and only to http or https.
func TestHTTPRedirectBounds(t *testing.T) {
	loop := serveHostile(t, "HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n", "")
	err, _, _ := hostileCheck(t, loop, "")
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("more than %d redirects", maxRedirects)) {
		t.Errorf("redirect loop: %v, want too many redirects", err)
	}
	if n := loop.requests.Load(); n != maxRedirects+1 {
		t.Errorf("redirect loop: %d requests, want %d", n, maxRedirects+1)
	}

	// Another host: not followed, not even dialled.
	var dialled atomic.Int64
	other, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skip("no 127.0.0.2:", err)
	}
	defer other.Close()
	go func() {
		for {
			c, err := other.Accept()
			if err != nil {
				return
			}
			dialled.Add(1)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			c.Close()
		}
	}()
	away := serveHostile(t, "HTTP/1.1 301 Moved\r\nLocation: http://"+other.Addr().String()+"/\r\nContent-Length: 0\r\n\r\n", "")
	err, _, _ = hostileCheck(t, away, "")
	if err == nil || !strings.Contains(err.Error(), "not followed") {
		t.Errorf("off-host redirect: %v, want not followed", err)
	}
	if dialled.Load() != 0 {
		t.Errorf("off-host redirect target was dialled")
	}
	for _, loc := range []string{"file:///etc/passwd", "gopher://{addr}/"} {
		h := serveHostile(t, "HTTP/1.1 302 Found\r\nLocation: "+loc+"\r\nContent-Length: 0\r\n\r\n", "")
		if err, _, _ := hostileCheck(t, h, ""); err == nil || !strings.Contains(err.Error(), "not followed") {
			t.Errorf("redirect to %s: %v, want not followed", loc, err)
		}
	}

	// The real's own address on another port, and virtualhost (dialled at
	// the real), are followed.
	var gotHost atomic.Value
	final := serveHTTP(t, func(w http.ResponseWriter, r *http.Request) {
		gotHost.Store(r.Host)
		w.Write([]byte("arrived"))
	})
	_, port, _ := net.SplitHostPort(final)
	same := serveHostile(t, "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:"+port+"/x\r\nContent-Length: 0\r\n\r\n", "")
	if err, _, _ := hostileCheck(t, same, "arrived"); err != nil {
		t.Errorf("redirect to the real's own address: %v", err)
	}
	vh := serveHostile(t, "HTTP/1.1 302 Found\r\nLocation: http://www.example.com:"+port+"/x\r\nContent-Length: 0\r\n\r\n", "")
	s := httpSpec(t, "http://"+vh.addr, "/", "arrived")
	s.VirtualHost = "www.example.com"
	if err := check(t, s); err != nil {
		t.Errorf("redirect to virtualhost: %v", err)
	}
	if h, _ := gotHost.Load().(string); h != "www.example.com:"+port {
		t.Errorf("Host after a redirect to virtualhost: %q", h)
	}
}

func serveHTTP(t *testing.T, f http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: f}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}
