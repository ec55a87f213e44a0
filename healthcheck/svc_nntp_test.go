package healthcheck

import (
	"io"
	"net"
	"strings"
	"testing"
)

func TestNNTP(t *testing.T) {
	say := func(greeting string) func(net.Conn) {
		return func(c net.Conn) {
			io.WriteString(c, greeting)
			dlgHang(c)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		dlgUp(t, dlgSpec("nntp", dlgServe(t, addr, nil, say("200 news.example ready\r\n"))))
	}
	dlgUp(t, dlgSpec("nntp", dlgServe(t, "127.0.0.1:0", nil, say("201 "+strings.Repeat("x", 500)+"\r\n"))))
	dlgDown(t, dlgSpec("nntp", dlgServe(t, "127.0.0.1:0", nil, say("502 go away\r\n"))), "502 go away")
	dlgDown(t, dlgSpec("nntp", dlgServe(t, "127.0.0.1:0", nil, func(net.Conn) {})), "EOF")
	dlgDown(t, dlgSpec("nntp", dlgRefused(t)), "refused")
	dlgDown(t, dlgHung("nntp", dlgServe(t, "127.0.0.1:0", nil, dlgHang)), "timeout")
}
