package cluster

import (
	"slices"
	"time"
)

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
	todo    []string // this attempt's groups (acted, less those released already)
	tries   int      // failed release attempts
	then    func(acted, failed []string)
}

// A release that fails is tried again, with a back-off from stopRetryMin
// doubling up to stopRetryMax, for as long as it fails; its continuation
// (ask_resources done, shutdone, ip-request-resp, ...) waits until every
// group is released. Heartbeat reboots the node when a stop fails
// (ResourceManager RecoverFromFailedStop); without that, the node must
// keep holding and keep sending heartbeats, because a node that went
// silent or said "done" with the group still up would let the other node
// take it: two holders.
const (
	stopRetryMin = time.Second
	stopRetryMax = 30 * time.Second
)

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
	for r.inflight == nil && r.retry == nil && len(r.jobs) > 0 && !m.stopped {
		j := r.jobs[0]
		r.jobs = r.jobs[1:]
		j.todo = nil
		for _, g := range j.groups {
			if r.owned[g] == j.release { // only what needs doing
				j.todo = append(j.todo, g)
			}
		}
		if j.tries == 0 {
			j.acted = j.todo
		}
		if len(j.todo) == 0 {
			if j.then != nil {
				j.then(j.acted, nil)
			}
			continue
		}
		r.nextOp++
		j.op = r.nextOp
		r.inflight = j
		if j.release {
			m.emit(Release{Op: j.op, Groups: slices.Clone(j.todo)})
		} else {
			m.emit(Acquire{Op: j.op, Groups: slices.Clone(j.todo)})
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
	stuck := false
	for _, g := range j.todo {
		if j.release {
			r.owned[g] = bad[g] // a group that would not stop is still ours
			if bad[g] {
				stuck = true
				m.logf(Crit, "Resource group %s failed to stop (attempt %d): still held, not handed over; retrying in %v",
					g, j.tries+1, stopBackoff(j.tries))
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
	if stuck {
		r.retry, r.retryAt = j, m.now.Add(stopBackoff(j.tries))
		j.tries++
		return
	}
	if j.release && j.tries > 0 {
		m.logf(Info, "Resource groups %v released after %d failed attempts", j.acted, j.tries)
	}
	if j.then != nil {
		j.then(j.acted, failed)
	}
	m.runJobs()
}

func stopBackoff(tries int) time.Duration {
	d := stopRetryMin
	for ; tries > 0 && d < stopRetryMax; tries-- {
		d *= 2
	}
	return min(d, stopRetryMax)
}

// retryIfDue puts a failed release back at the head of the queue when
// its back-off has passed.
func (m *Machine) retryIfDue() {
	r := &m.rs
	if r.retry == nil || m.now.Before(r.retryAt) {
		return
	}
	r.jobs = append([]*job{r.retry}, r.jobs...)
	r.retry = nil
	m.runJobs()
}

func (m *Machine) busy() bool {
	return m.rs.inflight != nil || m.rs.retry != nil || len(m.rs.jobs) > 0
}
