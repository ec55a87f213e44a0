package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileSync(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "hb_generation")
	for _, s := range []string{"1\n", "1796303901\n"} {
		if err := writeFileSync(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(p); err != nil || string(b) != s {
			t.Fatalf("holds %q (%v), want %q", b, err, s)
		}
	}
	if _, err := os.Stat(p + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temporary file left: %v", err)
	}
	// A failed write leaves the old content and no temporary file.
	if err := os.Mkdir(p+".tmp", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeFileSync(p, []byte("2\n"), 0o644); err == nil {
		t.Fatal("write over a directory succeeded")
	}
	if b, _ := os.ReadFile(p); string(b) != "1796303901\n" {
		t.Fatalf("old content lost: %q", b)
	}
}
