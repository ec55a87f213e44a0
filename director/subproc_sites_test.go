package director

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// script writes an executable shell script into the test's directory.
func script(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// A sendmail that leaves a background child holding its output must not
// hold the alert for the child's life; what it read on stdin is the mail.
func TestSendMailBackgroundChild(t *testing.T) {
	dir := t.TempDir()
	got := filepath.Join(dir, "mail")
	sendmailPath = script(t, "sendmail", "cat > "+got+"\nsleep 30 &\necho queued\n")
	defer func() { sendmailPath = "/usr/sbin/sendmail" }()
	start := time.Now()
	err := SendMail(context.Background(), Alert{To: []string{"ops@example.com"}, From: "ld@example.com", Subject: "real down", Body: "x"})
	if err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("SendMail took %v: held by sendmail's background child", d)
	}
	b, _ := os.ReadFile(got)
	if !strings.Contains(string(b), "Subject: real down") || strings.Contains(string(b), "\r\n") {
		t.Errorf("sendmail's stdin: %q", b)
	}
}

// A hanging sendmail is stopped at the mail timeout, its process group
// with it.
func TestSendMailHangStopped(t *testing.T) {
	pidf := filepath.Join(t.TempDir(), "pid")
	sendmailPath = script(t, "sendmail", "sleep 60 &\necho $! > "+pidf+"\nwait\n")
	mailTimeout = 500 * time.Millisecond
	defer func() { sendmailPath, mailTimeout = "/usr/sbin/sendmail", 30*time.Second }()
	start := time.Now()
	err := SendMail(context.Background(), Alert{To: []string{"ops@example.com"}, Subject: "s", Body: "b"})
	if err == nil {
		t.Fatal("SendMail: no error from a hanging sendmail")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("SendMail took %v for a %v limit", d, mailTimeout)
	}
	waitGone(t, pidf)
}

// waitGone: the pid written in file (a background child) is gone.
func waitGone(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	proc := "/proc/" + strings.TrimSpace(string(b))
	for i := 0; i < 100; i++ {
		st, err := os.ReadFile(proc + "/stat")
		if err != nil || bytes.Contains(st, []byte(") Z ")) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("background child %s still running", proc)
}

// A callback that hangs is stopped at its limit, its background children
// with it; its failure is logged with its output.
func TestCallbackHangStopped(t *testing.T) {
	pidf := filepath.Join(t.TempDir(), "pid")
	cb := script(t, "cb", "echo called with $1\nsleep 60 &\necho $! > "+pidf+"\nwait\n")
	callbackTimeout = 500 * time.Millisecond
	defer func() { callbackTimeout = defaultCallbackTimeout }()
	var logs bytes.Buffer
	done := make(chan struct{})
	start := time.Now()
	go func() {
		runCallback(context.Background(), cb, "/etc/ldirectord.cf", slog.New(slog.NewTextHandler(&logs, nil)))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("runCallback still running 15 s after a 500 ms limit")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("runCallback took %v", d)
	}
	waitGone(t, pidf)
	if !strings.Contains(logs.String(), "callback failed") || !strings.Contains(logs.String(), "called with /etc/ldirectord.cf") {
		t.Errorf("log: %s", logs.String())
	}
}

// A callback leaving a background child that holds its output returns at
// once and leaves the child running (as ldirectord's system() does).
func TestCallbackBackgroundChild(t *testing.T) {
	pidf := filepath.Join(t.TempDir(), "pid")
	cb := script(t, "cb", "sleep 30 &\necho $! > "+pidf+"\n")
	start := time.Now()
	runCallback(context.Background(), cb, "/x.cf", slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("runCallback took %v: held by the background child", d)
	}
	b, _ := os.ReadFile(pidf)
	if pid := strings.TrimSpace(string(b)); pid != "" {
		if p, err := os.FindProcess(atoiOr(pid)); err == nil {
			p.Kill()
		}
	}
}

func atoiOr(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
