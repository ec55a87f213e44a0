package healthcheck

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
)

// ldapServer is a tiny LDAP responder on 127.0.0.1: simple binds (empty
// name and password is anonymous; else users[name] must be the password),
// base-scope searches answered from entries (base → DNs returned), unbind.
// With tlsOn it speaks LDAPS with a self-signed certificate. hang accepts
// and says nothing; huge answers a search with an endless entry.
type ldapServer struct {
	addr    string
	users   map[string]string
	entries map[string][]string
	tlsOn   bool
	hang    bool
	huge    bool

	hugeMsg  []byte // the endless entry, encoded before the check starts
	mu       sync.Mutex
	binds    []string
	attrs    []string // attributes the last search asked for
	sni      string
	wg       sync.WaitGroup
	listener net.Listener
}

func startLDAP(t *testing.T, ls *ldapServer) *ldapServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if ls.tlsOn {
		cfg := &tls.Config{Certificates: []tls.Certificate{selfSigned(t)},
			GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
				ls.mu.Lock()
				ls.sni = h.ServerName
				ls.mu.Unlock()
				return nil, nil
			}}
		l = tls.NewListener(l, cfg)
	}
	ls.listener, ls.addr = l, l.Addr().String()
	if ls.huge {
		// Encoding 4 MiB takes most of a check's 500 ms under the race
		// detector: do it now, not while the check waits. The reader gives
		// up on the length before it looks at the message id.
		ls.hugeMsg = ldapEntry(2, strings.Repeat("x", 4<<20)).Bytes()
	}
	ls.wg.Add(1)
	go func() {
		defer ls.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			ls.wg.Add(1)
			go func() { defer ls.wg.Done(); defer c.Close(); ls.session(c) }()
		}
	}()
	t.Cleanup(func() { l.Close(); ls.wg.Wait() })
	return ls
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ldap.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"ldap.test"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func (ls *ldapServer) session(c net.Conn) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if ls.hang {
		io.Copy(io.Discard, c) // until the client goes
		return
	}
	for {
		p, err := ber.ReadPacket(c)
		if err != nil || len(p.Children) < 2 {
			return
		}
		id, _ := p.Children[0].Value.(int64)
		op := p.Children[1]
		switch op.Tag {
		case 0: // BindRequest: version, name, [0] simple password
			name, pw := op.Children[1].Data.String(), op.Children[2].Data.String()
			ls.mu.Lock()
			ls.binds = append(ls.binds, name)
			ls.mu.Unlock()
			code := int64(0)
			if want, ok := ls.users[name]; (name != "" || pw != "") && (!ok || want != pw) {
				code = 49 // invalidCredentials
			}
			c.Write(ldapReply(id, 1, code).Bytes())
		case 3: // SearchRequest: base, scope, deref, size, time, typesOnly, filter, attributes
			base := op.Children[0].Data.String()
			var attrs []string
			for _, a := range op.Children[7].Children {
				attrs = append(attrs, a.Data.String())
			}
			ls.mu.Lock()
			ls.attrs = attrs
			ls.mu.Unlock()
			if ls.huge {
				c.Write(ls.hugeMsg)
				return
			}
			dns, ok := ls.entries[base]
			for _, dn := range dns {
				c.Write(ldapEntry(id, dn).Bytes())
			}
			code := int64(0)
			if !ok {
				code = 32 // noSuchObject
			}
			c.Write(ldapReply(id, 5, code).Bytes())
		case 2: // UnbindRequest
			return
		}
	}
}

// ldapMsg wraps a complete protocol op (ber encodes a child when it is
// appended, so op must be finished first).
func ldapMsg(id int64, op *ber.Packet) *ber.Packet {
	p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, ""))
	p.AppendChild(op)
	return p
}

func ldapOp(app ber.Tag, children ...*ber.Packet) *ber.Packet {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, app, nil, "")
	for _, c := range children {
		op.AppendChild(c)
	}
	return op
}

func ldapString(s string) *ber.Packet {
	return ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, s, "")
}

func ldapReply(id int64, app ber.Tag, code int64) *ber.Packet {
	return ldapMsg(id, ldapOp(app, ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, code, ""),
		ldapString(""), ldapString("")))
}

func ldapEntry(id int64, dn string) *ber.Packet {
	return ldapMsg(id, ldapOp(4, ldapString(dn), ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")))
}

func ldapSpec(t *testing.T, service, addr, request, receive string) Spec {
	a, p := addrPort(t, addr)
	s := Spec{Type: "negotiate", Service: service, Addr: a, Port: p, Request: request,
		NegotiateTimeout: 2 * time.Second, Timeout: time.Second, Interval: time.Second, FailureCount: 1}
	if receive != "" {
		s.Receive = regexp.MustCompile(receive)
	}
	return s
}

var ldapDirectory = map[string][]string{
	"":                  {""},
	"dc=example,dc=com": {"dc=example,dc=com"},
	"ou=two":            {"cn=a,ou=two", "cn=b,ou=two"},
}

func TestLDAPNegotiate(t *testing.T) {
	users := map[string]string{"cn=admin,dc=example,dc=com": "secret"}
	plain := startLDAP(t, &ldapServer{users: users, entries: ldapDirectory})
	tlsSrv := startLDAP(t, &ldapServer{users: users, entries: ldapDirectory, tlsOn: true})
	for _, srv := range []struct {
		service string
		ls      *ldapServer
	}{{"ldap", plain}, {"ldaps", tlsSrv}} {
		for _, tc := range []struct {
			request, receive, login, passwd string
			up                              bool
			why                             string
		}{
			{"/", "", "", "", true, ""}, // the root DSE, anonymously
			{"/dc=example,dc=com", `dc=example`, "", "", true, ""},
			{"/dc=example,dc=com", `^dc=other`, "", "", false, `does not match receive`},
			{"/dc=example,dc=com", "", "cn=admin,dc=example,dc=com", "secret", true, ""},
			{"/dc=example,dc=com", "", "cn=admin,dc=example,dc=com", "wrong", false, "bind as cn=admin"},
			{"/dc=example,dc=com", "", "cn=admin,dc=example,dc=com", "", true, ""}, // no passwd: anonymous
			{"/ou=two", "", "", "", false, "2 entries, want exactly 1"},
			{"/ou=missing", "", "", "", false, "No Such Object"},
		} {
			s := ldapSpec(t, srv.service, srv.ls.addr, tc.request, tc.receive)
			s.Login, s.Passwd = tc.login, tc.passwd
			err := check(t, s)
			if (err == nil) != tc.up || (err != nil && !strings.Contains(err.Error(), tc.why)) {
				t.Errorf("%s %s login %q: got %v, want up=%v (%s)", srv.service, tc.request, tc.login, err, tc.up, tc.why)
			}
		}
	}
	plain.mu.Lock()
	if strings.Join(plain.attrs, ",") != "1.1" {
		t.Errorf("search asked for attributes %q, want only 1.1", plain.attrs)
	}
	if plain.binds[0] != "" || plain.binds[3] != "cn=admin,dc=example,dc=com" || plain.binds[5] != "" {
		t.Errorf("binds %q", plain.binds)
	}
	plain.mu.Unlock()

	// ldaps: no certificate verification, SNI is virtualhost.
	s := ldapSpec(t, "ldaps", tlsSrv.addr, "/", "")
	s.VirtualHost = "directory.example.com"
	if err := check(t, s); err != nil {
		t.Fatal(err)
	}
	tlsSrv.mu.Lock()
	if tlsSrv.sni != "directory.example.com" {
		t.Errorf("SNI %q", tlsSrv.sni)
	}
	tlsSrv.mu.Unlock()

	// ldap against the ldaps port, and ldaps against the ldap port.
	if err := check(t, ldapSpec(t, "ldap", tlsSrv.addr, "/", "")); err == nil {
		t.Error("ldap against an LDAPS server is up")
	}
	if err := check(t, ldapSpec(t, "ldaps", plain.addr, "/", "")); err == nil {
		t.Error("ldaps against a plain LDAP server is up")
	}
}

func TestLDAPHungHugeRefused(t *testing.T) {
	for _, ls := range []*ldapServer{{hang: true}, {hang: true, tlsOn: true}, {huge: true}} {
		ls = startLDAP(t, ls)
		service := "ldap"
		if ls.tlsOn {
			service = "ldaps"
		}
		s := ldapSpec(t, service, ls.addr, "/", "")
		s.NegotiateTimeout, s.Timeout = 500*time.Millisecond, 500*time.Millisecond
		start := time.Now()
		err := check(t, s)
		if err == nil || time.Since(start) > time.Second {
			t.Errorf("hang=%v huge=%v tls=%v: got %v after %v", ls.hang, ls.huge, ls.tlsOn, err, time.Since(start))
		}
		t.Logf("hang=%v huge=%v tls=%v: %v", ls.hang, ls.huge, ls.tlsOn, err)
		if ls.huge && !strings.Contains(err.Error(), "too large") {
			t.Errorf("huge reply: %v, want too large", err)
		}
		if ls.hang && !strings.Contains(err.Error(), "deadline") {
			t.Errorf("hung server: %v, want a deadline reason", err)
		}
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	if err := check(t, ldapSpec(t, "ldap", closed, "/", "")); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("refused: got %v", err)
	}
}

func TestLDAPNoLeak(t *testing.T) {
	ls := startLDAP(t, &ldapServer{entries: ldapDirectory})
	hung := startLDAP(t, &ldapServer{hang: true})
	base := runtime.NumGoroutine()
	for range 30 {
		if err := check(t, ldapSpec(t, "ldap", ls.addr, "/dc=example,dc=com", "")); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		s := ldapSpec(t, "ldap", hung.addr, "/", "")
		s.Timeout, s.NegotiateTimeout = 100*time.Millisecond, 100*time.Millisecond
		check(t, s)
	}
	svcWaitGoroutines(t, base)
}
