package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsdirector/director/failover/haconf"
)

// An ldirectord config that is a directory is said to be one, not "not
// found".
func TestLdirectordConfigIsADirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "ldirectord.cf"), 0o755); err != nil {
		t.Fatal(err)
	}
	rs, err := haconf.ParseHaresources(filepath.Join(dir, "haresources"), strings.NewReader("a ldirectord::ldirectord.cf\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = groups(&haconf.Config{Resources: rs}, dir, nil, 0, nil)
	want := filepath.Join(dir, "haresources") + ":1: ldirectord config: open " + filepath.Join(dir, "ldirectord.cf") + ": is a directory"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	// Missing everywhere: not found, as before.
	os.Remove(filepath.Join(dir, "ldirectord.cf"))
	_, err = groups(&haconf.Config{Resources: rs}, dir, nil, 0, nil)
	if err == nil || !strings.Contains(err.Error(), "haresources:1: ldirectord config ldirectord.cf not found in "+dir) {
		t.Fatalf("missing: %v", err)
	}
}
