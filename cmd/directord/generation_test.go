package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestNextGeneration(t *testing.T) {
	now := uint64(time.Now().Unix())
	for _, tc := range []struct {
		file string // "-": no file
		want uint64 // 0: at least the time
		err  string
	}{
		{"-", 0, ""},
		{"", 0, ""},
		{"12\n", 0, ""},
		{"99999999999\n", 100000000000, ""},
		{"  99999999999x junk", 100000000000, ""}, // as sscanf("%lu")
		{"18446744073709551614\n", 18446744073709551615, ""},
		{"18446744073709551615\n", 0, "generation 18446744073709551615 is too large to grow"},
		{"99999999999999999999\n", 0, "generation 99999999999999999999 is too large to grow"},
		{"-5\n", 0, `"-5\n" is not a generation number`},
		{"abc", 0, `"abc" is not a generation number`},
	} {
		dir := t.TempDir()
		p := filepath.Join(dir, "hb_generation")
		if tc.file != "-" {
			if err := os.WriteFile(p, []byte(tc.file), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		g, err := nextGeneration(dir)
		if tc.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), p+": ") || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: got %d, %v; want an error naming %s: %s", tc.file, g, err, p, tc.err)
			}
			if b, _ := os.ReadFile(p); string(b) != tc.file {
				t.Errorf("%q: file rewritten to %q after the error", tc.file, b)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.file, err)
			continue
		}
		if tc.want != 0 && g != tc.want || tc.want == 0 && g < now {
			t.Errorf("%q: generation %d, want %d (0: at least %d)", tc.file, g, tc.want, now)
		}
		if b, _ := os.ReadFile(p); string(b) != strconv.FormatUint(g, 10)+"\n" {
			t.Errorf("%q: file holds %q after generation %d", tc.file, b, g)
		}
	}
}

// A FIFO where hb_generation should be stops the start with the file's
// name instead of hanging it; a missing file is a first start.
func TestNextGenerationOnlyRegularFile(t *testing.T) {
	dir := t.TempDir()
	if g, err := nextGeneration(dir); err != nil || g == 0 {
		t.Fatalf("first start: %d, %v", g, err)
	}
	os.Remove(filepath.Join(dir, "hb_generation"))
	if err := syscall.Mkfifo(filepath.Join(dir, "hb_generation"), 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	done := make(chan error, 1)
	go func() { _, err := nextGeneration(dir); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "hb_generation") {
			t.Fatalf("a FIFO as hb_generation: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("nextGeneration hung on a FIFO")
	}
}
