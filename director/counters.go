package director

import (
	"context"
	"fmt"

	"github.com/lvsdirector/director/ipvs"
)

// VirtualCounters are the kernel's counters of one configured virtual
// service and of its destinations (ipvsadm -Ln --stats / --rate): the
// service's key and Stats, each destination's Stats and connection counts.
type VirtualCounters struct {
	Service ipvs.Service       `json:"service"`
	Dests   []ipvs.Destination `json:"dests"`
}

// Counters reads the configured virtuals' counters from the kernel now.
// A virtual the kernel does not have (yet) is left out. It takes none of
// the director's locks; the table handle serialises it with writes.
func (d *Director) Counters(ctx context.Context) ([]VirtualCounters, error) {
	s := d.published.Load()
	if s == nil {
		return nil, nil
	}
	svcs, err := d.table.Services(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the virtual services: %w", err)
	}
	byKey := make(map[ipvs.ServiceKey]ipvs.Service, len(svcs))
	for _, svc := range svcs {
		byKey[svc.ServiceKey] = svc
	}
	var out []VirtualCounters
	for _, k := range s.keys {
		svc, ok := byKey[k]
		if !ok {
			continue
		}
		dests, err := d.table.Destinations(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("reading the reals of %v: %w", k, err)
		}
		out = append(out, VirtualCounters{Service: svc, Dests: dests})
	}
	return out, nil
}
