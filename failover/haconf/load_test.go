package haconf

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// loadWithin runs Load and fails if it has not returned within a few
// seconds: a FIFO as ha.cf used to block directord forever.
func loadWithin(t *testing.T, dir string) (*Config, error) {
	t.Helper()
	type res struct {
		c   *Config
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := Load(dir, "vm"); ch <- res{c, err} }()
	select {
	case r := <-ch:
		return r.c, r.err
	case <-time.After(5 * time.Second):
		t.Fatalf("Load(%s) still blocked after 5 s", dir)
		return nil, nil
	}
}

// Every file Load reads must be a regular file of bounded size, and the
// refusal names the file.
func TestLoadSpecialFiles(t *testing.T) {
	for _, name := range []string{HACFName, ResourcesName, AuthkeysName} {
		for _, tt := range []struct {
			kind string
			make func(p string) error
			want string
		}{
			{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o600) }, "not a regular file (a named pipe)"},
			{"dev-zero", func(p string) error { return os.Symlink("/dev/zero", p) }, "not a regular file (a character device)"},
			{"directory", func(p string) error { return os.Mkdir(p, 0o700) }, "is a directory"},
			{"oversize", func(p string) error {
				// Valid lines, so only the size can refuse it.
				return os.WriteFile(p, []byte(strings.Repeat("#\n", 1<<19)+"#"), 0o600)
			}, "file too large"},
		} {
			t.Run(name+"/"+tt.kind, func(t *testing.T) {
				files := map[string]string{"ha.cf": referenceHACF, "authkeys": referenceAuthkeys, "haresources": "vm 10.0.0.1\n"}
				delete(files, name)
				dir := writeFiles(t, files)
				p := filepath.Join(dir, name)
				if err := tt.make(p); err != nil {
					t.Skip(err)
				}
				_, err := loadWithin(t, dir)
				if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("got %v, want an error naming %s: %s", err, p, tt.want)
				}
			})
		}
	}
}

// Resource groups move between two nodes: a third node in ha.cf is an
// error at its line (it used to fail later, in the cluster, without one).
func TestLoadThreeNodes(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"ha.cf":       strings.Replace(referenceHACF, "node peer\n", "node peer\nnode third\n", 1),
		"authkeys":    referenceAuthkeys,
		"haresources": "vm 10.0.0.1\n",
	})
	_, err := loadWithin(t, dir)
	want := filepath.Join(dir, "ha.cf") + ":15: node third"
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "two nodes") {
		t.Fatalf("got %v, want %s...two nodes", err, want)
	}
	// Without resource groups three nodes are only a warning.
	if err := os.WriteFile(filepath.Join(dir, "haresources"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadWithin(t, dir); err != nil {
		t.Fatal(err)
	}
}
