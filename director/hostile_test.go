package director

import (
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// cleanText: printable UTF-8 only (tab allowed), nothing a terminal or a
// log reader would interpret.
func cleanText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if (r < 0x20 && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}

// Hostile bytes in a configuration are never echoed raw in its errors.
func TestErrorsQuoteBinaryBytes(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		src  string
		line int
	}{
		{"virtual=192.0.2.1:80\n\treal=\x1b[2Jhost\xff gate\n", 2},
		{"virtual=192.0.2.1:80\n\treal=10.0.0.1:\x07port gate\n", 2},
		{"virtual=192.0.2.1:80\n\treal=10.0.0.1 gate\n\tfallback=\x00nul\x9b\n", 3},
		{"virtual=192.0.2.1:80\n\treal=10.0.0.1 gate\n\tmonitorfile=" + filepath.Join(dir, "no\x1b]dir", "f") + "\n", 3},
		{"virtual=\x01\xfe:80\n\treal=10.0.0.1 gate\n", 1},
		{"virtual=192.0.2.1:80\n\treal=10.0.0.1 gate \x05weight\n", 2},
		{"\x1b[31mfoo\n", 1},
		{"virtual=192.0.2.1:80\n\t\x1b[31mfoo=1\n", 2},
		{"virtual=192.0.2.1:80\n\treal=10.0.0.1 gate\n\tchecktype=\x08\n", 3},
		{"virtual=192.0.2.1:80\n\treal=10.0.0.1 gate\n\treceive=\"(\x1b\"\n", 3},
	}
	for _, c := range cases {
		_, err := Parse("e\x1b.cf", strings.NewReader(c.src), ptOpts)
		if err == nil {
			t.Errorf("%q: no error", c.src)
			continue
		}
		ptWantErr(t, err, c.line, "")
		if s := err.Error(); !cleanText(s) {
			t.Errorf("%q: error echoes raw bytes: %q", c.src, s)
		}
		if s := ErrorLine(err); !cleanText(s) {
			t.Errorf("%q: ErrorLine echoes raw bytes: %q", c.src, s)
		}
	}
}

// A CR or LF (or any control byte) in what becomes a mail header is
// refused at its line: it would let the file add headers (Bcc:) or split
// the message.
func TestMailHeaderFieldsRefuseControlBytes(t *testing.T) {
	vh := "virtual=192.0.2.1:80\n\treal=10.0.0.1 gate\n"
	for _, c := range []struct {
		src  string
		line int
	}{
		{"emailalertfrom=ops@example.com\rBcc: evil@example.net\n", 1},
		{"emailalertfrom=ops@example.com\x00\n", 1},
		{"emailalert=ops@example.com\rBcc: evil@example.net\n", 1},
		{vh + "\temailalert=a@example.com, b@example.com\rBcc: evil@example.net\n", 3},
		{vh + "\tservicename=web\rBcc: evil@example.net\n", 3},
		{vh + "\tservicename=web\x1b[2J\n", 3},
	} {
		_, err := Parse("m.cf", strings.NewReader(c.src), ptOpts)
		if err == nil {
			t.Errorf("%q: accepted", c.src)
			continue
		}
		ptWantErr(t, err, c.line, "control character")
		if !cleanText(err.Error()) {
			t.Errorf("%q: raw bytes in %q", c.src, err.Error())
		}
	}
	// A CRLF file is fine: the CR before the newline is whitespace.
	c, err := Parse("crlf.cf", strings.NewReader("emailalertfrom=ops@example.com\r\nvirtual=192.0.2.1:80\r\n\treal=10.0.0.1 gate\r\n\tservicename=web\r\n\temailalert=x@example.com\r\n\tcomment=front\r\n"), ptOpts)
	if err != nil {
		t.Fatal(err)
	}
	v := c.Virtuals[0]
	ptEq(t, "from", c.Global.EmailAlertFrom, "ops@example.com")
	ptEq(t, "servicename", v.ServiceName, "web")
	ptEq(t, "comment", v.Comment, "front")
	ptEq(t, "emailalert", v.EmailAlert, []string{"x@example.com"})
}

// The message built for an alert has exactly the headers it means to,
// whatever its fields hold (a second line of defence behind the parser).
func TestMailMessageHeaders(t *testing.T) {
	msg := formatMail(Alert{From: "a@example.com\rBcc: x@example.net", To: []string{"b@example.com\nBcc: y@example.net"},
		Subject: "[web\r\n] down", Body: "line1\nline2\rBcc: z@example.net\n"})
	head, body, ok := strings.Cut(msg, "\r\n\r\n")
	if !ok {
		t.Fatalf("no header/body split in %q", msg)
	}
	for _, h := range strings.Split(head, "\r\n") {
		if strings.ContainsAny(h, "\r\n") {
			t.Errorf("bare CR/LF in header %q", h)
		}
		if strings.HasPrefix(h, "Bcc:") {
			t.Errorf("injected header %q", h)
		}
	}
	if n := strings.Count(head, "\r\n"); n != 5 {
		t.Errorf("%d header lines, want 6:\n%q", n+1, head)
	}
	if strings.Contains(strings.ReplaceAll(body, "\r\n", ""), "\r") || strings.Contains(strings.ReplaceAll(body, "\r\n", ""), "\n") {
		t.Errorf("bare CR or LF in the body: %q", body)
	}
}
