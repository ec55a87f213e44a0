// Package media moves heartbeat packets over UDP and ttys: one socket per
// network medium of ha.cf (ucast, bcast, mcast), each bound to its device,
// one tty per serial medium (serial.go), every packet sent on every
// medium, every medium read at once. It knows nothing of the packets'
// contents, except that a tty carries them in the classic format.
package media

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// Spec is one medium line of ha.cf.
type Spec struct {
	Kind  string     // ucast, bcast, mcast
	Dev   string     // interface
	Peer  netip.Addr // ucast: the peer; mcast: the group
	Port  int        // udpport (mcast: its own port field)
	TTL   int        // mcast
	Loop  bool       // mcast loopback
	Label string     // name used in link states, e.g. "eth1" or "eth1:10.0.1.3"
	Baud  int        // serial: line speed (0: 19200)
	// Where is the ha.cf file:line of the medium, put in front of open
	// errors.
	Where string

	// bind, when valid, is the local address and port to bind instead of
	// :Port (tests: two media on one host, each with its own address).
	bind netip.AddrPort
}

// Packet is what arrived on a medium.
type Packet struct {
	Link string
	From netip.AddrPort
	Data []byte
}

// conn is what a medium needs of its socket (*net.UDPConn; a fake in
// tests).
type conn interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
	WriteToUDP(b []byte, addr *net.UDPAddr) (int, error)
	Close() error
}

// Medium is one open medium.
type Medium struct {
	spec Spec
	conn conn
	dst  *net.UDPAddr
}

// Name is the link name reported in status (the device, as heartbeat).
func (m *Medium) Name() string { return m.spec.Label }

// Open opens a medium: a UDP socket on the port, bound to the device, with
// broadcast or multicast set up as the kind needs.
func Open(s Spec) (*Medium, error) {
	if s.Label == "" {
		s.Label = s.Dev
	}
	if s.Kind == "serial" {
		m, err := openSerial(s)
		if err != nil && s.Where != "" {
			err = fmt.Errorf("%s: %w", s.Where, err)
		}
		return m, err
	}
	ifi, err := net.InterfaceByName(s.Dev)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", s.Kind, s.Dev, err)
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			// Several media share the port; each only hears its device.
			// SO_REUSEADDR is all two media on one device need (UDP).
			// No SO_REUSEPORT: it spreads datagrams over every socket of
			// the same user on the port, so a second directord shared
			// the peer's packets with the first without a word.
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); serr != nil {
				return
			}
			if serr = unix.BindToDevice(int(fd), s.Dev); serr != nil {
				return
			}
			if s.Kind == "bcast" {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	laddr := fmt.Sprintf(":%d", s.Port)
	if s.bind.IsValid() {
		laddr = s.bind.String()
	}
	pc, err := lc.ListenPacket(context.Background(), "udp4", laddr)
	if err != nil {
		return nil, fmt.Errorf("%s %s port %d: %w", s.Kind, s.Dev, s.Port, err)
	}
	conn := pc.(*net.UDPConn)
	m := &Medium{spec: s, conn: conn}
	switch s.Kind {
	case "ucast":
		m.dst = &net.UDPAddr{IP: s.Peer.AsSlice(), Port: s.Port}
	case "bcast":
		b, err := broadcastOf(ifi)
		if err != nil {
			conn.Close()
			return nil, err
		}
		m.dst = &net.UDPAddr{IP: b.AsSlice(), Port: s.Port}
	case "mcast":
		if err := mcastSetup(ipv4.NewPacketConn(conn), ifi, s); err != nil {
			conn.Close()
			return nil, err
		}
		m.dst = &net.UDPAddr{IP: s.Peer.AsSlice(), Port: s.Port}
	default:
		conn.Close()
		return nil, fmt.Errorf("medium %q is not ucast, bcast or mcast", s.Kind)
	}
	return m, nil
}

// mcastOpts is what mcastSetup needs of *ipv4.PacketConn.
type mcastOpts interface {
	JoinGroup(ifi *net.Interface, group net.Addr) error
	SetMulticastInterface(ifi *net.Interface) error
	SetMulticastTTL(ttl int) error
	SetMulticastLoopback(on bool) error
}

// mcastSetup joins the group and sets the outgoing interface, TTL and
// loopback. Each is an error: without the interface the packets leave by
// the default route, with the wrong TTL they stop short or go too far.
func mcastSetup(p mcastOpts, ifi *net.Interface, s Spec) error {
	wrap := func(what string, err error) error {
		return fmt.Errorf("mcast %s group %s: %s: %w", s.Dev, s.Peer, what, err)
	}
	if err := p.JoinGroup(ifi, &net.UDPAddr{IP: s.Peer.AsSlice()}); err != nil {
		return wrap("join", err)
	}
	if err := p.SetMulticastInterface(ifi); err != nil {
		return wrap("set the outgoing interface", err)
	}
	if err := p.SetMulticastTTL(max(s.TTL, 1)); err != nil {
		return wrap(fmt.Sprintf("set TTL %d", max(s.TTL, 1)), err)
	}
	if err := p.SetMulticastLoopback(s.Loop); err != nil {
		return wrap(fmt.Sprintf("set loopback %v", s.Loop), err)
	}
	return nil
}

func broadcastOf(ifi *net.Interface) (netip.Addr, error) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, err
	}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || n.IP.To4() == nil {
			continue
		}
		ip4 := n.IP.To4()
		var b [4]byte
		for i := range b {
			b[i] = ip4[i] | ^n.Mask[len(n.Mask)-4+i]
		}
		return netip.AddrFrom4(b), nil
	}
	return netip.Addr{}, fmt.Errorf("bcast %s: no IPv4 address", ifi.Name)
}

// Send writes one packet to the medium's destination.
func (m *Medium) Send(b []byte) error {
	_, err := m.conn.WriteToUDP(b, m.dst)
	return err
}

// Close closes the socket (ending its reader).
func (m *Medium) Close() error { return m.conn.Close() }

// Set is all media of a node, read together.
type Set struct {
	media []*Medium
	in    chan Packet
	wg    sync.WaitGroup
	local map[netip.Addr]bool
	log   *slog.Logger
	done  chan struct{} // closed by Close: ends a reader's back-off
	once  sync.Once
}

// OpenAll opens every medium; on any failure it closes those it opened.
// Read errors are reported to log (nil: slog.Default()).
func OpenAll(specs []Spec, log *slog.Logger) (*Set, error) {
	var ms []*Medium
	for _, sp := range specs {
		m, err := Open(sp)
		if err != nil {
			for _, m := range ms {
				m.Close()
			}
			return nil, err
		}
		if sc, ok := m.conn.(*serialConn); ok && log != nil {
			sc.log = log
		}
		ms = append(ms, m)
	}
	return newSet(ms, localAddrs(), log), nil
}

// localAddrs are this host's addresses: a packet from one of them is our
// own, looped back.
func localAddrs() map[netip.Addr]bool {
	local := map[netip.Addr]bool{}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok {
					local[ip.Unmap()] = true
				}
			}
		}
	}
	return local
}

func newSet(ms []*Medium, local map[netip.Addr]bool, log *slog.Logger) *Set {
	if log == nil {
		log = slog.Default()
	}
	s := &Set{media: ms, in: make(chan Packet, 256), local: local, log: log, done: make(chan struct{})}
	for _, m := range s.media {
		s.wg.Add(1)
		go s.read(m)
	}
	return s
}

// Packets delivers what arrives on any medium, except our own packets
// looped back (broadcast, multicast loop, ucast to ourselves).
func (s *Set) Packets() <-chan Packet { return s.in }

// A medium whose reads fail waits before the next: from readBackoffMin,
// doubling to readBackoffMax, so a persistent error (a device gone) does
// not spin a CPU. It is logged when it starts, every readErrLogEvery while
// it lasts, and when reads succeed again.
const (
	readBackoffMin  = 10 * time.Millisecond
	readBackoffMax  = time.Second
	readErrLogEvery = time.Minute
)

func (s *Set) read(m *Medium) {
	defer s.wg.Done()
	buf := make([]byte, 65536)
	var (
		fails   int
		backoff time.Duration
		logged  time.Time
	)
	for {
		n, from, err := m.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			fails++
			if now := time.Now(); fails == 1 || now.Sub(logged) >= readErrLogEvery {
				s.log.Error("medium read failed; backing off", "link", m.Name(), "err", err, "failures", fails)
				logged = now
			}
			backoff = min(max(2*backoff, readBackoffMin), readBackoffMax)
			t := time.NewTimer(backoff)
			select {
			case <-s.done:
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		if fails > 0 {
			s.log.Info("medium reads again", "link", m.Name(), "failures", fails)
			fails, backoff = 0, 0
		}
		if s.local[from.Addr().Unmap()] {
			continue
		}
		p := Packet{Link: m.Name(), From: from, Data: append([]byte(nil), buf[:n]...)}
		select {
		case s.in <- p:
		default: // the consumer is stuck; heartbeat traffic is periodic, drop
		}
	}
}

// Send writes the packet on every medium; it fails only if all fail.
func (s *Set) Send(b []byte) error {
	var errs []error
	for _, m := range s.media {
		if err := m.Send(b); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.Name(), err))
		}
	}
	if len(errs) == len(s.media) && len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}

// Links names the media.
func (s *Set) Links() []string {
	var out []string
	for _, m := range s.media {
		out = append(out, m.Name())
	}
	return out
}

// Close closes every medium and waits for the readers.
func (s *Set) Close() {
	s.once.Do(func() {
		close(s.done)
		for _, m := range s.media {
			m.Close()
		}
	})
	s.wg.Wait()
}
