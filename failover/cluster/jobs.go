package cluster

import "slices"

// The resource work queue: Acquire/Release actions go out one at a time
// (heartbeat, too, runs its resource scripts one after the other) and each
// job's continuation runs when the agent reports back through ResourcesDone.

// job is one piece of resource work; then runs when the agent reports back
// (acted: the groups the agent was asked to handle, failed: those it could not).
type job struct {
	op      int
	release bool
	groups  []string
	acted   []string
	then    func(acted, failed []string)
}

// Group sets, always in haresources order.

func (m *Machine) keysOf(node string) []string {
	var out []string
	for _, g := range m.cfg.Groups {
		if g.Node == node {
			out = append(out, g.Key)
		}
	}
	return out
}

func (m *Machine) foreignKeys() []string {
	var out []string
	for _, g := range m.cfg.Groups {
		if g.Node != m.cfg.Node {
			out = append(out, g.Key)
		}
	}
	return out
}

func (m *Machine) allKeys() []string {
	out := make([]string, 0, len(m.cfg.Groups))
	for _, g := range m.cfg.Groups {
		out = append(out, g.Key)
	}
	return out
}

// keysFor maps a set (our point of view) to group keys, haresources order.
func (m *Machine) keysFor(s rset) []string {
	switch s {
	case rscLocal:
		return m.keysOf(m.cfg.Node)
	case rscForeign:
		return m.foreignKeys()
	case rscAll:
		return m.allKeys()
	}
	return nil
}

func (m *Machine) groupClass(key string) rset {
	for _, g := range m.cfg.Groups {
		if g.Key == key && g.Node == m.cfg.Node {
			return rscLocal
		}
	}
	return rscForeign
}

func (m *Machine) enqueue(release bool, groups []string, then func(acted, failed []string)) {
	m.rs.jobs = append(m.rs.jobs, &job{release: release, groups: groups, then: then})
	m.runJobs()
}

func (m *Machine) runJobs() {
	r := &m.rs
	for r.inflight == nil && len(r.jobs) > 0 && !m.stopped {
		j := r.jobs[0]
		r.jobs = r.jobs[1:]
		for _, g := range j.groups {
			if r.owned[g] == j.release { // only what needs doing
				j.acted = append(j.acted, g)
			}
		}
		if len(j.acted) == 0 {
			if j.then != nil {
				j.then(nil, nil)
			}
			continue
		}
		r.nextOp++
		j.op = r.nextOp
		r.inflight = j
		if j.release {
			m.emit(Release{Op: j.op, Groups: slices.Clone(j.acted)})
		} else {
			m.emit(Acquire{Op: j.op, Groups: slices.Clone(j.acted)})
		}
	}
}

func (m *Machine) jobDone(op int, failed []string) {
	r := &m.rs
	j := r.inflight
	if j == nil || j.op != op {
		m.logf(Error, "ResourcesDone for unknown operation %d", op)
		return
	}
	r.inflight = nil
	bad := map[string]bool{}
	for _, g := range failed {
		bad[g] = true
	}
	for _, g := range j.acted {
		if j.release {
			r.owned[g] = bad[g] // a group that would not stop is still ours
			if bad[g] {
				m.logf(Crit, "Resource group %s failed to stop", g)
			}
		} else {
			r.owned[g] = !bad[g]
			if bad[g] {
				m.logf(Error, "Resource group %s failed to start", g)
				if r.failStandbyAt.IsZero() {
					// ResourceManager: give the group's kind to the other node.
					r.failStandbyAt = m.now.Add(failStartStandby)
					r.failStandbyWhich = m.groupClass(g)
				}
			}
		}
	}
	if j.then != nil {
		j.then(j.acted, failed)
	}
	m.runJobs()
}

func (m *Machine) busy() bool { return m.rs.inflight != nil || len(m.rs.jobs) > 0 }
