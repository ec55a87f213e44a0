package settings

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A FIFO as the settings file used to hang the reader forever and
// /dev/zero to exhaust its memory: only a regular file of bounded size is
// read, by Load and by LoadDefault, with an error naming the file.
func TestSpecialFiles(t *testing.T) {
	for _, tt := range []struct {
		kind string
		make func(p string) error
		want string
	}{
		{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o600) }, "cannot read: not a regular file (a named pipe)"},
		{"dev-zero", func(p string) error { return os.Symlink("/dev/zero", p) }, "cannot read: not a regular file (a character device)"},
		{"directory", func(p string) error { return os.Mkdir(p, 0o700) }, "cannot read: is a directory"},
		{"oversize", func(p string) error {
			return os.WriteFile(p, []byte(strings.Repeat("#\n", 1<<19)+"#"), 0o600)
		}, "cannot read: file too large: more than 1048576 bytes"},
	} {
		for name, load := range map[string]func(string) (*Settings, error){"Load": Load, "LoadDefault": LoadDefault} {
			t.Run(tt.kind+"/"+name, func(t *testing.T) {
				p := filepath.Join(t.TempDir(), "settings.toml")
				if err := tt.make(p); err != nil {
					t.Skip(err)
				}
				ch := make(chan error, 1)
				go func() { _, err := load(p); ch <- err }()
				var err error
				select {
				case err = <-ch:
				case <-time.After(5 * time.Second):
					t.Fatalf("%s(%s) still blocked after 5 s", name, p)
				}
				if err == nil || err.Error() != p+": "+tt.want {
					t.Fatalf("got %v, want %s: %s", err, p, tt.want)
				}
			})
		}
	}
}
