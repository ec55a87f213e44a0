package ipvs

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSysctlsGetSet(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sync_threshold"), []byte("3\t50\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := Sysctls{Dir: dir}
	if v, err := s.Get("sync_threshold"); err != nil || v != "3 50" {
		t.Fatalf("Get = %q, %v; want \"3 50\"", v, err)
	}
	if err := s.Set("sync_threshold", "1 10"); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Get("sync_threshold"); v != "1 10" {
		t.Fatalf("after Set: %q", v)
	}
	if err := s.Set("no_such", "1"); err == nil {
		t.Fatal("Set of a missing sysctl succeeded")
	}
	for _, bad := range []string{"", "..", "a/b"} {
		if _, err := s.Get(bad); err == nil {
			t.Fatalf("Get(%q) accepted", bad)
		}
	}
}
