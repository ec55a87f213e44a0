package ldlog

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

func TestFileFormatAndReopen(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ld.log")
	h, err := New(Target{File: p, Name: "test.cf"})
	if err != nil {
		t.Fatal(err)
	}
	l := slog.New(h)
	l.Info("Added real server: 10.0.1.11:80 (10.0.0.100:80) (Weight set to 1)")
	os.Rename(p, p+".1") // logrotate
	l.Error("boom", "err", "x")
	b, _ := os.ReadFile(p + ".1")
	re := regexp.MustCompile(fmt.Sprintf(`^\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\|test\.cf\|%d\] Added real server: 10\.0\.1\.11:80 \(10\.0\.0\.100:80\) \(Weight set to 1\)\n$`, os.Getpid()))
	if !re.Match(b) {
		t.Fatalf("line %q", b)
	}
	b, _ = os.ReadFile(p)
	if !bytes.Contains(b, []byte("] Error: boom err=x\n")) {
		t.Fatalf("after rotation %q", b)
	}
}

func TestSupervisedAndBadFacility(t *testing.T) {
	var buf bytes.Buffer
	h, _ := New(Target{W: &buf, Supervised: true})
	slog.New(h).Info("hello")
	if !regexp.MustCompile(`^\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\] hello\n$`).Match(buf.Bytes()) {
		t.Fatalf("%q", buf.String())
	}
	if _, err := New(Target{Facility: "nonsense"}); err == nil {
		t.Fatal("bad facility accepted")
	}
}
