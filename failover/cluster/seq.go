package cluster

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Sequence numbers, generations and retransmission: heartbeat.c
// should_drop_message, process_rexmit, nak_rexmit and hb_rexmit.c.

const (
	maxMsgHist      = 500                    // MAXMSGHIST
	maxLost         = maxMsgHist / 2         // FLOWCONTROL_LIMIT: bigger gaps reset tracking
	rexmitFirst     = 50 * time.Millisecond  // wait for reordering before asking
	rexmitEvery     = 250 * time.Millisecond // max_rexmit_delay: ask again
	rexmitMinGap    = rexmitEvery - 10*time.Millisecond
	maxRexmitBatch  = 50
	maxMissingTrack = maxLost
)

// --- outbound: our seq numbers and the history that answers NS_rexmit ---

type histEntry struct {
	msg        Msg
	lastRexmit time.Time
}

type outbound struct {
	seq  uint64 // last used
	size int
	ring []histEntry // ring[seq % size]
	low  uint64      // highest seq that fell out of the history
}

func (o *outbound) init(size int) {
	o.size = size
	o.ring = make([]histEntry, size)
}

func (o *outbound) add(msg Msg) {
	slot := &o.ring[msg.Seq%uint64(o.size)]
	if slot.msg.Seq != 0 {
		o.low = slot.msg.Seq
	}
	*slot = histEntry{msg: msg}
}

func (o *outbound) get(seq uint64) *histEntry {
	e := &o.ring[seq%uint64(o.size)]
	if e.msg.Seq != seq {
		return nil
	}
	return e
}

// send stamps and emits a message. Every type except NS_* gets the next
// sequence number and is kept for retransmission.
func (m *Machine) send(msg Msg) {
	msg.Src = m.cfg.Node
	msg.Gen = m.cfg.Generation
	msg.Fields = maps.Clone(msg.Fields)
	if !strings.HasPrefix(msg.Type, "NS_") {
		m.tx.seq++
		msg.Seq = m.tx.seq
		stored := msg
		stored.Fields = maps.Clone(msg.Fields)
		m.tx.add(stored)
	}
	m.emit(Send{Msg: msg})
}

// answerRexmit resends what a peer missed (NS_rexmit addressed to us;
// firstseq/lastseq are decimal) or tells it we cannot (NS_nak_rexmit).
func (m *Machine) answerRexmit(p *peer, msg Msg) {
	first, err1 := strconv.ParseUint(msg.Get("firstseq"), 10, 64)
	last, err2 := strconv.ParseUint(msg.Get("lastseq"), 10, 64)
	if err1 != nil || err2 != nil || first == 0 || last < first {
		m.logLimited("bad rexmit "+p.name, Error, "bad retransmission request from %s: %s", p.name, msg)
		return
	}
	sent := 0
	for s := first; s <= last; s++ {
		if s <= m.tx.low {
			m.nakRexmit(p, s, "seqno too low")
			continue
		}
		if s > m.tx.seq {
			m.logf(Warn, "%s asked for seq %d, we only sent up to %d", p.name, s, m.tx.seq)
			continue
		}
		e := m.tx.get(s)
		if e == nil {
			m.nakRexmit(p, s, "seqno not found")
			continue
		}
		if !e.lastRexmit.IsZero() && m.now.Sub(e.lastRexmit) < rexmitMinGap {
			continue // just resent it
		}
		if sent++; sent > maxRexmitBatch {
			return
		}
		e.lastRexmit = m.now
		again := e.msg
		again.Fields = maps.Clone(e.msg.Fields)
		m.emit(Send{Msg: again})
	}
}

func (m *Machine) nakRexmit(p *peer, seq uint64, reason string) {
	m.logf(Error, "cannot resend seq %d to %s: %s", seq, p.name, reason)
	r := newMsg("NS_nak_rexmit", "firstseq", strconv.FormatUint(seq, 16), "info", reason)
	r.Dest = p.name
	m.send(r)
}

// --- inbound: per-peer tracking ---

type seqTrack struct {
	gen     uint64
	last    uint64               // 0: nothing yet
	missing map[uint64]time.Time // seq -> when to (re)ask for it
}

func (t *seqTrack) reset() {
	t.last = 0
	t.missing = nil
}

// dead forgets what is missing (a dead node is not asked to resend) but
// keeps last: packets up to it were seen, and a replay of them must not be
// taken for a node coming back.
func (t *seqTrack) dead() {
	t.missing = nil
}

// found forgets a missing seq (it arrived, or the sender said it is lost).
func (t *seqTrack) found(seq uint64) bool {
	if _, ok := t.missing[seq]; !ok {
		return false
	}
	delete(t.missing, seq)
	return true
}

type verdict int

const (
	keep verdict = iota
	duplicate
	drop
)

type classified struct {
	verdict verdict
	healed  bool // same generation from a node we declared dead
}

// classify applies heartbeat's receive rules: replayed generations are
// dropped, a higher generation on a status resets tracking (restart), a
// newer status of the same generation from a dead node is a healed
// partition; in-sequence, gap-filling and (after a gap) newer messages are
// kept, the others are duplicates. Messages to another node are tracked,
// then dropped. Nothing at or below the last seq seen from a dead node is
// taken, not even as a duplicate: tracking survives the node's death, so a
// capture of it replayed later changes nothing.
func (m *Machine) classify(p *peer, msg Msg) classified {
	toUs := msg.Dest == "" || msg.Dest == m.cfg.Node
	pass := classified{verdict: drop}
	if toUs {
		pass.verdict = keep
	}
	if strings.HasPrefix(msg.Type, "NS_") {
		if msg.Type == "NS_nak_rexmit" {
			seq, err := strconv.ParseUint(msg.Get("firstseq"), 16, 64)
			if err != nil || seq == 0 {
				m.logLimited("bad nak "+p.name, Error, "bad NS_nak_rexmit from %s", p.name)
				return classified{verdict: drop}
			}
			if toUs {
				m.logf(Error, "%s cannot resend seq %d: it is lost", p.name, seq)
			}
			p.track.found(seq)
			return classified{verdict: drop}
		}
		return pass
	}
	if msg.Seq == 0 {
		m.logLimited("no seq "+p.name, Error, "message from %s without a valid seq, dropped", p.name)
		return classified{verdict: drop}
	}
	t := &p.track
	if msg.Gen < t.gen {
		m.logLimited("replay "+p.name, Error, "attempted replay attack from %s? generation %d < %d, dropped", p.name, msg.Gen, t.gen)
		return classified{verdict: drop}
	}
	restart := false
	if msg.Type == "status" {
		switch {
		case msg.Gen == t.gen && msg.Gen > 0 && p.status == stDead:
			if msg.Seq <= t.last || msg.Seq <= p.statusSeq {
				return classified{verdict: drop} // stale
			}
			m.logf(Crit, "node %s returning after partition (same generation)", p.name)
			pass.healed = true
		case msg.Gen > t.gen:
			restart = true
			if t.gen > 0 {
				m.logf(Info, "Heartbeat restart on node %s", p.name)
			}
			t.reset()
			p.heardStatus = false
			p.statusSeq = 0
			p.hasResources = true
		}
		t.gen = msg.Gen
	}
	seq := msg.Seq
	if p.status == stDead && !restart && seq <= t.last {
		return classified{verdict: drop} // seen before it died, or older
	}
	if pass.healed {
		// What it sent while we held it dead is of no use now (the
		// split-brain repair starts from its current state): no
		// retransmission of it, and nothing older is taken later.
		t.missing = nil
		t.last = seq
		return pass
	}
	switch {
	case t.last == 0 || seq == t.last+1:
		t.last = seq
		return pass
	case seq == t.last:
		return classified{verdict: duplicate}
	case seq > t.last:
		lost := seq - t.last - 1
		m.logf(Warn, "%s: %d message(s) missing between seq %d and %d", p.name, lost, t.last, seq)
		if lost > maxLost {
			m.logf(Error, "%s: too many missing messages, starting over", p.name)
			t.reset()
			t.last = seq
			return pass
		}
		if t.missing == nil {
			t.missing = map[uint64]time.Time{}
		}
		for k := t.last + 1; k < seq && len(t.missing) < maxMissingTrack; k++ {
			t.missing[k] = m.now.Add(rexmitFirst)
		}
		t.last = seq
		return pass
	}
	if t.found(seq) {
		if len(t.missing) == 0 {
			m.logf(Info, "%s: all missing messages recovered", p.name)
		}
		return pass
	}
	return classified{verdict: drop} // old duplicate
}

// rexmitTick asks live peers for what is still missing: first after a
// short wait, then every max_rexmit_delay, contiguous seqs in one request.
func (m *Machine) rexmitTick() {
	for _, name := range m.order {
		p := m.peers[name]
		if len(p.track.missing) == 0 || !m.alive(p) {
			continue
		}
		var due []uint64
		for s, at := range p.track.missing {
			if !m.now.Before(at) {
				due = append(due, s)
			}
		}
		slices.Sort(due)
		for i := 0; i < len(due); {
			j := i
			for j+1 < len(due) && due[j+1] == due[j]+1 {
				j++
			}
			r := newMsg("NS_rexmit",
				"firstseq", strconv.FormatUint(due[i], 10),
				"lastseq", strconv.FormatUint(due[j], 10))
			r.Dest = p.name
			m.send(r)
			for k := i; k <= j; k++ {
				p.track.missing[due[k]] = m.now.Add(rexmitEvery)
			}
			i = j + 1
		}
	}
}

func sortedKeys[V any](mp map[string]V) []string {
	return slices.Sorted(maps.Keys(mp))
}
