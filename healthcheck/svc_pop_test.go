package healthcheck

import (
	"net"
	"strings"
	"testing"
)

// popServer is a fake POP3 server accepting user/pass.
func popServer(greeting, user, pass string) func(net.Conn) {
	var gotUser string
	return dlgLines(greeting, func(line string) (string, bool) {
		verb, arg, _ := strings.Cut(line, " ")
		switch verb {
		case "USER":
			gotUser = arg
			return "+OK send PASS\r\n", false
		case "PASS":
			if gotUser == user && arg == pass {
				return "+OK logged in\r\n", false
			}
			return "-ERR [AUTH] authentication failed\r\n", false
		case "QUIT":
			return "+OK bye\r\n", true
		}
		return "-ERR unknown command\r\n", false
	})
}

func TestPOP(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		ap := dlgServe(t, addr, nil, popServer("+OK POP3 ready\r\n", "joe", "s3cret pass"))
		dlgUp(t, dlgSpec("pop", ap))
		s := dlgSpec("pop", ap)
		s.Login, s.Passwd = "joe", "s3cret pass"
		dlgUp(t, s)
		s.Passwd = "wrong"
		dlgDown(t, s, "authentication failed")
		if err := check(t, s); strings.Contains(err.Error(), "wrong") {
			t.Errorf("the password shows in the error: %v", err)
		}
		s.Login, s.Passwd = "joe\r\nDELE 1", "x"
		dlgDown(t, s, "CR, LF")
	}
	dlgDown(t, dlgSpec("pop", dlgServe(t, "127.0.0.1:0", nil, popServer("-ERR too busy\r\n", "", ""))), "too busy")
	dlgDown(t, dlgSpec("pop", dlgServe(t, "127.0.0.1:0", nil, popServer("* OK imap?\r\n", "", ""))), "greeting")
	dlgDown(t, dlgSpec("pop", dlgRefused(t)), "refused")
	dlgDown(t, dlgHung("pop", dlgServe(t, "127.0.0.1:0", nil, dlgHang)), "timeout")
	// Greeting, then silence.
	s := dlgHung("pop", dlgServe(t, "127.0.0.1:0", nil, dlgLines("+OK\r\n", func(string) (string, bool) { return "", false })))
	s.Login, s.Passwd = "joe", "x"
	dlgDown(t, s, "timeout")
}

func TestPOPS(t *testing.T) {
	sni := make(chan string, 1)
	ap := dlgServe(t, "127.0.0.1:0", dlgTLS(t, sni), popServer("+OK POP3S ready\r\n", "joe", "pw"))
	s := dlgSpec("pops", ap)
	s.Login, s.Passwd, s.VirtualHost = "joe", "pw", "mail.example"
	dlgUp(t, s)
	if got := <-sni; got != "mail.example" {
		t.Errorf("SNI %q, want mail.example", got)
	}
	s.Passwd = "bad"
	dlgDown(t, s, "authentication failed")
	<-sni
	// pops against a plain-text server: the handshake fails.
	plain := dlgServe(t, "127.0.0.1:0", nil, popServer("+OK plain\r\n", "", ""))
	dlgDown(t, dlgSpec("pops", plain), "tls")
	// A TLS server that never answers the handshake.
	dlgDown(t, dlgHung("pops", dlgServe(t, "127.0.0.1:0", nil, dlgHang)), "tls")
}
