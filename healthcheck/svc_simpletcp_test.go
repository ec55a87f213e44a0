package healthcheck

import (
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lvsdirector/director/ipvs"
)

func simpleSpec(s Spec, request, receive string) Spec {
	s.Service, s.Request = "simpletcp", request
	if receive != "" {
		s.Receive = regexp.MustCompile(receive)
	}
	return s
}

func TestSimpleTCP(t *testing.T) {
	got := make(chan string, 10)
	// The server reads the whole request (so the check must half-close),
	// then answers with a few lines.
	handler := func(c net.Conn) {
		req, _ := io.ReadAll(io.LimitReader(c, 1000))
		got <- string(req)
		io.WriteString(c, "hello\r\nstatus: green\nlast line without newline")
	}
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		ap := dlgServe(t, addr, nil, handler)
		base := dlgSpec("simpletcp", ap)
		cases := []struct {
			req, recv string
			up        bool
		}{
			{`/PING x\nsecond\n`, "^status: green$", true},
			{"", "", true},
			{"ping", "hello", true},
			{"ping", "without newline$", true},
			{"ping", "red", false},
		}
		for _, tc := range cases {
			err := check(t, simpleSpec(base, tc.req, tc.recv))
			if (err == nil) != tc.up {
				t.Errorf("%s request %q receive %q: err %v, want up=%v", addr, tc.req, tc.recv, err, tc.up)
			}
			if req := <-got; tc.req == `/PING x\nsecond\n` && req != "PING x\nsecond\n" {
				t.Errorf("server got request %q", req)
			}
		}
	}
}

func TestSimpleTCPDown(t *testing.T) {
	// Reads the request, then closes without a word. (Closing before the
	// request has arrived would make the kernel answer it with a reset.)
	closed := dlgServe(t, "127.0.0.1:0", nil, func(c net.Conn) { io.Copy(io.Discard, c) })
	dlgDown(t, simpleSpec(dlgSpec("simpletcp", closed), "x", "ok"), "without a reply")

	refused := dlgRefused(t)
	dlgDown(t, simpleSpec(dlgSpec("simpletcp", refused), "x", "ok"), "refused")

	// Never answers, never closes: down by the deadline.
	hung := dlgServe(t, "127.0.0.1:0", nil, dlgHang)
	dlgDown(t, simpleSpec(dlgHung("simpletcp", hung), "x", "ok"), "timeout")

	// Streams forever without a match: down by the read cap or the
	// deadline, whichever comes first, never hanging.
	stream := dlgServe(t, "127.0.0.1:0", nil, func(c net.Conn) {
		buf := []byte(strings.Repeat("garbage\n", 512))
		for {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	})
	s := simpleSpec(dlgHung("simpletcp", stream), "x", "ok")
	start := time.Now()
	if err := check(t, s); err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("streaming server: err %v after %v", err, time.Since(start))
	}
}

func TestSimpleTCPOverUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if string(buf[:n]) == "ping\n" {
				pc.WriteTo([]byte("junk\npong\n"), from)
			}
		}
	}()
	ap := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	s := dlgSpec("simpletcp", ap)
	s.Protocol = ipvs.UDP
	if err := check(t, simpleSpec(s, `ping\n`, "^pong$")); err != nil {
		t.Fatalf("udp: %v", err)
	}
	s.NegotiateTimeout, s.Timeout = 300*time.Millisecond, 300*time.Millisecond
	dlgDown(t, simpleSpec(s, `nothing\n`, "^pong$"), "timeout")

	// Nothing listening: refused (ICMP port unreachable) or the deadline.
	pc2, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := pc2.LocalAddr().(*net.UDPAddr).AddrPort()
	pc2.Close()
	s.Port = dead.Port()
	if err := check(t, simpleSpec(s, `ping\n`, "pong")); err == nil {
		t.Fatal("udp to a closed port is up")
	}
}
