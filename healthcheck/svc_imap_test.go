package healthcheck

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
)

// imapServer is a fake IMAP server: greeting, then LOGIN (quoted strings
// or synchronizing literals) checked against user/pass, and LOGOUT. Before
// the tagged LOGIN answer it sends untagged noise, a literal included.
func imapServer(greeting, user, pass string) func(net.Conn) {
	return func(c net.Conn) {
		io.WriteString(c, greeting)
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\r\n")
			tag, rest, _ := strings.Cut(line, " ")
			verb, args, _ := strings.Cut(rest, " ")
			switch strings.ToUpper(verb) {
			case "LOGOUT":
				io.WriteString(c, "* BYE logging out\r\n"+tag+" OK LOGOUT done\r\n")
				return
			case "LOGIN":
				var got []string
				for len(got) < 2 {
					s, more, ok := imapParse(c, r, args)
					if !ok {
						io.WriteString(c, tag+" BAD syntax\r\n")
						return
					}
					got = append(got, s)
					args = more
				}
				io.WriteString(c, "* CAPABILITY IMAP4rev1\r\n* 1 FETCH (BODY[] {7}\r\nabc\r\nd}\r\n)\r\n")
				if got[0] == user && got[1] == pass {
					io.WriteString(c, tag+" OK LOGIN completed\r\n")
				} else {
					io.WriteString(c, tag+" NO [AUTHENTICATIONFAILED] Invalid credentials\r\n")
				}
			default:
				io.WriteString(c, tag+" BAD unknown\r\n")
			}
		}
	}
}

// imapParse reads one astring from s (the rest of the command line),
// reading a literal (after sending "+") and the next line when needed.
func imapParse(c net.Conn, r *bufio.Reader, s string) (string, string, bool) {
	s = strings.TrimPrefix(s, " ")
	switch {
	case strings.HasPrefix(s, `"`):
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
				if i < len(s) {
					b.WriteByte(s[i])
				}
			case '"':
				return b.String(), s[i+1:], true
			default:
				b.WriteByte(s[i])
			}
		}
		return "", "", false
	case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
		n, err := strconv.Atoi(s[1 : len(s)-1])
		if err != nil {
			return "", "", false
		}
		io.WriteString(c, "+ go ahead\r\n")
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", "", false
		}
		rest, err := r.ReadString('\n')
		if err != nil {
			return "", "", false
		}
		return string(buf), strings.TrimRight(rest, "\r\n"), true
	}
	atom, rest, _ := strings.Cut(s, " ")
	return atom, rest, atom != ""
}

func TestIMAP(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		ap := dlgServe(t, addr, nil, imapServer("* OK [CAPABILITY IMAP4rev1] ready\r\n", `jo "q" \ e`, `pä{ss}`))
		dlgUp(t, dlgSpec("imap", ap))
		s := dlgSpec("imap", ap)
		s.Login, s.Passwd = `jo "q" \ e`, `pä{ss}` // quoted, and an 8-bit literal
		dlgUp(t, s)
		s.Passwd = "wrong"
		dlgDown(t, s, "AUTHENTICATIONFAILED")
		s.Passwd = "x\r\na2 DELETE INBOX"
		dlgDown(t, s, "CR, LF")
	}
	preauth := dlgServe(t, "127.0.0.1:0", nil, imapServer("* PREAUTH welcome\r\n", "a", "b"))
	s := dlgSpec("imap", preauth)
	s.Login, s.Passwd = "x", "y"
	dlgUp(t, s)
	dlgDown(t, dlgSpec("imap", dlgServe(t, "127.0.0.1:0", nil, imapServer("* BYE overloaded\r\n", "", ""))), "overloaded")
	dlgDown(t, dlgSpec("imap", dlgServe(t, "127.0.0.1:0", nil, imapServer("+OK pop3?\r\n", "", ""))), "greeting")
	dlgDown(t, dlgSpec("imap", dlgRefused(t)), "refused")
	dlgDown(t, dlgHung("imap", dlgServe(t, "127.0.0.1:0", nil, dlgHang)), "timeout")
	// Refuses the literal.
	refuse := dlgServe(t, "127.0.0.1:0", nil, dlgLines("* OK\r\n", func(line string) (string, bool) { return "a1 NO no literals\r\n", false }))
	s = dlgSpec("imap", refuse)
	s.Login, s.Passwd = "u", "pä"
	dlgDown(t, s, "no literals")
}

func TestIMAPS(t *testing.T) {
	sni := make(chan string, 1)
	ap := dlgServe(t, "127.0.0.1:0", dlgTLS(t, sni), imapServer("* OK IMAPS ready\r\n", "joe", "pw"))
	s := dlgSpec("imaps", ap)
	s.Login, s.Passwd, s.VirtualHost = "joe", "pw", "imap.example"
	dlgUp(t, s)
	if got := <-sni; got != "imap.example" {
		t.Errorf("SNI %q, want imap.example", got)
	}
	s.VirtualHost = ""
	dlgUp(t, s)
	if got := <-sni; got != "" {
		t.Errorf("SNI %q without virtualhost", got)
	}
	dlgDown(t, dlgSpec("imaps", dlgServe(t, "127.0.0.1:0", nil, imapServer("* OK plain\r\n", "", ""))), "tls")
}

func TestIMAPQuote(t *testing.T) {
	if got := imapQuote(`a"b\c`); got != `"a\"b\\c"` {
		t.Errorf("imapQuote: %s", got)
	}
	if imapQuotable("pä") || imapQuotable("a\rb") || !imapQuotable(`"{}\`) {
		t.Error("imapQuotable")
	}
}
