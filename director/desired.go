package director

import "github.com/lvsdirector/director/ipvs"

// Health reports whether a virtual's real server is up.
type Health func(v *Virtual, r *Real) bool

// Desired maps a configuration and the health of its reals to the table the
// kernel should hold, with ldirectord's rules:
//   - an up real is in with its configured weight, fwd and thresholds;
//   - a down real is out, or in with weight 0 when the virtual is quiescent
//     (added at weight 0 only when addQuiescent: at start and reload, or
//     always with readdquiescent=yes; otherwise an existing entry is just
//     set to 0 and an entry someone removed stays out);
//   - the fallback is in with weight 1 exactly when no real is up.
func Desired(cfg *Config, up Health, addQuiescent bool) []ipvs.Want {
	return DesiredDrained(cfg, up, addQuiescent, nil)
}

// DesiredDrained is Desired with the reals an operator drains: an up real
// in drained stays in at weight 0 (its connections go on, no new ones come)
// and does not count as up for the fallback; a drained real that is down is
// down as any other.
func DesiredDrained(cfg *Config, up Health, addQuiescent bool, drained map[ipvs.DestKey]bool) []ipvs.Want {
	want := make([]ipvs.Want, 0, len(cfg.Virtuals))
	for _, v := range cfg.Virtuals {
		w := ipvs.Want{Service: v.Service, Dests: make([]ipvs.WantDest, 0, len(v.Reals)+1)}
		seen := make(map[ipvs.DestKey]bool, len(v.Reals)+1)
		anyUp := false
		for _, r := range v.Reals {
			if seen[r.Dest.DestKey] {
				continue
			}
			seen[r.Dest.DestKey] = true
			switch {
			case up(v, r) && drained[r.Dest.DestKey]:
				d := r.Dest
				d.Weight = 0
				w.Dests = append(w.Dests, ipvs.WantDest{Destination: d})
			case up(v, r):
				anyUp = true
				w.Dests = append(w.Dests, ipvs.WantDest{Destination: r.Dest})
			case v.Quiescent:
				d := r.Dest
				d.Weight = 0
				w.Dests = append(w.Dests, ipvs.WantDest{Destination: d, IfPresent: !addQuiescent})
			}
		}
		if !anyUp && v.Fallback != nil && !seen[v.Fallback.DestKey] {
			fb := *v.Fallback
			fb.Weight = 1
			w.Dests = append(w.Dests, ipvs.WantDest{Destination: fb})
		}
		want = append(want, w)
	}
	return want
}

// AnyUp reports whether any real of v is up.
func AnyUp(v *Virtual, up Health) bool {
	for _, r := range v.Reals {
		if up(v, r) {
			return true
		}
	}
	return false
}
