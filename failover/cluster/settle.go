package cluster

import "time"

// Connection sync and failback: a director that restarts while its peer
// holds the groups must not take them back (auto_failback on, or legacy's
// ip-request) before its backup sync daemon has the peer's connections:
// the master sends a connection when it carries packets (sync_threshold,
// sync_refresh_period), so a backup started a moment ago knows few of them,
// and a failback then would reset every connection it has not heard of
// yet. Until the caller reports SyncSettled, such a node reports itself
// in flux (resource ... isstable=0), so the holder does not start the
// failback (nor, with hb_standby, a standby: it would reset the same
// connections) — heartbeat's own rule, which a heartbeat 3.0.6 peer
// follows too — and, with legacy, sends no ip-request. Once settled it
// reports isstable=1 and the holder hands the groups back at once. A
// takeover from a dead or departing peer is never delayed: it does not
// wait for the other side's stability, and a node taking over needs no
// settle (its own connections are what the peer synced to it).

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
// Settle): the node says it is stable, and a holder with auto_failback on
// hands the groups back; with legacy the ip-requests go out. No-op without
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
	if m.nice() && r.state == rStable && !r.shutdown {
		m.sendResourcesHeld(true, "")
	}
	return m.flush()
}

// syncPeerGone: the other node died or left; nothing is deferred any more.
func (m *Machine) syncPeerGone() { m.rs.legacyDeferred = false }
