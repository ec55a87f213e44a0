// Package media moves heartbeat packets over UDP: one socket per medium of
// ha.cf (ucast, bcast, mcast), each bound to its device, every packet sent
// on every medium, every medium read at once. It knows nothing of the
// packets' contents.
package media

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"

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
}

// Packet is what arrived on a medium.
type Packet struct {
	Link string
	From netip.AddrPort
	Data []byte
}

// Medium is one open medium.
type Medium struct {
	spec Spec
	conn *net.UDPConn
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
	ifi, err := net.InterfaceByName(s.Dev)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", s.Kind, s.Dev, err)
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			// Several media share the port; each only hears its device.
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); serr != nil {
				return
			}
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); serr != nil {
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
	pc, err := lc.ListenPacket(context.Background(), "udp4", fmt.Sprintf(":%d", s.Port))
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
		p := ipv4.NewPacketConn(conn)
		if err := p.JoinGroup(ifi, &net.UDPAddr{IP: s.Peer.AsSlice()}); err != nil {
			conn.Close()
			return nil, fmt.Errorf("mcast join %s on %s: %w", s.Peer, s.Dev, err)
		}
		_ = p.SetMulticastInterface(ifi)
		_ = p.SetMulticastTTL(max(s.TTL, 1))
		_ = p.SetMulticastLoopback(s.Loop)
		m.dst = &net.UDPAddr{IP: s.Peer.AsSlice(), Port: s.Port}
	default:
		conn.Close()
		return nil, fmt.Errorf("medium %q is not ucast, bcast or mcast", s.Kind)
	}
	return m, nil
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
}

// OpenAll opens every medium; on any failure it closes those it opened.
func OpenAll(specs []Spec) (*Set, error) {
	s := &Set{in: make(chan Packet, 256), local: map[netip.Addr]bool{}}
	for _, sp := range specs {
		m, err := Open(sp)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.media = append(s.media, m)
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok {
					s.local[ip.Unmap()] = true
				}
			}
		}
	}
	for _, m := range s.media {
		s.wg.Add(1)
		go s.read(m)
	}
	return s, nil
}

// Packets delivers what arrives on any medium, except our own packets
// looped back (broadcast, multicast loop, ucast to ourselves).
func (s *Set) Packets() <-chan Packet { return s.in }

func (s *Set) read(m *Medium) {
	defer s.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, from, err := m.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
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
	for _, m := range s.media {
		m.Close()
	}
	s.wg.Wait()
}
