package cluster

// auto_failback legacy: the ip-request protocol. At comm up every node asks
// the current holder of each of its groups to give it back (ip-request
// ipaddr=<group key>); the holder releases it and answers ip-request-resp
// dest=<asker> weown=yes|no ok=OK; the asker then takes it. A node alone
// takes its groups directly. No resource/standby messages exist here.

func (m *Machine) legacyReqOurResources() {
	if m.rs.shutdown {
		return
	}
	up := 1 // us
	for _, name := range m.order {
		if m.peers[name].status == stActive {
			up++
		}
	}
	for _, key := range m.keysOf(m.cfg.Node) {
		if m.rs.owned[key] {
			continue
		}
		if up >= 2 && !m.rs.syncSettled {
			// Connection sync not settled: ask later (settle.go).
			if !m.rs.legacyDeferred {
				m.logf(Info, "legacy: not asking for group %s back until the connection sync has settled", key)
			}
			m.rs.legacyDeferred = true
			continue
		}
		if up < 2 {
			m.enqueue(false, []string{key}, nil)
			continue
		}
		m.send(newMsg("ip-request", "ipaddr", key))
	}
}

func (m *Machine) isGroup(key string) bool {
	for _, g := range m.cfg.Groups {
		if g.Key == key {
			return true
		}
	}
	return false
}

// onIPRequest: give the group up if we have it, then answer.
func (m *Machine) onIPRequest(p *peer, msg Msg) {
	key := msg.Get("ipaddr")
	if !m.isGroup(key) {
		m.logf(Error, "ip-request from %s for unknown group [%s]", p.name, key)
		return
	}
	to := p.name
	m.enqueue(true, []string{key}, func(acted, _ []string) {
		weown := "no"
		if len(acted) > 0 {
			weown = "yes"
		}
		r := newMsg("ip-request-resp", "ipaddr", key, "weown", weown, "ok", "OK")
		r.Dest = to
		m.send(r)
	})
}

// onIPRequestResp: the holder let our group go; take it.
func (m *Machine) onIPRequestResp(msg Msg) {
	key := msg.Get("ipaddr")
	if msg.Dest != m.cfg.Node || !m.isGroup(key) || m.rs.shutdown {
		return
	}
	m.logf(Info, "legacy: group %s released for us (ok=%s weown=%s)", key, msg.Get("ok"), msg.Get("weown"))
	if msg.Get("ok") == "OK" {
		m.enqueue(false, []string{key}, nil)
	}
}
