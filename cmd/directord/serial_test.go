package main

import (
	"strings"
	"testing"

	"github.com/lvsdirector/director/failover/haconf"
	"github.com/lvsdirector/director/failover/media"
)

// A serial line of ha.cf becomes a serial medium named by its tty; a path
// that is not a tty is refused at start with the file and line.
func TestSerialMediaSpecs(t *testing.T) {
	ha, err := haconf.ParseHACF("/etc/ha.d/ha.cf", strings.NewReader("baud 38400\nserial /dev/null\nnode a b\nauto_failback on\n"), haconf.HACFOptions{LocalNode: "a"})
	if err != nil {
		t.Fatal(err)
	}
	specs, err := mediaSpecs(ha)
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 1 || specs[0].Kind != "serial" || specs[0].Label != "/dev/null" || specs[0].Baud != 38400 {
		t.Fatalf("specs %+v", specs)
	}
	_, err = media.OpenAll(specs, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "/etc/ha.d/ha.cf:2: serial /dev/null: not a tty") {
		t.Fatalf("open: %v", err)
	}
}
