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

// netlinkHandle is the part of *netlink.Handle the manager uses (tests
// give a fake one, so they run unprivileged).
type netlinkHandle interface {
	LinkList() ([]netlink.Link, error)
	LinkByName(name string) (netlink.Link, error)
	AddrList(link netlink.Link, family int) ([]netlink.Addr, error)
	AddrReplace(link netlink.Link, addr *netlink.Addr) error
	AddrDel(link netlink.Link, addr *netlink.Addr) error
	Close()
}

// Manager adds, announces and removes addresses in the caller's network
// namespace.
type Manager struct {
	opts Options
	nl   netlinkHandle
	// announce sends one announcement of ip on the interface named iface.
	announce func(iface string, ip netip.Addr) error

	mu      sync.Mutex
	pending map[netip.Addr]context.CancelFunc // announcements in flight
	wg      sync.WaitGroup
}

// New opens a netlink handle in the current network namespace.
func New(opts Options) (*Manager, error) {
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	if err := h.SetSocketTimeout(5 * time.Second); err != nil {
		h.Close()
		return nil, err
	}
	return newManager(opts, h, announce), nil
}

func newManager(opts Options, h netlinkHandle, announce func(string, netip.Addr) error) *Manager {
	if opts.Announce <= 0 {
		opts.Announce = 5
	}
	if opts.Interval <= 0 {
		opts.Interval = 200 * time.Millisecond
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Manager{opts: opts, nl: h, announce: announce, pending: map[netip.Addr]context.CancelFunc{}}
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

// dumpRetries is how often a netlink dump interrupted by a concurrent
// change is tried again before its error is returned.
const dumpRetries = 3

func (m *Manager) linkList() (links []netlink.Link, err error) {
	for try := 0; try < dumpRetries; try++ {
		if links, err = m.nl.LinkList(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	return links, nil
}

func (m *Manager) addrList(l netlink.Link, fam int) (addrs []netlink.Addr, err error) {
	for try := 0; try < dumpRetries; try++ {
		if addrs, err = m.nl.AddrList(l, fam); !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s: %w", l.Attrs().Name, err)
	}
	return addrs, nil
}

// candidates are the interfaces that may hold a: the named one, or all.
// A named interface that does not exist holds nothing (no error).
func (m *Manager) candidates(a Address) ([]netlink.Link, error) {
	if a.Iface == "" {
		return m.linkList()
	}
	l, err := m.nl.LinkByName(a.Iface)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", a.Iface, err)
	}
	return []netlink.Link{l}, nil
}

// resolve fills Iface and Bits from the interface whose subnet holds the
// address when they are not given (heartbeat's IPaddr does the same).
func (m *Manager) resolve(a Address) (Address, netlink.Link, error) {
	if !a.Addr.IsValid() {
		return a, nil, errors.New("no address")
	}
	links, err := m.candidates(a)
	if err != nil {
		return a, nil, err
	}
	if a.Iface != "" && len(links) == 0 {
		return a, nil, fmt.Errorf("interface %s: not found", a.Iface)
	}
	if a.Iface != "" && a.Bits > 0 {
		return a, links[0], nil
	}
	// The most specific subnet holding the address wins, as in heartbeat's
	// findif (the route with the longest mask).
	var best netlink.Link
	bestBits := -1
	for _, l := range links {
		addrs, err := m.addrList(l, family(a.Addr))
		if err != nil {
			return a, nil, err
		}
		for _, ad := range addrs {
			p, ok := prefixOf(ad)
			if !ok || !p.Contains(a.Addr) || p.Bits() == p.Addr().BitLen() || p.Bits() <= bestBits {
				continue
			}
			best, bestBits = l, p.Bits()
		}
	}
	if best != nil {
		if a.Bits == 0 {
			a.Bits = bestBits
		}
		a.Iface = best.Attrs().Name
		return a, best, nil
	}
	if a.Iface != "" {
		return a, nil, fmt.Errorf("%s: no subnet of %s holds it; give the prefix (IP/bits/%s)", a.Addr, a.Iface, a.Iface)
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
	if ad.IPNet == nil {
		return netip.Prefix{}, false
	}
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

// configured is one place where an address is on an interface, as the
// kernel has it (its prefix may differ from the one asked for).
type configured struct {
	link netlink.Link
	addr netlink.Addr
}

func (c configured) String() string {
	return c.addr.IPNet.String() + " on " + c.link.Attrs().Name
}

// find looks a.Addr up by IP on its interface (every interface when none
// is given). Not found means absent: any netlink failure is an error.
func (m *Manager) find(a Address) ([]configured, error) {
	if !a.Addr.IsValid() {
		return nil, errors.New("no address")
	}
	links, err := m.candidates(a)
	if err != nil {
		return nil, err
	}
	var out []configured
	for _, l := range links {
		addrs, err := m.addrList(l, family(a.Addr))
		if err != nil {
			return nil, err
		}
		for _, ad := range addrs {
			if ad.IPNet == nil {
				continue
			}
			if ip, ok := netip.AddrFromSlice(ad.IPNet.IP); ok && ip.Unmap() == a.Addr {
				out = append(out, configured{link: l, addr: ad})
			}
		}
	}
	return out, nil
}

// Has reports whether the address is on its interface (any interface when
// none is given).
func (m *Manager) Has(a Address) (bool, error) {
	found, err := m.find(a)
	if err != nil {
		return false, fmt.Errorf("look up %s: %w", a, err)
	}
	return len(found) > 0, nil
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
	if err := m.announce(a.Iface, a.Addr); err != nil {
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
			if actx.Err() != nil {
				return
			}
			if err := m.announce(a.Iface, a.Addr); err != nil {
				m.opts.Log.Warn("announce failed", "addr", a.Addr, "err", err)
			}
		}
	}()
	return nil
}

// Del removes the address and stops its announcements: a director that
// lets go must not keep claiming it. The address is looked up by IP and
// deleted with the prefix it has on the interface, whatever prefix the
// resource gives (or leaves out). It is success only when the address is
// really absent afterwards; a netlink failure is returned (the caller
// retries and reports it).
func (m *Manager) Del(a Address) error {
	m.mu.Lock()
	if cancel, ok := m.pending[a.Addr]; ok {
		cancel()
		delete(m.pending, a.Addr)
	}
	m.mu.Unlock()
	found, err := m.find(a)
	if err != nil {
		return fmt.Errorf("remove %s: %w", a, err)
	}
	if len(found) == 0 {
		return nil
	}
	for _, c := range found {
		// EADDRNOTAVAIL: gone meanwhile (or never matched): the look-up
		// below tells which.
		err := m.nl.AddrDel(c.link, &netlink.Addr{IPNet: c.addr.IPNet, Peer: c.addr.Peer})
		if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			return fmt.Errorf("remove %s: %w", c, err)
		}
	}
	left, err := m.find(a)
	if err != nil {
		return fmt.Errorf("remove %s: %w", a, err)
	}
	if len(left) > 0 {
		return fmt.Errorf("remove %s: still configured as %s", a, left[0])
	}
	return nil
}

// announce sends one gratuitous ARP request and reply (IPv4), or one
// unsolicited neighbour advertisement with the override flag (IPv6).
func announce(iface string, ip netip.Addr) error {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return err
	}
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
