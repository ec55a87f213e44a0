package cluster

import "time"

// Standby: the three-phase ask_resources handshake (me → other → done →
// done) used by hb_standby, hb_takeover and auto_failback
// (hb_resource.c ask_for_resources, go_standby, PerformAutoFailback).

// standbyArg maps an hb_standby argument to the set to give up.
func standbyArg(which string) (rset, bool) {
	switch which {
	case "", "all":
		return rscAll, true
	case "local":
		return rscLocal, true
	case "foreign", "failback":
		return rscForeign, true
	}
	return rscNone, false
}

// requestStandby is hb_standby: ask to give our groups of a kind away.
// Heartbeat broadcasts the request before checking it; we check first, so
// a request we would ignore ourselves does not leave the other node waiting
// in "other" for an hour.
func (m *Machine) requestStandby(which string) {
	rt, ok := standbyArg(which)
	if !ok {
		m.logf(Error, "usage: hb_standby [all|foreign|local|failback], not %q", which)
		return
	}
	if !m.nice() {
		m.logf(Info, "standby needs auto_failback on or off, not legacy")
		return
	}
	r := &m.rs
	var why string
	switch {
	case r.shutdown || r.state == rShutdown:
		why = "shutdown in progress"
	case r.standby != sbNot || !r.standbyDeadline.IsZero():
		why = "Standby in progress"
	case !m.alive(m.otherNode()):
		why = "no other node to take the resources"
	case !r.otherStable:
		why = "Other side is in flux."
	case r.state != rStable:
		why = "local resources in flux."
	}
	if why != "" {
		m.logf(Warn, "standby request [%s] ignored: %s", rt, why)
		return
	}
	m.logf(Info, "standby: asking to hand over [%s] groups", rt)
	m.sendAsk(rt, "me")
}

// requestTakeover is hb_takeover: ask the other node to go standby. The
// other side maps all→all, local→foreign, foreign→local. "failback" is sent
// as "local" (give me back the groups I prefer): heartbeat's rc.d script
// has no case for "failback" and would make the other node give up all.
func (m *Machine) requestTakeover(which string) {
	switch which {
	case "":
		which = "all"
	case "failback":
		which = "local"
	case "all", "local", "foreign":
	default:
		m.logf(Error, "usage: hb_takeover [all|foreign|local|failback], not %q", which)
		return
	}
	if !m.nice() {
		m.logf(Info, "standby needs auto_failback on or off, not legacy")
		return
	}
	if !m.alive(m.otherNode()) {
		m.logf(Warn, "takeover request [%s] ignored: no other node alive", which)
		return
	}
	m.logf(Info, "Asking the other node to give up [%s] resources.", which)
	m.send(newMsg("hb_takeover", "rsc_hold", which))
}

// onHBTakeover: the other node ran hb_takeover; we go standby for the
// mirrored kind.
func (m *Machine) onHBTakeover(msg Msg) {
	switch msg.Get("rsc_hold") {
	case "local", "failback":
		m.requestStandby("foreign")
	case "foreign":
		m.requestStandby("local")
	default:
		m.requestStandby("all")
	}
}

// sendAsk sends ask_resources and, like heartbeat, processes it ourselves.
func (m *Machine) sendAsk(rt rset, info string) {
	msg := newMsg("ask_resources", "rsc_hold", rt.String(), "info", info)
	m.send(msg)
	msg.Src = m.cfg.Node
	m.askForResources(msg, true)
}

// askForResources is one step of the handshake; fromMe for our own messages.
func (m *Machine) askForResources(msg Msg, fromMe bool) {
	r := &m.rs
	if !m.nice() {
		m.logf(Info, "standby needs auto_failback on or off, not legacy")
		return
	}
	if r.state == rShutdown {
		return
	}
	info, from := msg.Get("info"), msg.Src
	rt := rscAll
	if msg.has("rsc_hold") {
		rt, _ = parseRset(msg.Get("rsc_hold"))
	}
	if info == "" || from == "" {
		m.logf(Error, "ask_resources without info or src, ignored")
		return
	}
	if !r.standbyDeadline.IsZero() && m.now.Before(r.standbyDeadline) && info == "me" {
		left := (r.standbyDeadline.Sub(m.now) + time.Second - 1) / time.Second
		m.logf(Warn, "standby: request from %s ignored, one is in progress (%d s left)", from, left)
		return
	}
	orig := r.standby
	ignored := false
	switch r.standby {
	case sbNot:
		if !r.otherStable {
			m.logf(Warn, "standby: %s from %s ignored, the other node is in flux", info, from)
			return
		}
		if r.state != rStable {
			m.logf(Warn, "standby: %s from %s ignored, our resources are in flux", info, from)
			return
		}
		r.standbyType = rt
		if info != "me" {
			ignored = true
			break
		}
		r.otherStable = false
		m.logf(Info, "%s wants to go standby [%s]", from, rt)
		if fromMe {
			r.standbyDeadline = m.now.Add(standbyReplyTO)
			r.standby = sbMe
		} else {
			r.standby = sbOther
			m.sendAsk(r.standbyType, "other")
			r.standbyDeadline = m.now.Add(standbyTO)
		}
	case sbMe:
		switch {
		case !fromMe && info == "other":
			r.standbyType = rt
			r.standbyDeadline = m.now.Add(standbyTO)
			m.logf(Info, "standby: %s can take our %s resources", from, rt)
			m.goStandby(true, rt)
		case fromMe && info == "done":
			m.logf(Info, "Local standby process completed [%s].", rt)
			r.standby = sbDone
			r.hold &^= r.standbyType
			r.standbyDeadline = m.now.Add(standbyTO)
		default:
			ignored = true
		}
	case sbOther:
		r.standbyType = rt
		switch {
		case info == "done" && !fromMe:
			r.standbyDeadline = m.now.Add(standbyTO)
			m.logf(Info, "standby: taking [%s] groups from %s", rt, from)
			r.standby = sbDone
			m.goStandby(false, r.standbyType)
		case info == "done", !fromMe || info != "other":
			ignored = true
		}
	case sbDone:
		r.standbyType = rt
		if info != "done" {
			ignored = true
			break
		}
		r.standbyDeadline = time.Time{}
		r.standby = sbNot
		if fromMe {
			m.logf(Info, "standby: took over [%s] groups", rt)
			r.hold |= mirror(rt)
		} else {
			m.logf(Info, "Other node completed standby takeover of %s resources.", rt)
		}
		m.sendResourcesHeld(true, "")
	}
	if ignored {
		m.logf(Error, "standby: unexpected %s from %s (standby state %d), ignored", info, from, orig)
	}
}

// mirror turns the other node's set into ours (its local is our foreign).
func mirror(s rset) rset {
	switch s {
	case rscLocal:
		return rscForeign
	case rscForeign:
		return rscLocal
	}
	return s
}

// goStandby gives up (me) or acquires (!me) the groups of a standby of set
// s, s being from the point of view of the node going standby; then says
// "done".
func (m *Machine) goStandby(me bool, s rset) {
	r := &m.rs
	act := s
	if me {
		r.otherStable = false
		r.hold &^= s
		m.sendResourcesHeld(false, "standby")
	} else {
		act = mirror(s)
	}
	keys := m.keysFor(act)
	verb := "acquire"
	if me {
		verb = "give up"
	}
	m.logf(Info, "standby: %s %s groups", verb, act)
	m.enqueue(me, keys, func(_, _ []string) {
		what := "acquisition"
		if me {
			what = "release"
		}
		m.logf(Info, "standby: %s groups %s done", act, what)
		m.sendAsk(r.standbyType, "done")
	})
}

// performAutoFailback: with auto_failback on, the node holding the other's
// groups hands them back once both sides are stable.
func (m *Machine) performAutoFailback() {
	r := &m.rs
	if r.shutdown || r.hold&rscForeign == 0 || !r.needsFailback || m.cfg.AutoFailback != FailbackOn {
		r.needsFailback = false
		return
	}
	if r.standby != sbNot || !r.otherStable || r.state != rStable {
		m.logf(Debug, "auto_failback: waiting until both sides are stable")
		r.autoFailbackAt = m.now.Add(autoFailbackWait)
		return
	}
	m.logf(Info, "auto_failback: handing the foreign groups back")
	r.needsFailback = false
	m.sendAsk(rscForeign, "me")
}
