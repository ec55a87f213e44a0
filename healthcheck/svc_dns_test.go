package healthcheck

import (
	"net"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/lvsdirector/director/ipvs"
)

// dnsCounts counts the queries a dnsServer answered, per transport.
type dnsCounts struct{ udp, tcp atomic.Int64 }

// dnsServer serves on one 127.0.0.1 port over both udp and tcp:
// www.example.com A 192.0.2.10 (through a CNAME), v6.example.com AAAA
// 2001:db8::10, PTR 10.2.0.192 and 2001:db8::10 → www/v6.example.com;
// big.example.com has 60 A records (truncated over UDP); drop.example.com
// gets no reply at all; anything else NXDOMAIN.
func dnsServer(t *testing.T) (addr string, n *dnsCounts) {
	t.Helper()
	n = new(dnsCounts)
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		_, udp := w.RemoteAddr().(*net.UDPAddr)
		if udp {
			n.udp.Add(1)
		} else {
			n.tcp.Add(1)
		}
		q := r.Question[0]
		if q.Name == "drop.example.com." {
			return
		}
		m := new(dns.Msg)
		m.SetReply(r)
		add := func(s string) {
			rr, err := dns.NewRR(s)
			if err != nil {
				panic(err)
			}
			m.Answer = append(m.Answer, rr)
		}
		switch {
		case q.Name == "www.example.com." && q.Qtype == dns.TypeA:
			add("www.example.com. 60 IN CNAME host.example.com.")
			add("host.example.com. 60 IN A 192.0.2.10")
		case q.Name == "v6.example.com." && q.Qtype == dns.TypeAAAA:
			add("v6.example.com. 60 IN AAAA 2001:db8::10")
		case q.Name == "big.example.com." && q.Qtype == dns.TypeA:
			for i := range 60 {
				add("big.example.com. 60 IN A 192.0.2." + strconv.Itoa(i+1))
			}
		case q.Name == "10.2.0.192.in-addr.arpa." && q.Qtype == dns.TypePTR:
			add(q.Name + " 60 IN PTR www.example.com.")
		case strings.HasSuffix(q.Name, ".8.b.d.0.1.0.0.2.ip6.arpa.") && q.Qtype == dns.TypePTR:
			add(q.Name + " 60 IN PTR v6.example.com.")
		case q.Qtype == dns.TypeA || q.Qtype == dns.TypeAAAA:
			if q.Name != "www.example.com." && q.Name != "v6.example.com." {
				m.Rcode = dns.RcodeNameError
			}
		default:
			m.Rcode = dns.RcodeNameError
		}
		if udp {
			m.Truncate(dns.MinMsgSize)
		}
		w.WriteMsg(m)
	})
	var l net.Listener
	var pc net.PacketConn
	for range 20 {
		var err error
		if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if pc, err = net.ListenPacket("udp", l.Addr().String()); err == nil {
			break
		}
		l.Close()
		l = nil
	}
	if pc == nil {
		t.Fatal("no port free for both udp and tcp")
	}
	for _, srv := range []*dns.Server{{Listener: l, Handler: h}, {PacketConn: pc, Handler: h}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
		t.Cleanup(func() { srv.Shutdown() })
	}
	return l.Addr().String(), n
}

func dnsSpec(t *testing.T, addr string, proto ipvs.Protocol, request, receive string) Spec {
	a, p := addrPort(t, addr)
	s := Spec{Type: "negotiate", Service: "dns", Addr: a, Port: p, Protocol: proto, Request: request,
		NegotiateTimeout: 2 * time.Second, Timeout: time.Second, Interval: time.Second, FailureCount: 1}
	if receive != "" {
		s.Receive = regexp.MustCompile(receive)
	}
	return s
}

func TestDNSNegotiate(t *testing.T) {
	addr, n := dnsServer(t)
	for _, network := range []string{"udp", "tcp"} {
		proto := ipvs.UDP
		if network == "tcp" {
			proto = ipvs.TCP
		}
		n.udp.Store(0)
		n.tcp.Store(0)
		for _, tc := range []struct {
			request, receive string
			up               bool
			why              string
		}{
			{"/www.example.com", `192\.0\.2\.10`, true, ""},
			{"www.example.com.", `^192\.0\.2\.10$`, true, ""},
			{"/www.example.com", `192\.0\.2\.11`, false, "no answer matches"},
			{"/v6.example.com", `2001:db8::10`, true, ""},    // A finds nothing, AAAA does
			{"/big.example.com", `192\.0\.2\.60$`, true, ""}, // truncated over UDP: TCP retry
			{"/nx.example.com", `.`, false, "NXDOMAIN"},
			{"/192.0.2.10", `^www\.example\.com$`, true, ""}, // PTR, without the final dot
			{"/192.0.2.10", `example\.com\.$`, true, ""},     // and with it
			{"/192.0.2.10", `other`, false, "no answer matches"},
			{"/2001:db8::10", `^v6\.example\.com$`, true, ""},
			{"/www.example.com", ``, false, "receive is empty"},
			{"/", `.`, false, "nothing to look up"},
		} {
			if network == "udp" && tc.request == "/big.example.com" {
				n.tcp.Store(0)
			}
			s := dnsSpec(t, addr, proto, tc.request, tc.receive)
			err := check(t, s)
			if (err == nil) != tc.up || (err != nil && !strings.Contains(err.Error(), tc.why)) {
				t.Errorf("%s %s ~ %q: got %v, want up=%v (%s)", network, tc.request, tc.receive, err, tc.up, tc.why)
			}
			if network == "udp" && tc.request == "/big.example.com" && n.tcp.Load() != 1 {
				t.Errorf("truncated reply: %d TCP queries, want a retry over TCP", n.tcp.Load())
			}
		}
		if network == "tcp" && n.udp.Load() != 0 {
			t.Errorf("tcp virtual: %d UDP queries", n.udp.Load())
		}
	}
}

func TestDNSTimeoutAndRetries(t *testing.T) {
	addr, n := dnsServer(t)
	s := dnsSpec(t, addr, ipvs.UDP, "/drop.example.com", `.`)
	s.NegotiateTimeout = 1600 * time.Millisecond
	start := time.Now()
	err := check(t, s)
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("got %v, want a deadline error", err)
	}
	if took > 2*time.Second {
		t.Errorf("took %v, want about 1.6s", took)
	}
	if q := n.udp.Load(); q < 2 {
		t.Errorf("%d queries, want resends within the deadline", q)
	}

	// Nothing listening: ICMP port unreachable is down at once.
	pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	closed := pc.LocalAddr().String()
	pc.Close()
	start = time.Now()
	if err := check(t, dnsSpec(t, closed, ipvs.UDP, "/www.example.com", `.`)); err == nil || time.Since(start) > time.Second {
		t.Errorf("closed port: got %v after %v", err, time.Since(start))
	}
}

func TestDNSNoLeak(t *testing.T) {
	addr, _ := dnsServer(t)
	base := runtime.NumGoroutine()
	for range 50 {
		check(t, dnsSpec(t, addr, ipvs.TCP, "/www.example.com", `192`))
	}
	svcWaitGoroutines(t, base)
}

// svcWaitGoroutines fails the test unless the goroutine count falls back
// to base (what a test's servers left running included) within 3s.
func svcWaitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
