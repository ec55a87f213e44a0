package healthcheck

import (
	"net"
	"strings"
	"testing"
	"time"
)

// smtpServer is a fake SMTP server: greeting, then ehlo and helo are the
// answers to EHLO and HELO; quit is whether QUIT is answered.
func smtpServer(greeting, ehlo, helo string, quit bool) func(net.Conn) {
	return dlgLines(greeting, func(line string) (string, bool) {
		verb, _, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			return ehlo, false
		case "HELO":
			return helo, false
		case "QUIT":
			if !quit {
				return "", false
			}
			return "221 bye\r\n", true
		}
		return "500 what?\r\n", false
	})
}

func TestSMTP(t *testing.T) {
	for _, service := range []string{"smtp", "submission"} {
		for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
			ap := dlgServe(t, addr, nil, smtpServer("220-mx.example\r\n220 ESMTP ready\r\n", "250-mx.example\r\n250 SIZE 1000\r\n", "", true))
			dlgUp(t, dlgSpec(service, ap))
		}
	}
	// EHLO refused, HELO accepted.
	dlgUp(t, dlgSpec("smtp", dlgServe(t, "127.0.0.1:0", nil, smtpServer("220 old\r\n", "502 no EHLO\r\n", "250 old.example\r\n", true))))
	// QUIT never answered: up, and quickly.
	s := dlgSpec("smtp", dlgServe(t, "127.0.0.1:0", nil, smtpServer("220 ok\r\n", "250 ok\r\n", "", false)))
	start := time.Now()
	dlgUp(t, s)
	if took := time.Since(start); took > time.Second {
		t.Errorf("check waited %v for the QUIT answer", took)
	}

	dlgDown(t, dlgSpec("smtp", dlgServe(t, "127.0.0.1:0", nil, smtpServer("554 go away\r\n", "", "", true))), "554")
	dlgDown(t, dlgSpec("smtp", dlgServe(t, "127.0.0.1:0", nil, smtpServer("220 ok\r\n", "502 no\r\n", "421 busy\r\n", true))), "421")
	dlgDown(t, dlgSpec("smtp", dlgServe(t, "127.0.0.1:0", nil, smtpServer("hello there\r\n", "", "", true))), "greeting")
	dlgDown(t, dlgSpec("smtp", dlgServe(t, "127.0.0.1:0", nil, smtpServer("220 ok\r\n", "garbage\r\n", "", true))), "EHLO")
	dlgDown(t, dlgSpec("smtp", dlgRefused(t)), "refused")
	dlgDown(t, dlgHung("smtp", dlgServe(t, "127.0.0.1:0", nil, dlgHang)), "timeout")
	// Greeting, then silence after EHLO.
	dlgDown(t, dlgHung("smtp", dlgServe(t, "127.0.0.1:0", nil, smtpServer("220 ok\r\n", "", "", true))), "timeout")
}
