package healthcheck

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lvsdirector/director/ipvs"
)

// sipParsed is an OPTIONS request as the fake server saw it.
type sipParsed struct {
	first   string
	headers map[string]string
}

func sipParse(t *testing.T, msg string) sipParsed {
	head, body, ok := strings.Cut(msg, "\r\n\r\n")
	if !ok || body != "" {
		t.Errorf("request not ended by an empty line, or with a body: %q", msg)
	}
	lines := strings.Split(head, "\r\n")
	p := sipParsed{first: lines[0], headers: map[string]string{}}
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ":")
		p.headers[strings.ToLower(k)] = strings.TrimSpace(v)
	}
	return p
}

// sipValid checks the request against RFC 3261 and the socket it came
// from.
func sipValid(t *testing.T, p sipParsed, transport string, from netip.AddrPort, login string) {
	if p.first != "OPTIONS sip:"+login+" SIP/2.0" {
		t.Errorf("request line %q", p.first)
	}
	via := p.headers["via"]
	if !strings.HasPrefix(via, "SIP/2.0/"+transport+" "+from.String()+";branch=z9hG4bK") {
		t.Errorf("Via %q does not name the socket %s/%s", via, transport, from)
	}
	for _, h := range []string{"max-forwards", "to", "from", "call-id", "cseq", "contact", "accept", "content-length"} {
		if p.headers[h] == "" {
			t.Errorf("no %s header", h)
		}
	}
	if !strings.Contains(p.headers["from"], ";tag=") || p.headers["cseq"] != "1 OPTIONS" || p.headers["content-length"] != "0" {
		t.Errorf("headers %v", p.headers)
	}
	if !strings.Contains(p.headers["contact"], from.String()) {
		t.Errorf("Contact %q does not name the socket %s", p.headers["contact"], from)
	}
}

func sipReply(p sipParsed, status string) string {
	return fmt.Sprintf("SIP/2.0 %s\r\nVia: %s\r\nTo: %s;tag=srv\r\nFrom: %s\r\nCall-ID: %s\r\nCSeq: %s\r\nContent-Length: 0\r\n\r\n",
		status, p.headers["via"], p.headers["to"], p.headers["from"], p.headers["call-id"], p.headers["cseq"])
}

// sipUDP is a fake SIP server over UDP answering with replies(p).
func sipUDP(t *testing.T, addr string, login string, replies func(p sipParsed) []string) netip.AddrPort {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		if strings.HasPrefix(addr, "[::1]") {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			p := sipParse(t, string(buf[:n]))
			sipValid(t, p, "UDP", from.(*net.UDPAddr).AddrPort(), login)
			for _, r := range replies(p) {
				pc.WriteTo([]byte(r), from)
			}
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

func sipSpec(ap netip.AddrPort, proto ipvs.Protocol, login string) Spec {
	s := dlgSpec("sip", ap)
	s.Protocol, s.Login = proto, login
	return s
}

func TestSIPUDP(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		ap := sipUDP(t, addr, "probe@example.org", func(p sipParsed) []string {
			return []string{sipReply(p, "100 Trying"), sipReply(p, "200 OK")}
		})
		dlgUp(t, sipSpec(ap, ipvs.UDP, "probe@example.org"))
	}
	// A stale 200 for another Call-ID does not count.
	ap := sipUDP(t, "127.0.0.1:0", "u@h", func(p sipParsed) []string {
		stale := p
		stale.headers = map[string]string{"via": p.headers["via"], "call-id": "old-call"}
		return []string{sipReply(stale, "200 OK"), sipReply(p, "404 Not Found")}
	})
	dlgDown(t, sipSpec(ap, ipvs.UDP, "u@h"), "404 Not Found")
	ap = sipUDP(t, "127.0.0.1:0", "u@h", func(p sipParsed) []string { return []string{"garbage"} })
	dlgDown(t, sipSpec(ap, ipvs.UDP, "u@h"), "garbage")
	// Silent server: down by the deadline.
	ap = sipUDP(t, "127.0.0.1:0", "u@h", func(p sipParsed) []string { return nil })
	s := sipSpec(ap, ipvs.UDP, "u@h")
	s.NegotiateTimeout, s.Timeout = 300*time.Millisecond, 300*time.Millisecond
	dlgDown(t, s, "timeout")
}

func TestSIPTCP(t *testing.T) {
	serve := func(status ...string) func(net.Conn) {
		return func(c net.Conn) {
			r := bufio.NewReader(c)
			var msg strings.Builder
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				msg.WriteString(line)
				if line == "\r\n" {
					break
				}
			}
			p := sipParse(t, msg.String())
			sipValid(t, p, "TCP", c.RemoteAddr().(*net.TCPAddr).AddrPort(), "probe@example.org")
			for _, s := range status {
				io.WriteString(c, sipReply(p, s))
			}
			dlgHang(c)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		dlgUp(t, sipSpec(dlgServe(t, addr, nil, serve("100 Trying", "200 OK")), ipvs.TCP, "probe@example.org"))
	}
	dlgDown(t, sipSpec(dlgServe(t, "127.0.0.1:0", nil, serve("503 Service Unavailable")), ipvs.TCP, "probe@example.org"), "503")
	dlgDown(t, sipSpec(dlgRefused(t), ipvs.TCP, "probe@example.org"), "refused")
	s := sipSpec(dlgServe(t, "127.0.0.1:0", nil, serve("100 Trying")), ipvs.TCP, "probe@example.org")
	s.NegotiateTimeout, s.Timeout = 300*time.Millisecond, 300*time.Millisecond
	dlgDown(t, s, "timeout")
}

func TestSIPRequestWithoutLogin(t *testing.T) {
	s := Spec{Addr: netip.MustParseAddr("::1"), Port: 5060}
	req := sipOptions(s, "UDP", &net.UDPAddr{IP: net.ParseIP("::1"), Port: 4000}, "cid")
	if !strings.HasPrefix(req, "OPTIONS sip:[::1]:5060 SIP/2.0\r\nVia: SIP/2.0/UDP [::1]:4000;branch=z9hG4bK") ||
		!strings.Contains(req, "\r\nCall-ID: cid\r\n") || !strings.HasSuffix(req, "Content-Length: 0\r\n\r\n") {
		t.Errorf("request:\n%s", req)
	}
}
