package healthcheck

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsdirector/director/ipvs"
)

// Test helpers for the line-oriented negotiate checks: fake servers on
// loopback, and specs pointing at them.

// dlgServe runs handle for every connection to a TCP listener on addr
// (with TLS when conf is set). At the end of the test the listener and
// every connection are closed and the handlers waited for.
func dlgServe(t *testing.T, addr string, conf *tls.Config, handle func(c net.Conn)) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if strings.HasPrefix(addr, "[::1]") {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		t.Fatal(err)
	}
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	if conf != nil {
		ln = tls.NewListener(ln, conf)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
		done  = make(chan struct{})
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(dlgConn{Conn: c, done: done})
			}()
		}
	}()
	t.Cleanup(func() {
		close(done)
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ap
}

// dlgRefused is an address on which nothing listens.
func dlgRefused(t *testing.T) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	ln.Close()
	return ap
}

// dlgConn is a connection to a fake server; done is closed when the test
// ends.
type dlgConn struct {
	net.Conn
	done <-chan struct{}
}

// dlgHang holds the connection open until the test ends, reading and
// saying nothing.
func dlgHang(c net.Conn) {
	_, _ = io.Copy(io.Discard, c)
	<-c.(dlgConn).done
}

func dlgSpec(service string, ap netip.AddrPort) Spec {
	return Spec{Type: "negotiate", Service: service, Addr: ap.Addr(), Port: ap.Port(), Protocol: ipvs.TCP,
		NegotiateTimeout: 2 * time.Second, Timeout: time.Second, Interval: time.Second, FailureCount: 1}
}

// dlgDown checks s expecting it down, within its deadline (plus slack),
// with an error mentioning want.
func dlgDown(t *testing.T, s Spec, want string) {
	t.Helper()
	start := time.Now()
	err := check(t, s)
	if took := time.Since(start); took > s.deadline()+time.Second {
		t.Errorf("down check took %v, deadline %v", took, s.deadline())
	}
	if err == nil {
		t.Fatalf("%s check is up, want down (%s)", s.Service, want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to mention %q", err, want)
	}
}

func dlgUp(t *testing.T, s Spec) {
	t.Helper()
	if err := check(t, s); err != nil {
		t.Fatalf("%s check is down: %v", s.Service, err)
	}
}

// dlgHung is a spec with a short deadline, for servers that never answer.
func dlgHung(service string, ap netip.AddrPort) Spec {
	s := dlgSpec(service, ap)
	s.NegotiateTimeout, s.Timeout = 300*time.Millisecond, 300*time.Millisecond
	return s
}

// dlgTLS is a server TLS config with a throwaway self-signed certificate;
// the SNI each client sends goes to sni.
func dlgTLS(t *testing.T, sni chan<- string) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "real"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			select {
			case sni <- h.ServerName:
			default:
			}
			return nil, nil
		},
	}
}

// dlgLines serves a line dialog: greeting, then for each line read,
// answer(line) is written back (nothing when empty); the handler returns
// when answer says so or the client goes away.
func dlgLines(greeting string, answer func(line string) (reply string, done bool)) func(net.Conn) {
	return func(c net.Conn) {
		if greeting != "" {
			if _, err := io.WriteString(c, greeting); err != nil {
				return
			}
		}
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			reply, done := answer(strings.TrimRight(line, "\r\n"))
			if reply != "" {
				if _, err := io.WriteString(c, reply); err != nil {
					return
				}
			}
			if done {
				return
			}
		}
	}
}

func TestDialogReadLine(t *testing.T) {
	long := strings.Repeat("x", dialogMaxLine+100)
	ap := dlgServe(t, "127.0.0.1:0", nil, func(c net.Conn) {
		io.WriteString(c, "one\r\n"+long+"\ntwo\nlast")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	d, err := openDialog(ctx, dlgSpec("x", ap), "tcp", false, dialogMaxRead)
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	var got []string
	for {
		l, err := d.readLine()
		if err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
		got = append(got, l)
	}
	if len(got) != 4 || got[0] != "one" || len(got[1]) != dialogMaxLine || got[2] != "two" || got[3] != "last" {
		t.Fatalf("lines %d: %.20q", len(got), got)
	}
}

func TestDialogCapAndCancel(t *testing.T) {
	// A server streaming forever: the cap ends the read.
	ap := dlgServe(t, "127.0.0.1:0", nil, func(c net.Conn) {
		buf := []byte(strings.Repeat("y", 4096))
		for {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := openDialog(ctx, dlgSpec("x", ap), "tcp", false, 100<<10)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.readLine()
	d.close()
	if err != errDialogCap {
		t.Fatalf("err %v, want %v", err, errDialogCap)
	}

	// A silent server: cancelling the context unblocks the read at once.
	ap = dlgServe(t, "127.0.0.1:0", nil, dlgHang)
	ctx, cancel = context.WithCancel(context.Background())
	d, err = openDialog(ctx, dlgSpec("x", ap), "tcp", false, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	if _, err := d.readLine(); err == nil || time.Since(start) > time.Second {
		t.Fatalf("read after cancel: %v after %v", err, time.Since(start))
	}
}
