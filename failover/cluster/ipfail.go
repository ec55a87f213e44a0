package cluster

import (
	"strconv"
	"time"
)

// ipfail: when a node sees fewer ping nodes than its peer it hands its
// groups over with a standby. The messages are those of heartbeat's ipfail
// client, so a heartbeat peer running ipfail understands them:
//
//	num_ping_nodes num_ping=<n> dest=<peer>   "how many do you see? I see n"
//	you_are_dead dest=<peer>                  "I see more: give up"
//	abort_giveup dest=<peer>                  "balanced: cancel your giveup"
//
// The node seeing fewer gives up all groups after 2*keepalive (standby all);
// when counts are balanced again, a node holding the other's groups with
// auto_failback on gives them back (standby foreign). ipfail asks on a link
// death and when a ping node comes up; we also ask when a ping node dies,
// so losing the uplink alone (heartbeat on another wire) is enough.

type ipfailState struct {
	giveupAt    time.Time
	giveupWhich rset
	needStandby bool
}

func (m *Machine) ipfailOn() bool {
	return m.cfg.IPFail && len(m.pings) > 0 && m.nice() && m.commUp
}

func (m *Machine) askPingNodes() {
	p := m.otherNode()
	if !m.ipfailOn() || !m.alive(p) {
		return
	}
	m.logf(Info, "ipfail: comparing ping node counts with %s", p.name)
	q := newMsg("num_ping_nodes", "num_ping", strconv.Itoa(m.pingsUp()))
	q.Dest = p.name
	m.send(q)
}

func (m *Machine) ipfailPingUp() {
	if m.ipfailOn() {
		m.logf(Info, "ipfail: a ping node is reachable again")
		m.askPingNodes()
	}
}

func (m *Machine) ipfailPingDead() { m.askPingNodes() }
func (m *Machine) ipfailLinkDead() { m.askPingNodes() }

func (m *Machine) ipfailMsg(p *peer, msg Msg) {
	if !m.ipfailOn() {
		return
	}
	switch msg.Type {
	case "num_ping_nodes":
		theirs, err := strconv.Atoi(msg.Get("num_ping"))
		if err != nil {
			m.logf(Error, "bad num_ping from %s: %q", p.name, msg.Get("num_ping"))
			return
		}
		mine := m.pingsUp()
		switch {
		case mine > theirs:
			m.logf(Info, "ipfail: we see more ping nodes than %s", p.name)
			r := newMsg("you_are_dead")
			r.Dest = p.name
			m.send(r)
		case mine < theirs:
			m.logf(Info, "ipfail: we see fewer ping nodes (%d) than %s (%d)", mine, p.name, theirs)
			m.delayGiveup(rscAll)
		default:
			m.logf(Info, "ipfail: ping node counts are equal")
			r := newMsg("abort_giveup")
			r.Dest = p.name
			m.send(r)
			if !m.ipf.giveupAt.IsZero() {
				m.abortGiveup()
			} else if m.cfg.AutoFailback == FailbackOn && m.isStable() && m.rs.hold&rscForeign != 0 {
				m.logf(Info, "ipfail: ping counts equal again, returning the foreign groups")
				m.delayGiveup(rscForeign)
			}
		}
	case "you_are_dead":
		m.logf(Info, "ipfail: %s sees more ping nodes than we do", p.name)
		m.delayGiveup(rscAll)
	case "abort_giveup":
		m.abortGiveup()
	}
}

func (m *Machine) delayGiveup(which rset) {
	d := 2 * m.cfg.Keepalive
	m.logf(Info, "ipfail: handing over [%s] groups in %d ms", which, d.Milliseconds())
	m.ipf.giveupAt = m.now.Add(d)
	m.ipf.giveupWhich = which
}

func (m *Machine) abortGiveup() {
	if m.ipf.giveupAt.IsZero() {
		m.logf(Info, "ipfail: no pending hand-over to cancel")
		return
	}
	m.logf(Info, "ipfail: pending hand-over cancelled")
	m.ipf.giveupAt = time.Time{}
}

func (m *Machine) ipfailTick() {
	f := &m.ipf
	if !f.giveupAt.IsZero() && !m.now.Before(f.giveupAt) {
		f.giveupAt = time.Time{}
		if m.isStable() {
			m.logf(Info, "ipfail: handing over [%s] groups now", f.giveupWhich)
			f.needStandby = false
			m.requestStandby(f.giveupWhich.String())
		} else {
			f.needStandby = true // ask again once things settle
		}
	}
	if f.needStandby && m.isStable() {
		f.needStandby = false
		m.askPingNodes()
	}
}
