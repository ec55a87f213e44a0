package ipvs

import (
	"context"
	"fmt"
)

// State is a service as the kernel holds it, with its destinations.
type State struct {
	Service Service
	Dests   []Destination
}

// Want is a service as it should be.
type Want struct {
	Service Service
	Dests   []WantDest
}

// WantDest is a destination as it should be.
type WantDest struct {
	Destination
	// IfPresent asks only to bring an existing entry to these settings,
	// never to add it (ldirectord's quiescent real with readdquiescent=no).
	IfPresent bool
}

// Read returns the services for which keep returns true, with their
// destinations, keyed by service.
func Read(ctx context.Context, t Table, keep func(ServiceKey) bool) (map[ServiceKey]State, error) {
	svcs, err := t.Services(ctx)
	if err != nil {
		return nil, fmt.Errorf("list ipvs services: %w", err)
	}
	out := make(map[ServiceKey]State, len(svcs))
	for _, s := range svcs {
		if !keep(s.ServiceKey) {
			continue
		}
		ds, err := t.Destinations(ctx, s.ServiceKey)
		if err != nil {
			return nil, fmt.Errorf("list destinations of %v: %w", s.ServiceKey, err)
		}
		out[s.ServiceKey] = State{Service: s, Dests: ds}
	}
	return out, nil
}

// Diff returns the ops that turn have into want for the services in want,
// and delete the services in remove. Services in neither are never touched.
// Per service, additions and updates come before deletions, so a swap
// (fallback out, real in) never leaves the service empty.
func Diff(want []Want, have map[ServiceKey]State, remove []ServiceKey) []Op {
	var ops, dels []Op
	for _, w := range want {
		h, exists := have[w.Service.ServiceKey]
		if !exists {
			ops = append(ops, Op{Kind: AddService, Service: w.Service})
		} else if !w.Service.SameSettings(h.Service) {
			ops = append(ops, Op{Kind: UpdateService, Service: w.Service})
		}
		cur := make(map[DestKey]Destination, len(h.Dests))
		for _, d := range h.Dests {
			cur[d.DestKey] = d
		}
		wanted := make(map[DestKey]bool, len(w.Dests))
		for _, d := range w.Dests {
			wanted[d.DestKey] = true
			c, ok := cur[d.DestKey]
			switch {
			case !ok && !d.IfPresent:
				ops = append(ops, Op{Kind: AddDest, Service: w.Service, Dest: d.Destination})
			case ok && !d.SameSettings(c):
				ops = append(ops, Op{Kind: UpdateDest, Service: w.Service, Dest: d.Destination})
			}
		}
		for _, d := range h.Dests {
			if !wanted[d.DestKey] {
				dels = append(dels, Op{Kind: DeleteDest, Service: w.Service, Dest: d})
			}
		}
	}
	ops = append(ops, dels...)
	for _, k := range remove {
		if _, ok := have[k]; ok {
			ops = append(ops, Op{Kind: DeleteService, Service: Service{ServiceKey: k}})
		}
	}
	return ops
}

// Commit folds successfully applied ops into have, so a caller can keep a
// cached view of the kernel without dumping it after every change. Failed
// ops (from an *ApplyError) are left out.
func Commit(have map[ServiceKey]State, ops []Op, applyErr error) {
	failed := map[int]bool{}
	if ae, ok := applyErr.(*ApplyError); ok {
		for _, f := range ae.Failed {
			for i := range ops {
				if !failed[i] && sameOp(ops[i], f.Op) {
					failed[i] = true
					break
				}
			}
		}
	}
	for i, op := range ops {
		if failed[i] {
			continue
		}
		k := op.Service.ServiceKey
		st := have[k]
		switch op.Kind {
		case AddService, UpdateService:
			st.Service = op.Service
			have[k] = st
			continue
		case DeleteService:
			delete(have, k)
			continue
		}
		idx := -1
		for j, d := range st.Dests {
			if d.DestKey == op.Dest.DestKey {
				idx = j
				break
			}
		}
		switch op.Kind {
		case AddDest:
			if idx < 0 {
				st.Dests = append(st.Dests, op.Dest)
			}
		case UpdateDest:
			if idx >= 0 {
				st.Dests[idx] = op.Dest
			}
		case DeleteDest:
			if idx >= 0 {
				st.Dests = append(st.Dests[:idx], st.Dests[idx+1:]...)
			}
		}
		have[k] = st
	}
}

func sameOp(a, b Op) bool {
	return a.Kind == b.Kind && a.Service.ServiceKey == b.Service.ServiceKey && a.Dest.DestKey == b.Dest.DestKey
}
