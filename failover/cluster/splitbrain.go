package cluster

// Split brain. After a partition both nodes may hold the same groups.
// Heartbeat detects "returning after partition" (a node we declared dead
// speaks again with the same generation) and restarts itself, releasing
// everything. We repair instead, with one deterministic rule:
//
//	a group held by both nodes stays on its preferred node;
//	the other node releases it (Release only: no announcement),
//	and the preferred node re-announces it once the other reports it gone.
//
// In a two-node cluster every group has one of the two as preferred node,
// so the rule is: keep your local groups, give up your foreign ones. Both
// nodes evaluate it on the other's stable resource messages; each sends its
// own holdings on healing, and the keeper answers every conflicting report,
// so each side learns what the other holds even if only one side noticed.
// A real heartbeat peer restarts instead; it then releases everything and
// our shutdone handling takes its groups over again.

// onPartitionHealed: p was dead and is back with the same generation.
func (m *Machine) onPartitionHealed(p *peer) {
	if !m.nice() || !m.commUp {
		m.logf(Warn, "Cluster node %s returned after partition; no repair in legacy mode.", p.name)
		return
	}
	m.logf(Warn, "Telling %s what we hold, to resolve resources held twice.", p.name)
	m.rs.otherStable = false
	m.sendResourcesHeld(m.rs.state == rStable, "")
}

// auditSplitBrain checks the other node's stable report against what we
// hold. informed: we released and told the other node so; reply: we keep a
// group the other node also claims and must tell it.
func (m *Machine) auditSplitBrain(p *peer) (informed, reply bool) {
	r := &m.rs
	if r.state != rStable || r.standby != sbNot || r.shutdown {
		return false, false
	}
	ours := m.keysOf(m.cfg.Node)
	theirs := m.foreignKeys()
	ourClaimed := r.otherHolds&rscForeign != 0 && len(ours) > 0   // it holds our local groups
	theirClaimed := r.otherHolds&rscLocal != 0 && len(theirs) > 0 // it holds its own
	if r.hold&rscLocal != 0 && ourClaimed {
		if !r.conflictLocal {
			m.logf(Crit, "split brain: %s also holds our local groups; we keep them (preferred node)", p.name)
		}
		r.conflictLocal = true
		reply = true
	} else if r.conflictLocal && !ourClaimed {
		r.conflictLocal = false
		var keys []string
		for _, k := range ours {
			if r.owned[k] {
				keys = append(keys, k)
			}
		}
		m.logf(Info, "%s released our resources; announcing them again.", p.name)
		if len(keys) > 0 {
			m.emit(Announce{Groups: keys})
		}
	}
	if r.hold&rscForeign != 0 && theirClaimed {
		m.logf(Crit, "split brain: %s holds its own groups and so do we; releasing them to it", p.name)
		r.hold &^= rscForeign
		r.needsFailback = false
		m.sendResourcesHeld(false, "")
		m.enqueue(true, theirs, func(_, _ []string) {
			m.logf(Info, "foreign HA resource release completed (split brain).")
			m.sendResourcesHeld(true, "")
		})
		informed = true
	}
	return informed, reply
}
