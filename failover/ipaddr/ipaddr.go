// Package ipaddr holds and releases the service addresses of a director
// (heartbeat's IPaddr/IPaddr2 resources): it adds an address through
// netlink, announces it with gratuitous ARP (IPv4) or an unsolicited
// neighbour advertisement (IPv6) so that neighbours switch to this
// director's MAC at once, and removes it on release.
package ipaddr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Address is a service address to hold.
type Address struct {
	Addr netip.Addr
	// Bits is the prefix length; 0 takes the one of the interface's subnet
	// that holds Addr (heartbeat's IPaddr does the same).
	Bits int
	// Iface is the interface; "" picks the one with a subnet holding Addr.
	Iface string
	// Broadcast (IPv4); invalid computes it from the prefix.
	Broadcast netip.Addr
	// Label (IPv4 only, e.g. "eth0:0"); "" sets none.
	Label string
}

func (a Address) String() string {
	s := a.Addr.String()
	if a.Bits > 0 {
		s = fmt.Sprintf("%s/%d", s, a.Bits)
	}
	if a.Iface != "" {
		s += " on " + a.Iface
	}
	return s
}

// Options tune announcements.
type Options struct {
	// Announce is how many gratuitous ARPs / advertisements are sent after
	// an add (default 5, the first at once); Interval is the gap (200 ms).
	Announce int
	Interval time.Duration
	Log      *slog.Logger
}

// Manager adds, announces and removes addresses in the caller's network
// namespace.
type Manager struct {
	opts Options
	nl   *netlink.Handle

	mu      sync.Mutex
	pending map[netip.Addr]context.CancelFunc // announcements in flight
	wg      sync.WaitGroup
}

// New opens a netlink handle in the current network namespace.
func New(opts Options) (*Manager, error) {
	if opts.Announce <= 0 {
		opts.Announce = 5
	}
	if opts.Interval <= 0 {
		opts.Interval = 200 * time.Millisecond
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	if err := h.SetSocketTimeout(5 * time.Second); err != nil {
		h.Close()
		return nil, err
	}
	return &Manager{opts: opts, nl: h, pending: map[netip.Addr]context.CancelFunc{}}, nil
}

// Close stops pending announcements and releases the netlink handle.
func (m *Manager) Close() {
	m.mu.Lock()
	for _, cancel := range m.pending {
		cancel()
	}
	m.mu.Unlock()
	m.wg.Wait()
	m.nl.Close()
}

// resolve fills Iface and Bits from the interface whose subnet holds the
// address when they are not given.
func (m *Manager) resolve(a Address) (Address, netlink.Link, error) {
	if !a.Addr.IsValid() {
		return a, nil, errors.New("no address")
	}
	if a.Iface != "" && a.Bits > 0 {
		l, err := m.nl.LinkByName(a.Iface)
		if err != nil {
			return a, nil, fmt.Errorf("interface %s: %w", a.Iface, err)
		}
		return a, l, nil
	}
	links, err := m.nl.LinkList()
	if err != nil {
		return a, nil, err
	}
	for _, l := range links {
		if a.Iface != "" && l.Attrs().Name != a.Iface {
			continue
		}
		addrs, err := m.nl.AddrList(l, family(a.Addr))
		if err != nil {
			continue
		}
		for _, ad := range addrs {
			p, ok := prefixOf(ad)
			if !ok || !p.Contains(a.Addr) || p.Bits() == p.Addr().BitLen() {
				continue
			}
			if a.Bits == 0 {
				a.Bits = p.Bits()
			}
			a.Iface = l.Attrs().Name
			return a, l, nil
		}
	}
	return a, nil, fmt.Errorf("%s: no interface has a subnet holding it; give the interface and prefix (IP/bits/iface)", a.Addr)
}

func family(a netip.Addr) int {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

func prefixOf(ad netlink.Addr) (netip.Prefix, bool) {
	ip, ok := netip.AddrFromSlice(ad.IPNet.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := ad.IPNet.Mask.Size()
	return netip.PrefixFrom(ip.Unmap(), ones).Masked(), true
}

func (m *Manager) nlAddr(a Address) *netlink.Addr {
	bits := a.Addr.BitLen()
	if a.Bits > 0 {
		bits = a.Bits
	}
	na := &netlink.Addr{IPNet: &net.IPNet{IP: a.Addr.AsSlice(), Mask: net.CIDRMask(bits, a.Addr.BitLen())}}
	if a.Addr.Is4() {
		na.Label = a.Label
		if a.Broadcast.IsValid() {
			na.Broadcast = a.Broadcast.AsSlice()
		} else if bits < 31 {
			p := netip.PrefixFrom(a.Addr, bits).Masked()
			b := p.Addr().As4()
			for i := bits; i < 32; i++ {
				b[i/8] |= 1 << (7 - i%8)
			}
			na.Broadcast = net.IP(b[:])
		}
	} else {
		// No duplicate address detection: a tentative address cannot be
		// announced or served from, and the peer that held it is gone.
		na.Flags = unix.IFA_F_NODAD
	}
	return na
}

// Has reports whether the address is on its interface.
func (m *Manager) Has(a Address) (bool, error) {
	a, l, err := m.resolveForLookup(a)
	if err != nil {
		return false, err
	}
	addrs, err := m.nl.AddrList(l, family(a.Addr))
	if err != nil {
		return false, err
	}
	for _, ad := range addrs {
		if ip, ok := netip.AddrFromSlice(ad.IPNet.IP); ok && ip.Unmap() == a.Addr {
			return true, nil
		}
	}
	return false, nil
}

// resolveForLookup finds the interface that holds a (or would hold it).
func (m *Manager) resolveForLookup(a Address) (Address, netlink.Link, error) {
	if a.Iface == "" {
		links, err := m.nl.LinkList()
		if err != nil {
			return a, nil, err
		}
		for _, l := range links {
			addrs, _ := m.nl.AddrList(l, family(a.Addr))
			for _, ad := range addrs {
				if ip, ok := netip.AddrFromSlice(ad.IPNet.IP); ok && ip.Unmap() == a.Addr {
					a.Iface = l.Attrs().Name
					return a, l, nil
				}
			}
		}
	}
	return m.resolve(a)
}

// Add puts the address on its interface (nothing happens if it is there)
// and announces it: once at once, then Announce-1 more times, in the
// background, so takeover is not held up.
func (m *Manager) Add(ctx context.Context, a Address) error {
	a, l, err := m.resolve(a)
	if err != nil {
		return err
	}
	if err := m.nl.AddrReplace(l, m.nlAddr(a)); err != nil {
		return fmt.Errorf("add %s: %w", a, err)
	}
	ifi, err := net.InterfaceByName(a.Iface)
	if err != nil {
		return err
	}
	if err := m.announce(ifi, a.Addr); err != nil {
		m.opts.Log.Warn("announce failed", "addr", a.Addr, "iface", a.Iface, "err", err)
	}
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.mu.Lock()
	if prev, ok := m.pending[a.Addr]; ok {
		prev()
	}
	m.pending[a.Addr] = cancel
	m.mu.Unlock()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer cancel()
		t := time.NewTicker(m.opts.Interval)
		defer t.Stop()
		for i := 1; i < m.opts.Announce; i++ {
			select {
			case <-actx.Done():
				return
			case <-t.C:
			}
			if err := m.announce(ifi, a.Addr); err != nil {
				m.opts.Log.Warn("announce failed", "addr", a.Addr, "err", err)
			}
		}
	}()
	return nil
}

// Del removes the address (an absent one is not an error) and stops its
// announcements: a director that lets go must not keep claiming it.
func (m *Manager) Del(a Address) error {
	m.mu.Lock()
	if cancel, ok := m.pending[a.Addr]; ok {
		cancel()
		delete(m.pending, a.Addr)
	}
	m.mu.Unlock()
	a, l, err := m.resolveForLookup(a)
	if err != nil {
		return nil // not on any interface: nothing to remove
	}
	err = m.nl.AddrDel(l, m.nlAddr(a))
	if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return fmt.Errorf("remove %s: %w", a, err)
	}
	return nil
}

// announce sends one gratuitous ARP request and reply (IPv4), or one
// unsolicited neighbour advertisement with the override flag (IPv6).
func (m *Manager) announce(ifi *net.Interface, ip netip.Addr) error {
	if ip.Is4() {
		c, err := arp.Dial(ifi)
		if err != nil {
			return err
		}
		defer c.Close()
		for _, op := range []arp.Operation{arp.OperationRequest, arp.OperationReply} {
			p, err := arp.NewPacket(op, ifi.HardwareAddr, ip, ethernet.Broadcast, ip)
			if err != nil {
				return err
			}
			if err := c.WriteTo(p, ethernet.Broadcast); err != nil {
				return err
			}
		}
		return nil
	}
	c, _, err := ndp.Listen(ifi, ndp.LinkLocal)
	if err != nil {
		return err
	}
	defer c.Close()
	na := &ndp.NeighborAdvertisement{Override: true, TargetAddress: ip,
		Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: ifi.HardwareAddr}}}
	return c.WriteTo(na, nil, netip.IPv6LinkLocalAllNodes())
}
