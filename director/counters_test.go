package director

import (
	"context"
	"fmt"
	"testing"

	"github.com/lvsdirector/director/ipvs"
)

// countingTable is a memory table whose reads carry counters, as the
// kernel's do.
type countingTable struct{ *ipvs.Memory }

func (c countingTable) Services(ctx context.Context) ([]ipvs.Service, error) {
	svcs, err := c.Memory.Services(ctx)
	for i := range svcs {
		svcs[i].Stats = ipvs.Stats{Connections: 7, BytesOut: 3563, CPS: 2}
	}
	return svcs, err
}

func (c countingTable) Destinations(ctx context.Context, k ipvs.ServiceKey) ([]ipvs.Destination, error) {
	ds, err := c.Memory.Destinations(ctx, k)
	for i := range ds {
		ds[i].Stats = ipvs.Stats{Connections: 4, PacketsIn: 24}
		ds[i].ActiveConns = 1
	}
	return ds, err
}

// Counters reads the configured virtuals (not a foreign service) and
// their reals from the table at call time, counters and all.
func TestCountersReadTheConfiguredVirtuals(t *testing.T) {
	f := newFarm(t, 1)
	v := f.virtual("10.0.0.100", false)
	m := ipvs.NewMemory()
	foreign := vip("10.9.9.9", 443)
	m.Apply(context.Background(), []ipvs.Op{{Kind: ipvs.AddService, Service: foreign}})
	d, stop := run(t, &Config{Virtuals: []*Virtual{v}}, countingTable{m}, nil)
	defer stop()
	r0 := fmt.Sprintf("127.0.0.1:%d", f.ports[0])
	waitTable(t, m, has("-> "+r0+" masq 2"), "real up")
	vcs, err := d.Counters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(vcs) != 1 || vcs[0].Service.ServiceKey != v.Service.ServiceKey {
		t.Fatalf("counters of %+v, want only %v", vcs, v.Service.ServiceKey)
	}
	if s := vcs[0].Service.Stats; s.Connections != 7 || s.BytesOut != 3563 || s.CPS != 2 {
		t.Errorf("service stats %+v", s)
	}
	if len(vcs[0].Dests) != 1 || vcs[0].Dests[0].DestKey.String() != r0 || vcs[0].Dests[0].Stats.Connections != 4 || vcs[0].Dests[0].ActiveConns != 1 {
		t.Errorf("dests %+v", vcs[0].Dests)
	}
}
