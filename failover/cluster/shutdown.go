package cluster

// Graceful shutdown (hb_giveup_resources): once nothing is in flux, say
// "rsc_hold=none isstable=0 info=shutdown", release every group, send
// "shutdone st=dead" and Exit. The other node takes over on shutdone.

func (m *Machine) requestShutdown() {
	r := &m.rs
	if r.shutdown {
		m.logf(Info, "shutdown already in progress")
		return
	}
	if !m.commUp {
		// Nothing is held before comm is up (heartbeat would wait for it).
		m.logf(Info, "shutdown before communications are up: nothing to release")
		m.send(newMsg("shutdone", "st", stDead))
		m.stopped = true
		m.emit(Exit{})
		return
	}
	r.shutdown = true
	m.giveupResources()
}

func (m *Machine) shutdownIfNeeded() {
	if m.rs.shutdown && !m.rs.givingUp && !m.stopped {
		m.giveupResources()
	}
}

// giveupResources is hb_giveup_resources: once stable, announce
// "rsc_hold=none isstable=0 info=shutdown", release all, send shutdone, exit.
func (m *Machine) giveupResources() {
	r := &m.rs
	if r.givingUp {
		return
	}
	if !m.isStable() {
		if !r.delayedNoted {
			m.logf(Warn, "shutdown: waiting for the resource work in progress")
			r.delayedNoted = true
		}
		return
	}
	r.givingUp = true
	r.hold = rscNone
	r.state = rShutdown
	m.sendResourcesHeld(false, "shutdown")
	m.logf(Info, "shutdown: releasing all groups")
	m.enqueue(true, m.allKeys(), func(_, _ []string) {
		m.logf(Info, "shutdown: all groups released")
		m.send(newMsg("shutdone", "st", stDead))
		m.stopped = true
		m.emit(Exit{})
	})
}
