package ipaddr

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// fakeNL is a network namespace as far as the manager sees it. AddrDel
// matches as the kernel does: same local address and same prefix length
// (inet_rtm_deladdr, inet6_addr_del), a label only if one is given;
// anything else is EADDRNOTAVAIL.
type fakeNL struct {
	mu    sync.Mutex
	links []netlink.Link
	addrs map[string][]netlink.Addr // by interface name

	// Failures to inject, by call.
	errLinkList, errLinkByName, errAddrList, errAddrDel, errAddrReplace error
	// delNoop: AddrDel answers success but removes nothing.
	delNoop bool
	dels    []string // prefixes AddrDel was asked to remove
	closed  bool
}

func newFakeNL(ifaces map[string][]string) *fakeNL {
	f := &fakeNL{addrs: map[string][]netlink.Addr{}}
	names := make([]string, 0, len(ifaces))
	for n := range ifaces {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		f.links = append(f.links, &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: n, Index: i + 1}})
		for _, p := range ifaces[n] {
			f.put(n, p, "")
		}
	}
	return f
}

// put configures prefix p (e.g. "10.0.0.2/24") on iface, as `ip addr add`.
func (f *fakeNL) put(iface, p, label string) {
	pr := netip.MustParsePrefix(p)
	if label == "" && pr.Addr().Is4() {
		label = iface // the kernel reports the device name as the label
	}
	f.addrs[iface] = append(f.addrs[iface], netlink.Addr{
		IPNet: &net.IPNet{IP: pr.Addr().AsSlice(), Mask: net.CIDRMask(pr.Bits(), pr.Addr().BitLen())}, Label: label})
}

// show lists what iface holds, "ip/bits[ label]" each, sorted.
func (f *fakeNL) show(iface string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, a := range f.addrs[iface] {
		s := a.IPNet.String()
		if a.Label != "" && a.Label != iface {
			s += " " + a.Label
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// holds tells whether ip is on any interface, and where.
func (f *fakeNL) holds(ip string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var where []string
	for n, as := range f.addrs {
		for _, a := range as {
			if a.IPNet.IP.String() == ip {
				where = append(where, a.IPNet.String()+" on "+n)
			}
		}
	}
	sort.Strings(where)
	return strings.Join(where, ", ")
}

func (f *fakeNL) LinkList() ([]netlink.Link, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.errLinkList != nil {
		return nil, f.errLinkList
	}
	return append([]netlink.Link(nil), f.links...), nil
}

func (f *fakeNL) LinkByName(name string) (netlink.Link, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.errLinkByName != nil {
		return nil, f.errLinkByName
	}
	for _, l := range f.links {
		if l.Attrs().Name == name {
			return l, nil
		}
	}
	return nil, netlink.LinkNotFoundError{}
}

func (f *fakeNL) AddrList(l netlink.Link, fam int) ([]netlink.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.errAddrList != nil {
		return nil, f.errAddrList
	}
	var out []netlink.Addr
	for _, a := range f.addrs[l.Attrs().Name] {
		if (a.IPNet.IP.To4() != nil) == (fam == unix.AF_INET) {
			c := a
			c.IPNet = &net.IPNet{IP: append(net.IP(nil), a.IPNet.IP...), Mask: append(net.IPMask(nil), a.IPNet.Mask...)}
			out = append(out, c)
		}
	}
	return out, nil
}

func same(a, b *netlink.Addr) bool {
	ao, _ := a.IPNet.Mask.Size()
	bo, _ := b.IPNet.Mask.Size()
	return a.IPNet.IP.Equal(b.IPNet.IP) && ao == bo
}

func (f *fakeNL) AddrReplace(l netlink.Link, a *netlink.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.errAddrReplace != nil {
		return f.errAddrReplace
	}
	n := l.Attrs().Name
	label := a.Label
	if label == "" && a.IPNet.IP.To4() != nil {
		label = n
	}
	na := netlink.Addr{IPNet: &net.IPNet{IP: append(net.IP(nil), a.IPNet.IP...), Mask: a.IPNet.Mask}, Label: label, Broadcast: a.Broadcast, Flags: a.Flags}
	for i := range f.addrs[n] {
		if same(&f.addrs[n][i], a) {
			f.addrs[n][i] = na
			return nil
		}
	}
	f.addrs[n] = append(f.addrs[n], na)
	return nil
}

func (f *fakeNL) AddrDel(l netlink.Link, a *netlink.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dels = append(f.dels, a.IPNet.String())
	if f.errAddrDel != nil {
		return f.errAddrDel
	}
	if f.delNoop {
		return nil
	}
	n := l.Attrs().Name
	for i := range f.addrs[n] {
		if same(&f.addrs[n][i], a) && (a.Label == "" || a.Label == f.addrs[n][i].Label) {
			f.addrs[n] = append(f.addrs[n][:i], f.addrs[n][i+1:]...)
			return nil
		}
	}
	return unix.EADDRNOTAVAIL
}

func (f *fakeNL) Close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
}

// announcements records what was announced.
type announcements struct {
	mu   sync.Mutex
	sent []string
	err  error
}

func (r *announcements) send(iface string, ip netip.Addr) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, fmt.Sprintf("%s %s", ip, iface))
	return r.err
}

func (r *announcements) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.sent...)
}

func (r *announcements) reset() {
	r.mu.Lock()
	r.sent = nil
	r.mu.Unlock()
}

func (r *announcements) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sent)
}

var errNetlink = errors.New("netlink: no buffer space available")
