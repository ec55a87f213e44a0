package healthcheck

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The example of RFC 2865 section 7.1: user nemo, password arctangent,
// secret xyzzy5461.
func TestRADIUSRFC2865Vectors(t *testing.T) {
	auth := [16]byte(mustHex(t, "0f403f9473978057bd83d5cb98f4227a"))
	hidden := radiusHidePassword([]byte("arctangent"), []byte("xyzzy5461"), auth)
	if want := mustHex(t, "0dbe708d93d413ce3196e43f782a0aee"); !bytes.Equal(hidden, want) {
		t.Errorf("hidden password %x, want %x", hidden, want)
	}
	accept := mustHex(t, "0200002686fe220e7624ba2a1005f6bf9b55e0b20606000000010f06000000000e06c0a80103")
	code, _, err := radiusParseReply(accept, 0, auth, []byte("xyzzy5461"))
	if err != nil || code != radiusAccessAccept {
		t.Errorf("RFC Access-Accept: code %d, %v", code, err)
	}
	if _, _, err := radiusParseReply(accept, 0, auth, []byte("other")); err == nil {
		t.Error("RFC Access-Accept accepted with the wrong secret")
	}
	if _, _, err := radiusParseReply(accept, 1, auth, []byte("xyzzy5461")); err == nil {
		t.Error("RFC Access-Accept accepted for another identifier")
	}
	// Longer passwords chain the blocks.
	long := radiusHidePassword([]byte(strings.Repeat("p", 20)), []byte("s"), auth)
	if len(long) != 32 || string(radiusUnhide(long, []byte("s"), auth)) != strings.Repeat("p", 20) {
		t.Errorf("two-block password does not round-trip: %x", long)
	}
	if got := radiusHidePassword(nil, []byte("s"), auth); len(got) != 16 {
		t.Errorf("empty password hides to %d bytes, want 16", len(got))
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// radiusUnhide reverses radiusHidePassword, the way a server does, and
// strips the padding.
func radiusUnhide(c, secret []byte, auth [16]byte) []byte {
	out := make([]byte, len(c))
	prev := auth[:]
	for i := 0; i+16 <= len(c); i += 16 {
		b := md5.Sum(append(bytes.Clone(secret), prev...))
		for j := range 16 {
			out[i+j] = c[i+j] ^ b[j]
		}
		prev = c[i : i+16]
	}
	return bytes.TrimRight(out, "\x00")
}

// radiusServer is a tiny RADIUS server on 127.0.0.1 knowing secret and
// one user. It checks the request's Message-Authenticator, answers
// Access-Accept or Access-Reject (with a Reply-Message) signed with its
// secret, ignores the first drop requests it gets, and records the
// attributes it saw last.
type radiusServer struct {
	addr     string
	secret   []byte
	user, pw string
	drop     atomic.Int64
	got      atomic.Int64
	badMA    atomic.Int64
	lastNAS  atomic.Value // netip.Addr
	silent   bool
	signMA   bool // add a Message-Authenticator to replies
	// replySecret, when set, signs replies instead of secret.
	replySecret []byte
	corrupt     bool // send a reply with a bad authenticator first
	pc          net.PacketConn
	finished    chan struct{}
}

func startRADIUS(t *testing.T, rs *radiusServer) *radiusServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rs.pc, rs.addr, rs.finished = pc, pc.LocalAddr().String(), make(chan struct{})
	go rs.serve()
	t.Cleanup(func() { pc.Close(); <-rs.finished })
	return rs
}

func (rs *radiusServer) serve() {
	defer close(rs.finished)
	buf := make([]byte, 4096)
	for {
		n, from, err := rs.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		p := bytes.Clone(buf[:n])
		rs.got.Add(1)
		if rs.silent || rs.drop.Add(-1) >= 0 || len(p) < 20 || p[0] != radiusAccessRequest {
			continue
		}
		auth := [16]byte(p[4:20])
		var user, hidden []byte
		maOK := false
		for a := p[20:]; len(a) >= 2 && int(a[1]) >= 2 && int(a[1]) <= len(a); a = a[a[1]:] {
			v := a[2:a[1]]
			switch a[0] {
			case radiusUserName:
				user = v
			case radiusUserPassword:
				hidden = v
			case radiusNASIPAddress, radiusNASIPv6Address:
				addr, _ := netip.AddrFromSlice(v)
				rs.lastNAS.Store(addr)
			case radiusMessageAuthenticator:
				q := bytes.Clone(p)
				off := len(p) - len(a) + 2
				clear(q[off : off+16])
				m := hmac.New(md5.New, rs.secret)
				m.Write(q)
				maOK = hmac.Equal(m.Sum(nil), v)
			}
		}
		if !maOK {
			rs.badMA.Add(1) // a hardened server discards it
			continue
		}
		code := byte(radiusAccessReject)
		if string(user) == rs.user && string(radiusUnhide(hidden, rs.secret, auth)) == rs.pw {
			code = radiusAccessAccept
		}
		reply := []byte{code, p[1], 0, 0}
		reply = append(reply, auth[:]...)
		if code == radiusAccessReject {
			reply = radiusAttr(reply, radiusReplyMessage, []byte("no such luck"))
		}
		signer := rs.secret
		if rs.replySecret != nil {
			signer = rs.replySecret
		}
		if rs.signMA {
			reply = append(reply, radiusMessageAuthenticator, 18)
			reply = append(reply, make([]byte, 16)...)
			binary.BigEndian.PutUint16(reply[2:4], uint16(len(reply)))
			m := hmac.New(md5.New, signer)
			m.Write(reply)
			copy(reply[len(reply)-16:], m.Sum(nil))
		}
		binary.BigEndian.PutUint16(reply[2:4], uint16(len(reply)))
		h := md5.New()
		h.Write(reply)
		h.Write(signer)
		copy(reply[4:20], h.Sum(nil))
		if rs.corrupt {
			bad := bytes.Clone(reply)
			bad[5] ^= 1
			rs.pc.WriteTo(bad, from)
		}
		rs.pc.WriteTo(reply, from)
	}
}

func radiusSpec(t *testing.T, addr, login, passwd, secret string) Spec {
	a, p := addrPort(t, addr)
	return Spec{Type: "negotiate", Service: "radius", Addr: a, Port: p, Login: login, Passwd: passwd, Secret: secret,
		NegotiateTimeout: time.Second, Timeout: 500 * time.Millisecond, Interval: time.Second, FailureCount: 1}
}

func TestRADIUSNegotiate(t *testing.T) {
	rs := startRADIUS(t, &radiusServer{secret: []byte("s3cret"), user: "alice", pw: "a rather long password, over 16 bytes"})
	signed := startRADIUS(t, &radiusServer{secret: []byte("s3cret"), user: "bob", pw: "pw", signMA: true, corrupt: true})
	for _, tc := range []struct {
		name       string
		addr       string
		user, pw   string
		secret     string
		up         bool
		why        string
		slowerThan time.Duration
	}{
		{"accept", rs.addr, "alice", "a rather long password, over 16 bytes", "s3cret", true, "", 0},
		{"reject", rs.addr, "alice", "wrong", "s3cret", false, `Access-Reject for alice: "no such luck"`, 0},
		{"unknown user", rs.addr, "mallory", "x", "s3cret", false, "Access-Reject", 0},
		// The server drops a request whose Message-Authenticator does not
		// verify under its secret: silence until the deadline.
		{"wrong secret", rs.addr, "alice", "a rather long password, over 16 bytes", "other", false, "deadline", 900 * time.Millisecond},
		{"signed reply after a forged one", signed.addr, "bob", "pw", "s3cret", true, "", 0},
		{"no secret", rs.addr, "alice", "x", "", false, "secret is empty", 0},
		{"no login", rs.addr, "", "x", "s3cret", false, "login is empty", 0},
	} {
		start := time.Now()
		err := check(t, radiusSpec(t, tc.addr, tc.user, tc.pw, tc.secret))
		if (err == nil) != tc.up || (err != nil && !strings.Contains(err.Error(), tc.why)) {
			t.Errorf("%s: got %v, want up=%v (%s)", tc.name, err, tc.up, tc.why)
		}
		if took := time.Since(start); took > 2*time.Second || took < tc.slowerThan {
			t.Errorf("%s: took %v", tc.name, took)
		}
	}
	if nas, _ := rs.lastNAS.Load().(netip.Addr); nas != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("NAS-IP-Address %v, want 127.0.0.1", nas)
	}
	if rs.badMA.Load() == 0 {
		t.Error("the wrong secret's Message-Authenticator was not refused")
	}
}

func TestRADIUSWrongSecretReply(t *testing.T) {
	// A lax server that answers with another secret: every reply is
	// discarded and the reason names the secret.
	rs := startRADIUS(t, &radiusServer{secret: []byte("ours"), replySecret: []byte("theirs"), user: "u", pw: "p"})
	err := check(t, radiusSpec(t, rs.addr, "u", "p", "ours"))
	if err == nil || !strings.Contains(err.Error(), "wrong secret?") {
		t.Fatalf("got %v, want a bad authenticator reason", err)
	}
}

func TestRADIUSRetriesAndTimeout(t *testing.T) {
	rs := startRADIUS(t, &radiusServer{secret: []byte("k"), user: "u", pw: "p"})
	rs.drop.Store(1)
	if err := check(t, radiusSpec(t, rs.addr, "u", "p", "k")); err != nil {
		t.Errorf("first request dropped: got %v, want up after a resend", err)
	}
	if n := rs.got.Load(); n != 2 {
		t.Errorf("server got %d requests, want 2", n)
	}

	silent := startRADIUS(t, &radiusServer{secret: []byte("k"), silent: true})
	start := time.Now()
	err := check(t, radiusSpec(t, silent.addr, "u", "p", "k"))
	if err == nil || !strings.Contains(err.Error(), "deadline") || time.Since(start) > 2*time.Second {
		t.Errorf("silent server: got %v after %v", err, time.Since(start))
	}
	if n := silent.got.Load(); n < 2 {
		t.Errorf("silent server got %d requests, want resends", n)
	}

	pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	closed := pc.LocalAddr().String()
	pc.Close()
	start = time.Now()
	err = check(t, radiusSpec(t, closed, "u", "p", "k"))
	if err == nil || time.Since(start) > time.Second {
		t.Errorf("closed port: got %v after %v, want down at once", err, time.Since(start))
	}
}

func TestRADIUSNoLeak(t *testing.T) {
	rs := startRADIUS(t, &radiusServer{secret: []byte("k"), user: "u", pw: "p"})
	base := runtime.NumGoroutine()
	for range 50 {
		if err := check(t, radiusSpec(t, rs.addr, "u", "p", "k")); err != nil {
			t.Fatal(err)
		}
	}
	svcWaitGoroutines(t, base)
}
