package cluster

import "time"

// The nice_failback resource protocol (hb_resource.c): start-up, the
// resource messages, takeover from a dead or departing node, and the timers.
// The work queue is in jobs.go, shutdown in shutdown.go, standby in
// standby.go, split-brain repair in splitbrain.go, auto_failback legacy in
// legacy.go.

// rset is heartbeat's i_hold_resources bit set, always from the point of
// view of the node that speaks: local = groups whose preferred node it is.
type rset uint8

const (
	rscNone    rset = 0
	rscLocal   rset = 1
	rscForeign rset = 2
	rscAll     rset = 3
)

var rsetNames = [...]string{"none", "local", "foreign", "all"}

func (r rset) String() string { return rsetNames[r&rscAll] }

func parseRset(s string) (rset, bool) {
	for i, n := range rsetNames {
		if n == s {
			return rset(i), true
		}
	}
	return rscNone, false
}

type rstate int

const (
	rInit         rstate = iota // comm not up yet
	rStarting                   // sent "starting"
	rBothStarting               // both sent "starting"
	rRscRcvd                    // a resource message seen; RQSTDELAY runs
	rStable                     // initial acquisition done
	rShutdown                   // giving everything up
)

const (
	rqstDelay        = 10 * time.Second // RQSTDELAY
	standbyReplyTO   = 10 * time.Second // STANDBY_INIT_TO_MS
	standbyTO        = time.Hour        // HB_STANDBY_RSC_TO_MS
	autoFailbackWait = time.Second
	failStartStandby = 30 * time.Second // ResourceManager: hb_standby after a failed start
)

type standbyState int

const (
	sbNot standbyState = iota
	sbMe
	sbOther
	sbDone
)

type resources struct {
	state       rstate
	hold        rset // what we claim
	otherHolds  rset // what the other node claims (its point of view)
	otherStable bool

	takeoverInProgress bool
	needsFailback      bool
	localTakeoverAt    time.Time

	standby         standbyState
	standbyType     rset
	standbyDeadline time.Time
	autoFailbackAt  time.Time

	failStandbyAt    time.Time
	failStandbyWhich rset

	shutdown     bool // shutdown requested (heartbeat: shutdown_in_progress)
	givingUp     bool // resources being released for shutdown
	delayedNoted bool

	// Connection sync (settle.go).
	syncSettled    bool
	legacyDeferred bool // ip-requests not sent yet

	conflictLocal bool // split brain: the other node claims our local groups
	sentHeld      bool // a resource message went out for the current input

	owned    map[string]bool
	jobs     []*job
	inflight *job
	nextOp   int
	retry    *job // a release that failed, tried again at retryAt
	retryAt  time.Time
}

func (r *resources) init() { r.owned = map[string]bool{} }

func (m *Machine) nice() bool { return m.cfg.AutoFailback != FailbackLegacy }

// isStable is hb_rsc_isstable: nothing in flight on either side.
func (m *Machine) isStable() bool {
	r := &m.rs
	if !m.nice() {
		return !m.busy()
	}
	if r.shutdown && r.state == rInit {
		return true
	}
	return r.otherStable && !r.takeoverInProgress && r.standby == sbNot &&
		r.standbyDeadline.IsZero() && !m.busy() &&
		(r.state == rStable || r.state == rShutdown || r.state == rInit)
}

// --- messages ---

// sendResourcesHeld sends "resource rsc_hold=<ours> rtype=full isstable=<0|1>".
func (m *Machine) sendResourcesHeld(stable bool, comment string) {
	if !m.nice() {
		return
	}
	st := "0"
	if stable && m.rs.syncSettled { // settle.go: "in flux" until the sync has settled
		st = "1"
	}
	msg := newMsg("resource", "rsc_hold", m.rs.hold.String(), "rtype", "full", "isstable", st)
	if comment != "" {
		msg.Fields["info"] = comment
	}
	m.send(msg)
	m.rs.sentHeld = true
	m.afterOwnResourceMsg()
}

// afterOwnResourceMsg: heartbeat receives its own resource messages; while
// starting, any resource message moves it to RSCRCVD and arms RQSTDELAY.
func (m *Machine) afterOwnResourceMsg() {
	r := &m.rs
	if r.state == rStarting || r.state == rBothStarting {
		r.state = rRscRcvd
	}
	if r.state == rRscRcvd && r.localTakeoverAt.IsZero() {
		r.localTakeoverAt = m.now.Add(rqstDelay)
	}
}

func (m *Machine) onCommUp() {
	if m.nice() {
		m.send(newMsg("starting"))
		m.rs.state = rStarting
		return
	}
	m.legacyReqOurResources()
}

func (m *Machine) resourceMsg(p *peer, msg Msg) {
	switch msg.Type {
	case "shutdone":
		m.onShutdone(p)
	case "hb_takeover":
		m.onHBTakeover(msg)
	case "ip-request":
		if !m.nice() {
			m.onIPRequest(p, msg)
		}
	case "ip-request-resp":
		if !m.nice() {
			m.onIPRequestResp(msg)
		}
	case "ask_resources":
		m.askForResources(msg, false)
	case "starting":
		if m.nice() {
			m.onStarting()
		}
	case "resource":
		if m.nice() {
			m.onResource(p, msg)
		}
	}
}

// onStarting: the other node asks what we hold.
func (m *Machine) onStarting() {
	r := &m.rs
	switch r.state {
	case rRscRcvd, rStable, rShutdown:
	case rStarting:
		r.state = rBothStarting
	default:
		m.logf(Error, "unexpected starting message (resource state %d)", r.state)
		return
	}
	r.otherStable = false
	if r.takeoverInProgress {
		m.logf(Warn, "starting message during a takeover")
	}
	m.sendResourcesHeld(r.state == rStable, "")
}

// onResource: the other node tells what it holds and whether it is stable.
func (m *Machine) onResource(p *peer, msg Msg) {
	r := &m.rs
	if !msg.has("rsc_hold") {
		m.logf(Error, "resource message from %s without rsc_hold, ignored", p.name)
		return
	}
	n, ok := parseRset(msg.Get("rsc_hold"))
	if !ok {
		m.logf(Error, "bad rsc_hold [%s] from %s", msg.Get("rsc_hold"), p.name)
	}
	old := r.state
	next := old
	switch old {
	case rStarting, rBothStarting:
		next = rRscRcvd
	case rRscRcvd, rStable, rShutdown:
	default:
		m.logf(Error, "unexpected resource message (resource state %d)", old)
		return
	}
	switch {
	case msg.Get("rtype") == "full", n == rscNone:
		r.otherHolds = n
	default:
		r.otherHolds |= n
	}
	r.sentHeld = false
	informed, reply := false, false
	stable, hasStable := msg.Fields["isstable"]
	if hasStable && stable == "1" {
		informed, reply = m.auditSplitBrain(p)
	}
	if hasStable {
		if stable == "1" {
			if !r.otherStable {
				m.logf(Info, "the other node is stable")
				r.otherStable = true
				if !informed {
					m.sendResourcesHeld(old == rStable, "")
				}
				m.performAutoFailback()
			}
		} else {
			r.otherStable = false
		}
	}
	if old != rStable && old != rShutdown && r.otherStable {
		m.logf(Info, "the other node is stable")
		m.reqOurResources(false)
		next = rStable
		m.sendResourcesHeld(true, "")
		m.performAutoFailback()
	}
	r.state = next
	if r.state == rRscRcvd && r.localTakeoverAt.IsZero() {
		r.localTakeoverAt = m.now.Add(rqstDelay)
	}
	if reply && !r.sentHeld {
		m.sendResourcesHeld(r.state == rStable, "")
	}
}

// reqOurResources takes our local groups, unless someone has them already.
func (m *Machine) reqOurResources(anyway bool) {
	r := &m.rs
	if !m.nice() {
		m.legacyReqOurResources()
		return
	}
	if r.shutdown {
		return
	}
	if (r.otherHolds&rscForeign != 0 || r.hold&rscLocal != 0) && !anyway && r.standby == sbNot {
		m.logf(Info, "Local Resource acquisition completed. (none)")
		return
	}
	r.hold |= rscLocal
	keys := m.keysOf(m.cfg.Node)
	m.enqueue(false, keys, func(_, _ []string) {
		if len(keys) == 0 {
			m.logf(Info, "no local groups to acquire")
		} else {
			m.logf(Info, "Local Resource acquisition completed.")
		}
		m.sendResourcesHeld(true, "req_our_resources()")
	})
}

// recoverDeadResources: node p was declared dead (hb_rsc_recover_dead_resources).
func (m *Machine) recoverDeadResources(p *peer) {
	r := &m.rs
	m.syncPeerGone()
	if r.standby != sbNot {
		m.logf(Info, "standby cancelled: %s died", p.name)
		r.standby = sbNot
		r.standbyDeadline = time.Time{}
		if !r.otherStable && r.hold == rscAll {
			r.otherStable = true
		}
	}
	if r.shutdown {
		if r.state != rStable && r.state != rShutdown {
			m.giveupResources()
		}
		return
	}
	r.needsFailback = true
	needStonith := true
	if p.anyPackets {
		if m.nice() {
			needStonith = r.otherHolds != rscNone
		} else {
			needStonith = p.hasResources
		}
	}
	if needStonith {
		// No STONITH device can be configured here.
		m.sendStonith(p.name, "n_stnth")
		m.logf(Warn, "%s may still hold its groups; no STONITH device: taking over without fencing", p.name)
		m.takeoverFromNode(p)
		return
	}
	m.logf(Info, "%s held nothing when it died: no fencing needed", p.name)
	m.sendStonith(p.name, "unneeded")
	if !m.nice() {
		m.takeoverFromNode(p)
		return
	}
	if r.hold == rscAll {
		r.otherStable = true
		return
	}
	if r.hold&rscLocal == 0 {
		m.reqOurResources(true)
	}
	if r.hold&rscForeign == 0 {
		m.takeoverFromNode(p)
	}
}

func (m *Machine) sendStonith(node, result string) {
	m.send(newMsg("stonith", "node", node, "result", result))
}

// takeoverFromNode is mach_down: take the groups whose preferred node is p,
// and our own.
func (m *Machine) takeoverFromNode(p *peer) {
	r := &m.rs
	if r.shutdown {
		m.logf(Info, "not taking over from %s: shutting down", p.name)
		return
	}
	m.logf(Info, "taking over the groups of %s", p.name)
	if m.nice() {
		// Set before enqueue: a job with nothing to do runs its callback
		// at once, and the callback ends the takeover.
		r.hold |= rscForeign
		r.otherHolds = rscNone
		r.otherStable = true
		r.takeoverInProgress = true
	}
	name := p.name
	m.enqueue(false, m.keysOf(name), func(_, _ []string) {
		m.logf(Info, "took over the groups of %s", name)
		if !m.nice() {
			return
		}
		m.send(newMsg("resource", "rsc_hold", "foreign", "info", "mach_down"))
		r.takeoverInProgress = false
		r.hold |= rscForeign
		r.needsFailback = true
		r.otherStable = true
		m.afterOwnResourceMsg()
	})
	m.reqOurResources(true)
	p.anyPackets = true
}

// onShutdone: the other node released everything and is stopping; take over
// at once instead of waiting for its dead time.
func (m *Machine) onShutdone(p *peer) {
	r := &m.rs
	p.hasResources = false
	m.syncPeerGone()
	m.logf(Info, "%s shut down gracefully: taking over now", p.name)
	if m.nice() {
		r.otherStable = true
		r.otherHolds = rscNone
	}
	if r.shutdown {
		return
	}
	m.takeoverFromNode(p)
}

// resourceTick runs the protocol's timers.
func (m *Machine) resourceTick() {
	r := &m.rs
	if m.nice() && r.state == rRscRcvd && !r.localTakeoverAt.IsZero() && m.now.After(r.localTakeoverAt) {
		r.state = rStable
		m.reqOurResources(false)
		m.logf(Info, "no stable answer within RQSTDELAY: taking unclaimed local groups")
		m.sendResourcesHeld(true, "")
	}
	if !r.standbyDeadline.IsZero() && !m.now.Before(r.standbyDeadline) {
		r.standbyDeadline = time.Time{}
		r.otherStable = true
		r.standby = sbNot
		m.logf(Warn, "standby: no answer in time, request cancelled")
	}
	if !r.autoFailbackAt.IsZero() && !m.now.Before(r.autoFailbackAt) {
		r.autoFailbackAt = time.Time{}
		m.performAutoFailback()
	}
	if !r.failStandbyAt.IsZero() && !m.now.Before(r.failStandbyAt) {
		r.failStandbyAt = time.Time{}
		m.requestStandby(r.failStandbyWhich.String())
	}
	m.retryIfDue()
	m.shutdownIfNeeded()
}
