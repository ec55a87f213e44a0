package director

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ldirectord.cf must be a regular file of bounded size, as every config
// file: a FIFO would hang the start (and autoreload's stamp), /dev/zero
// would fill the memory.
func TestParseFileOnlyRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.cf")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	zero := filepath.Join(dir, "zero.cf")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Skip(err)
	}
	for _, p := range []string{fifo, zero} {
		done := make(chan error, 1)
		go func() { _, err := ParseFile(p, ParseOptions{}); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("%s: %v", p, err)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("ParseFile(%s) still blocked after 3 s", p)
		}
		done2 := make(chan stamp, 1)
		go func() { done2 <- fileStamp(p) }()
		select {
		case st := <-done2:
			if st.ok {
				t.Errorf("%s: a stamp of a special file", p)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("fileStamp(%s) still blocked after 3 s", p)
		}
	}
}
