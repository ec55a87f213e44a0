package cluster

import "time"

// Connection sync and failback: a director that restarts while its peer
// holds the groups must not take them back (auto_failback on, or legacy's
// ip-request) before its backup sync daemon has the peer's connections:
// the master sends a connection when it carries packets (sync_threshold,
// sync_refresh_period), so a backup started a moment ago knows few of them,
// and a failback then would reset every connection it has not heard of
// yet. Until the caller reports SyncSettled, such a node defers the
// holder's standby offer (ask_resources info=me; the holder's request then
// expires after STANDBY_INIT_TO_MS, as with a silent heartbeat) and sends
// no ip-request; once settled it asks with hb_takeover, heartbeat's own
// message, so a heartbeat 3.0.6 peer follows too. A takeover from a dead
// or departing peer is never delayed: the deferral only touches what a
// live holder offers.

// Settle decides when the backup daemon has had the peer's connections
// long enough: at least Min since it started, and the connection table no
// longer growing for Quiet (the master has sent what its traffic makes it
// send); never longer than Max, since a table that keeps growing (new
// connections arriving all the time) would otherwise hold the failback
// off for ever. A count advertised by the peer would be a sharper test,
// but heartbeat's messages have no field for it and a mixed pair must work;
// growth needs nothing from the peer. Connections idle for the whole wait
// are not learnt (the master only sends a connection that carries
// packets): sync_refresh_period bounds how long that can be.
type Settle struct {
	Min, Quiet, Max time.Duration

	start, grewAt time.Time
	most          int
	done          bool
}

// Start begins the wait: when the backup daemon starts.
func (s *Settle) Start(now time.Time) {
	s.start, s.grewAt, s.most, s.done = now, now, 0, false
}

// Observe takes a reading of the connection table and reports whether the
// wait is over. Once over, it stays over.
func (s *Settle) Observe(now time.Time, conns int) bool {
	if s.done {
		return true
	}
	if conns > s.most {
		s.most, s.grewAt = conns, now
	}
	el := now.Sub(s.start)
	s.done = el >= s.Max || (el >= s.Min && now.Sub(s.grewAt) >= s.Quiet)
	return s.done
}

// SyncSettled reports that the backup sync daemon has settled (see
// Settle); a deferred failback is then asked for. No-op without
// Config.SyncSettle or when already settled.
func (m *Machine) SyncSettled(now time.Time) []Action {
	if !m.running() {
		return nil
	}
	m.begin(now)
	r := &m.rs
	if r.syncSettled {
		return m.flush()
	}
	r.syncSettled = true
	m.logf(Info, "connection sync settled: groups may come back")
	if r.legacyDeferred {
		r.legacyDeferred = false
		m.legacyReqOurResources()
	}
	if r.deferredAsk != rscNone {
		// The holder's own request must have expired first, or it would
		// refuse ours as "Standby in progress".
		at := r.deferredAt.Add(standbyReplyTO + autoFailbackWait)
		if at.Before(now) {
			at = now
		}
		r.deferredTakeoverAt = at
	}
	m.resourceTick()
	return m.flush()
}

// deferForSync tells whether an offer of groups from the live other node
// must wait for the sync to settle, and records it.
func (m *Machine) deferForSync(rt rset, from string) bool {
	r := &m.rs
	if r.syncSettled {
		return false
	}
	m.logf(Info, "standby: %s offers its [%s] groups: deferred until the connection sync has settled", from, rt)
	r.deferredAsk, r.deferredAt = rt, m.now
	return true
}

// syncTick asks for a deferred failback once it is due.
func (m *Machine) syncTick() {
	r := &m.rs
	if r.deferredTakeoverAt.IsZero() || m.now.Before(r.deferredTakeoverAt) {
		return
	}
	which := mirror(r.deferredAsk).String()
	r.deferredTakeoverAt, r.deferredAsk = time.Time{}, rscNone
	if r.shutdown || r.otherHolds == rscNone {
		return
	}
	m.logf(Info, "connection sync settled: asking for the deferred [%s] groups", which)
	m.requestTakeover(which)
}

// syncPeerGone: the other node died or left; nothing is deferred any more.
func (m *Machine) syncPeerGone() {
	r := &m.rs
	r.deferredAsk, r.deferredTakeoverAt, r.legacyDeferred = rscNone, time.Time{}, false
}
