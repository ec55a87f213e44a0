package director

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/lvsdirector/director/ipvs"
)

// A drained real goes to weight 0 in every virtual that has it, stays so
// across a reload and while the other real fails (the fallback comes in:
// no real is available), and gets its weight back when undrained.
func TestDrainWeightZeroAcrossReloadAndBack(t *testing.T) {
	f := newFarm(t, 2)
	a := f.virtual("10.0.0.100", false)
	b := f.virtual("10.0.0.101", false)
	m := ipvs.NewMemory()
	d, stop := run(t, &Config{Virtuals: []*Virtual{a, b}}, m, nil)
	defer stop()
	r0 := fmt.Sprintf("127.0.0.1:%d", f.ports[0])
	r1 := fmt.Sprintf("127.0.0.1:%d", f.ports[1])
	waitTable(t, m, has("tcp:10.0.0.101:80 -> "+r0+" masq 2"), "reals up")
	waitTable(t, m, has("tcp:10.0.0.101:80 -> "+r1+" masq 3"), "reals up")
	ctx := context.Background()
	k0 := ipvs.DestKey{Addr: netip.MustParseAddr("127.0.0.1"), Port: f.ports[0]}
	if err := d.Drain(ctx, k0, true); err != nil {
		t.Fatal(err)
	}
	tb := table(t, m)
	for _, v := range []string{"10.0.0.100", "10.0.0.101"} {
		if !strings.Contains(tb, "tcp:"+v+":80 -> "+r0+" masq 0") || !strings.Contains(tb, "tcp:"+v+":80 -> "+r1+" masq 3") {
			t.Fatalf("drained in %s:\n%s", v, tb)
		}
	}
	for _, vs := range d.Snapshot() {
		if !vs.Reals[0].Drained || vs.Reals[1].Drained || !vs.Reals[0].Up {
			t.Fatalf("snapshot: %+v", vs.Reals)
		}
	}
	if err := d.Reload(ctx, &Config{Virtuals: []*Virtual{f.virtual("10.0.0.100", false)}}); err != nil {
		t.Fatal(err)
	}
	waitTable(t, m, lacks("10.0.0.101"), "reload dropped b")
	if tb := table(t, m); !strings.Contains(tb, "-> "+r0+" masq 0") {
		t.Fatalf("the drain did not survive the reload:\n%s", tb)
	}
	f.set(1, true) // the other real fails: nothing available but the drained one
	waitTable(t, m, has("-> 127.0.0.1:80 gate 1"), "fallback in while the only up real is drained")
	if tb := table(t, m); !strings.Contains(tb, "-> "+r0+" masq 0") {
		t.Fatalf("drained real must stay in at weight 0 beside the fallback:\n%s", tb)
	}
	if err := d.Drain(ctx, k0, false); err != nil {
		t.Fatal(err)
	}
	waitTable(t, m, has("-> "+r0+" masq 2"), "undrained: weight back")
	waitTable(t, m, lacks("127.0.0.1:80 gate"), "fallback out again")
	if err := d.Drain(ctx, ipvs.DestKey{Addr: netip.MustParseAddr("10.9.9.9"), Port: 80}, true); err == nil ||
		!strings.Contains(err.Error(), "10.9.9.9:80 is not a real server of any virtual") {
		t.Fatalf("unknown real: %v", err)
	}
}
