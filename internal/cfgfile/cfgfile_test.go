package cfgfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readWithin runs ReadFile and fails the test if it has not returned
// within a few seconds (a FIFO used to block forever).
func readWithin(t *testing.T, path string) ([]byte, error) {
	t.Helper()
	type res struct {
		b   []byte
		err error
	}
	ch := make(chan res, 1)
	go func() { b, err := ReadFile(path); ch <- res{b, err} }()
	select {
	case r := <-ch:
		return r.b, r.err
	case <-time.After(5 * time.Second):
		t.Fatalf("ReadFile(%s) still blocked after 5 s", path)
		return nil, nil
	}
}

func wantErr(t *testing.T, err error, path, text string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: accepted", path)
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), text) {
		t.Fatalf("error %q: want the file %s and %q", err, path, text)
	}
}

func TestRegular(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ha.cf")
	os.WriteFile(p, []byte("node a\n"), 0o644)
	b, err := readWithin(t, p)
	if err != nil || string(b) != "node a\n" {
		t.Fatalf("%q %v", b, err)
	}
	l := filepath.Join(t.TempDir(), "link")
	os.Symlink(p, l)
	if b, err := readWithin(t, l); err != nil || string(b) != "node a\n" {
		t.Fatalf("via symlink: %q %v", b, err)
	}
}

func TestMissingIsNotExist(t *testing.T) {
	p := filepath.Join(t.TempDir(), "none")
	_, err := readWithin(t, p)
	if !errors.Is(err, fs.ErrNotExist) || err.Error() != "open "+p+": no such file or directory" {
		t.Fatalf("%v: want ErrNotExist, worded as open's", err)
	}
}

func TestFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skip(err)
	}
	_, err := readWithin(t, p)
	wantErr(t, err, p, "not a regular file (a named pipe)")
	if !errors.Is(err, ErrNotRegular) {
		t.Fatalf("%v: want ErrNotRegular", err)
	}
}

func TestDevZero(t *testing.T) {
	_, err := readWithin(t, "/dev/zero")
	wantErr(t, err, "/dev/zero", "not a regular file (a character device)")
}

func TestDirectory(t *testing.T) {
	p := t.TempDir()
	_, err := readWithin(t, p)
	wantErr(t, err, p, "is a directory")
	if !errors.Is(err, syscall.EISDIR) {
		t.Fatalf("%v: want EISDIR", err)
	}
}

func TestOversize(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(p, make([]byte, MaxSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := readWithin(t, p)
	wantErr(t, err, p, "file too large")
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("%v: want ErrTooLarge", err)
	}
	// Exactly the bound is fine.
	os.Truncate(p, MaxSize)
	if b, err := readWithin(t, p); err != nil || len(b) != MaxSize {
		t.Fatalf("%d bytes, %v", len(b), err)
	}
}

// A file that grows after the size check is still cut at the bound.
func TestReadAllBound(t *testing.T) {
	_, err := ReadAll("f", bytes.NewReader(make([]byte, 11)), 10)
	wantErr(t, err, "f", "more than 10 bytes")
	if b, err := ReadAll("f", bytes.NewReader(make([]byte, 10)), 10); err != nil || len(b) != 10 {
		t.Fatalf("%d %v", len(b), err)
	}
}

func TestFind(t *testing.T) {
	dir := t.TempDir()
	a, b, c := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
	if _, err := Find(a, b); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("none there: %v", err)
	}
	os.Mkdir(a, 0o755)
	if _, err := Find(a, b); err == nil || err.Error() != "open "+a+": is a directory" {
		t.Fatalf("a directory: %v", err)
	}
	os.WriteFile(c, nil, 0o644)
	if p, err := Find(a, b, c); err != nil || p != c {
		t.Fatalf("got %q %v, want %s", p, err, c)
	}
}
