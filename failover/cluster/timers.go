package cluster

import "time"

// Timers are the ha.cf timers a running machine takes on a reload
// (heartbeat re-reads ha.cf on SIGHUP); zero fields get their defaults as
// in Config.
type Timers struct {
	Keepalive, Deadtime, Warntime, Initdead, Deadping time.Duration
}

// SetTimers switches to t, checked as New checks them; on error nothing
// changes. The next status goes out at most one new keepalive from now,
// and the peer learns the new deadtime from it.
func (m *Machine) SetTimers(t Timers, now time.Time) ([]Action, error) {
	c := m.cfg
	c.Keepalive, c.Deadtime, c.Warntime, c.Initdead, c.Deadping = t.Keepalive, t.Deadtime, t.Warntime, t.Initdead, t.Deadping
	if err := c.fill(); err != nil {
		return nil, err
	}
	m.begin(now)
	old := m.cfg
	m.cfg = c
	if next := m.now.Add(c.Keepalive); m.started && next.Before(m.nextStatus) {
		m.nextStatus = next
	}
	if old.Keepalive != c.Keepalive || old.Deadtime != c.Deadtime || old.Warntime != c.Warntime ||
		old.Initdead != c.Initdead || old.Deadping != c.Deadping {
		m.logf(Info, "timers now keepalive %v, deadtime %v, warntime %v, initdead %v, deadping %v",
			c.Keepalive, c.Deadtime, c.Warntime, c.Initdead, c.Deadping)
	}
	return m.flush(), nil
}
