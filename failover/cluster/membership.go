package cluster

import (
	"strconv"
	"time"
)

// Membership: our status messages, the peers' dead timers, links, comm up
// and ping nodes (heartbeat.c: send_local_status, check_for_timeouts,
// check_comm_isup, HBDoMsg_T_STATUS, mark_node_dead).

// Heartbeat adds 2 s to its advertised dead time for the first 5 s after
// start (hb_add_deadtime(2000) popped by a 5 s timer), which is why a
// starting heartbeat with deadtime 10 advertises dt=2ee0 for ~5 packets.
const (
	startupDeadtimePad = 2 * time.Second
	startupPadFor      = 5 * time.Second
)

// maxPeerDeadtime bounds the dead time a peer may advertise (dt): twice
// ours, and at least ours plus heartbeat's start-up pad. heartbeat takes
// any dt, so one forged status with dt=ffffffff kept a silent peer "active"
// for 49 days; a genuine peer with a longer deadtime than ours is declared
// dead a little early, never late.
func (m *Machine) maxPeerDeadtime() time.Duration {
	return max(2*m.cfg.Deadtime, m.cfg.Deadtime+startupDeadtimePad)
}

type peer struct {
	name   string
	status string // init, up, active (as announced) or dead

	lastStatus  time.Time     // local arrival time of its last status
	heardStatus bool          // lastStatus is from a real status message
	statusSeq   uint64        // seq of that status
	deadtime    time.Duration // its advertised dt, clamped; 0 = ours
	advertised  uint64        // its dt as sent, in ms (to log a clamp once)

	anyPackets   bool // heard from since start / since declared dead
	hasResources bool // legacy mode's STONITH decision (cleared by shutdone)

	links map[string]*link
	track seqTrack // seq.go
}

type link struct {
	last time.Time
	up   bool
	dead bool // reported dead (a never-heard link is neither)
}

type pingNode struct {
	name   string
	status string // init, ping, dead
	last   time.Time
}

func (m *Machine) advertisedDeadtime() time.Duration {
	if m.now.Sub(m.startedAt) < startupPadFor {
		return m.cfg.Deadtime + startupDeadtimePad
	}
	return m.cfg.Deadtime
}

// sendStatus sends our status: st and dt (hex ms). No "protocol" field, so
// heartbeat peers disable flow control (no NS_ackmsg, no reqnodes).
func (m *Machine) sendStatus() {
	dt := strconv.FormatInt(m.advertisedDeadtime().Milliseconds(), 16)
	m.send(newMsg("status", "st", m.status, "dt", dt))
}

// deadtimeOf is how long p may stay silent: initdead until comm is up, then
// its advertised dt (or our deadtime).
func (m *Machine) deadtimeOf(p *peer) time.Duration {
	if !m.commUp {
		return m.cfg.Initdead
	}
	if p.deadtime > 0 {
		return p.deadtime
	}
	return m.cfg.Deadtime
}

func (m *Machine) checkTimeouts() {
	for _, name := range m.order {
		p := m.peers[name]
		dt := m.deadtimeOf(p)
		if p.status != stDead && m.now.Sub(p.lastStatus) > dt {
			m.markDead(p)
		}
		for _, ln := range sortedKeys(p.links) {
			l := p.links[ln]
			if !l.dead && m.now.Sub(l.last) > dt {
				l.up, l.dead = false, true
				m.logf(Info, "Link %s:%s dead.", p.name, ln)
				m.emit(LinkState{Node: p.name, Link: ln, Up: false})
				m.ipfailLinkDead()
			}
		}
	}
	dp := m.cfg.Deadping
	if !m.commUp {
		dp = m.cfg.Initdead
	}
	for _, pn := range m.pings {
		if pn.status != stDead && m.now.Sub(pn.last) > dp {
			m.pingDead(pn)
		}
	}
}

func (m *Machine) markDead(p *peer) {
	m.logf(Warn, "node %s: is dead", p.name)
	p.status = stDead
	m.emit(NodeState{Node: p.name, State: stDead})
	m.recoverDeadResources(p)
	p.anyPackets = false
	p.heardStatus = false
	p.track.dead()
}

// checkCommUp: communications are up once every node was heard from or
// declared dead; our status becomes active and the resource protocol starts.
func (m *Machine) checkCommUp() {
	if m.commUp {
		return
	}
	for _, name := range m.order {
		p := m.peers[name]
		if !p.anyPackets && p.status != stDead {
			return
		}
	}
	m.commUp = true
	m.logf(Info, "Comm_now_up(): updating status to active")
	m.status = stActive
	m.sendStatus()
	m.onCommUp()
}

func (m *Machine) touchLink(p *peer, name string) {
	if name == "" {
		return
	}
	l := p.links[name]
	if l == nil {
		l = &link{}
		p.links[name] = l
	}
	l.last = m.now
	if !l.up {
		l.up, l.dead = true, false
		m.logf(Info, "Link %s:%s up.", p.name, name)
		m.emit(LinkState{Node: p.name, Link: name, Up: true})
	}
}

func (m *Machine) onStatus(p *peer, msg Msg) {
	st := msg.Get("st")
	if st == "" {
		m.logLimited("no st "+p.name, Error, "status from %s without st, ignored", p.name)
		return
	}
	if msg.Seq < p.statusSeq {
		return // an older status than the one we have
	}
	if st == stDead {
		// heartbeat's rc.d/status runs mach_down for st=dead
		m.markDead(p)
		return
	}
	if p.heardStatus {
		iv := m.now.Sub(p.lastStatus)
		switch {
		case iv > m.cfg.Deadtime:
			m.logf(Crit, "late status from %s: %d ms after the previous one, more than deadtime", p.name, iv.Milliseconds())
		case iv > m.cfg.Warntime:
			m.logf(Warn, "late status from %s: %d ms after the previous one", p.name, iv.Milliseconds())
		}
	}
	if st != p.status {
		m.logf(Info, "node %s: status %s", p.name, st)
		p.status = st
		m.emit(NodeState{Node: p.name, State: st})
	}
	if dt := msg.Get("dt"); dt != "" {
		if ms, err := strconv.ParseUint(dt, 16, 32); err == nil && ms > 0 {
			d, bound := time.Duration(ms)*time.Millisecond, m.maxPeerDeadtime()
			if d > bound {
				if ms != p.advertised {
					m.logf(Warn, "node %s advertises a dead time of %d ms; using %d ms (at most twice ours)", p.name, ms, bound.Milliseconds())
				}
				d = bound
			}
			p.deadtime, p.advertised = d, ms
		}
	}
	p.lastStatus = m.now
	p.heardStatus = true
	p.statusSeq = msg.Seq
}

func (m *Machine) dispatch(p *peer, msg Msg) {
	switch msg.Type {
	case "NS_rexmit":
		m.answerRexmit(p, msg)
	case "reqnodes":
		m.answerReqnodes(p)
	case "starting", "resource", "ask_resources", "hb_takeover", "shutdone",
		"ip-request", "ip-request-resp":
		if m.commUp {
			m.resourceMsg(p, msg)
		}
	case "stonith":
		m.logf(Info, "node %s reports STONITH of %s: %s", p.name, msg.Get("node"), msg.Get("result"))
	case "num_ping_nodes", "you_are_dead", "abort_giveup":
		m.ipfailMsg(p, msg)
	}
}

// answerReqnodes answers a flow-control heartbeat's node-list request (sent
// only if it saw a "protocol" field, which we never send; harmless to answer).
func (m *Machine) answerReqnodes(p *peer) {
	list := ""
	for _, n := range m.cfg.Nodes {
		list += n + " "
	}
	r := newMsg("repnodes", "nodelist", list, "delnodelist", " ")
	r.Dest = p.name
	m.send(r)
}

// otherNode is the peer of a two-node cluster (nil if there is none).
func (m *Machine) otherNode() *peer {
	if len(m.order) == 0 {
		return nil
	}
	return m.peers[m.order[0]]
}

func (m *Machine) alive(p *peer) bool {
	return p != nil && (p.status == stUp || p.status == stActive)
}

// --- ping nodes ---

func (m *Machine) pingReport(name string, up bool) {
	var pn *pingNode
	for _, x := range m.pings {
		if x.name == name {
			pn = x
		}
	}
	if pn == nil {
		m.logf(Error, "unknown ping node %s", name)
		return
	}
	if !up {
		if pn.status != stDead {
			m.pingDead(pn)
		}
		return
	}
	pn.last = m.now
	if pn.status != stPing {
		pn.status = stPing
		m.logf(Info, "ping node %s: reachable", pn.name)
		m.emit(NodeState{Node: pn.name, State: stPing})
		m.ipfailPingUp()
	}
}

func (m *Machine) pingDead(pn *pingNode) {
	m.logf(Warn, "node %s: is dead", pn.name)
	pn.status = stDead
	m.emit(NodeState{Node: pn.name, State: stDead})
	m.ipfailPingDead()
}

func (m *Machine) pingsUp() int {
	n := 0
	for _, pn := range m.pings {
		if pn.status == stPing {
			n++
		}
	}
	return n
}
