package ipaddr

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func director() *fakeNL {
	return newFakeNL(map[string][]string{
		"lo":   {"127.0.0.1/8"},
		"eth0": {"10.0.0.2/24", "fd00:55::2/64"},
		"eth1": {"10.0.1.2/16", "fd00:56::2/64"},
	})
}

func testManager(f *fakeNL) (*Manager, *announcements) {
	r := &announcements{}
	return newManager(Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, f, r.send), r
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// Every form haresources gives (bare IP, IP/bits, IP/bits/iface, with a
// broadcast, empty fields, IPaddr2 labels, IPv6) is added with the prefix
// of the subnet or the one given, and removed again: release leaves
// nothing behind.
func TestAddThenDelEveryForm(t *testing.T) {
	for _, tc := range []struct {
		name  string
		a     Address
		iface string
		want  string // as the interface shows it after Add
	}{
		{"bare IP (node1 10.0.0.100)", Address{Addr: addr("10.0.0.100")}, "eth0", "10.0.0.100/24"},
		{"bare IP on the /16", Address{Addr: addr("10.0.1.1")}, "eth1", "10.0.1.1/16"},
		{"IP/bits", Address{Addr: addr("10.0.0.101"), Bits: 24}, "eth0", "10.0.0.101/24"},
		{"IP/bits narrower than the subnet", Address{Addr: addr("10.0.0.102"), Bits: 32}, "eth0", "10.0.0.102/32"},
		{"IP/bits/iface", Address{Addr: addr("10.0.0.103"), Bits: 24, Iface: "eth0"}, "eth0", "10.0.0.103/24"},
		{"IP/bits/iface/broadcast", Address{Addr: addr("10.0.0.104"), Bits: 24, Iface: "eth0", Broadcast: addr("10.0.0.255")}, "eth0", "10.0.0.104/24"},
		{"IP//iface (empty bits)", Address{Addr: addr("10.0.1.105"), Iface: "eth1"}, "eth1", "10.0.1.105/16"},
		{"IPaddr2 label", Address{Addr: addr("10.0.1.106"), Bits: 16, Iface: "eth1", Label: "eth1:vip"}, "eth1", "10.0.1.106/16 eth1:vip"},
		{"IPv6 bare", Address{Addr: addr("fd00:55::100")}, "eth0", "fd00:55::100/64"},
		{"IPv6 //iface", Address{Addr: addr("fd00:56::101"), Iface: "eth1"}, "eth1", "fd00:56::101/64"},
		{"IPv6 /bits/iface", Address{Addr: addr("fd00:56::102"), Bits: 128, Iface: "eth1"}, "eth1", "fd00:56::102/128"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := director()
			m, _ := testManager(f)
			defer m.Close()
			before := f.show(tc.iface)
			if err := m.Add(context.Background(), tc.a); err != nil {
				t.Fatalf("Add: %v", err)
			}
			if got := f.holds(tc.a.Addr.String()); got != strings.Fields(tc.want)[0]+" on "+tc.iface {
				t.Fatalf("after Add: %s is %q, want %s on %s", tc.a.Addr, got, tc.want, tc.iface)
			}
			if !contains(f.show(tc.iface), tc.want) {
				t.Fatalf("after Add: %s shows %q, want %q among them", tc.iface, f.show(tc.iface), tc.want)
			}
			if ok, err := m.Has(tc.a); err != nil || !ok {
				t.Fatalf("Has after Add = %v, %v; want true", ok, err)
			}
			if err := m.Del(tc.a); err != nil {
				t.Fatalf("Del: %v", err)
			}
			if got := f.holds(tc.a.Addr.String()); got != "" {
				t.Fatalf("after Del %s is still configured: %s", tc.a.Addr, got)
			}
			if got := f.show(tc.iface); !reflect.DeepEqual(got, before) {
				t.Fatalf("after Del %s shows %q, want %q as before", tc.iface, got, before)
			}
			if ok, err := m.Has(tc.a); err != nil || ok {
				t.Fatalf("Has after Del = %v, %v; want false", ok, err)
			}
		})
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// The interface is the one with the most specific subnet holding the
// address (heartbeat's findif takes the route with the longest mask), not
// the first listed.
func TestAddPicksTheMostSpecificSubnet(t *testing.T) {
	f := newFakeNL(map[string][]string{
		"a0": {"10.0.0.1/16", "fd00::1/48"},
		"b0": {"10.0.0.2/24", "fd00::2/64"},
		"c0": {"10.0.0.3/16"},
	})
	m, _ := testManager(f)
	defer m.Close()
	for ip, want := range map[string]string{"10.0.0.100": "10.0.0.100/24 on b0", "fd00::100": "fd00::100/64 on b0", "10.0.1.100": "10.0.1.100/16 on a0"} {
		if err := m.Add(context.Background(), Address{Addr: addr(ip)}); err != nil {
			t.Fatal(err)
		}
		if got := f.holds(ip); got != want {
			t.Errorf("%s added as %q, want %q", ip, got, want)
		}
	}
}

// Removal deletes what is on the interface, whatever prefix the resource
// names: a VIP left as /32 (by hand, or an older config) or as /24 while
// the resource says /32 is removed all the same, on every interface that
// has it when none is named.
func TestDelRemovesTheConfiguredPrefix(t *testing.T) {
	f := director()
	f.put("eth0", "10.0.0.100/32", "")
	f.put("eth0", "10.0.0.100/24", "eth0:web")
	f.put("eth1", "10.0.0.100/16", "")
	f.put("eth0", "fd00:55::100/128", "")
	m, _ := testManager(f)
	defer m.Close()
	if err := m.Del(Address{Addr: addr("10.0.0.100"), Bits: 28}); err != nil {
		t.Fatalf("Del: %v", err)
	}
	if got := f.holds("10.0.0.100"); got != "" {
		t.Fatalf("10.0.0.100 still on %s", got)
	}
	if err := m.Del(Address{Addr: addr("fd00:55::100"), Bits: 64, Iface: "eth0"}); err != nil {
		t.Fatalf("Del v6: %v", err)
	}
	if got := f.holds("fd00:55::100"); got != "" {
		t.Fatalf("fd00:55::100 still on %s", got)
	}
	if got := f.show("eth0"); !reflect.DeepEqual(got, []string{"10.0.0.2/24", "fd00:55::2/64"}) {
		t.Fatalf("eth0 lost other addresses: %q", got)
	}
}

// A named interface is the only place looked at: the same address on
// another interface is not the resource's.
func TestDelNamedInterfaceOnly(t *testing.T) {
	f := director()
	f.put("lo", "10.0.0.100/32", "")
	f.put("eth0", "10.0.0.100/24", "")
	m, _ := testManager(f)
	defer m.Close()
	if err := m.Del(Address{Addr: addr("10.0.0.100"), Iface: "eth0"}); err != nil {
		t.Fatalf("Del: %v", err)
	}
	if got := f.holds("10.0.0.100"); got != "10.0.0.100/32 on lo" {
		t.Fatalf("10.0.0.100 is %q, want only the one on lo left", got)
	}
}

func TestDelAbsentIsSuccess(t *testing.T) {
	f := director()
	m, _ := testManager(f)
	defer m.Close()
	for _, a := range []Address{
		{Addr: addr("10.0.0.100")},
		{Addr: addr("10.0.0.100"), Bits: 24, Iface: "eth0"},
		{Addr: addr("192.0.2.1")},                 // no subnet holds it
		{Addr: addr("10.0.0.100"), Iface: "eth9"}, // interface gone
	} {
		if err := m.Del(a); err != nil {
			t.Errorf("Del(%s) of an absent address: %v", a, err)
		}
	}
	if len(f.dels) != 0 {
		t.Errorf("AddrDel called for absent addresses: %q", f.dels)
	}
}

// Only "really absent" is success: a netlink failure while looking the
// address up or removing it is an error (the caller retries and reports),
// never "already gone" while the VIP stays.
func TestDelReportsFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		a      Address
		break_ func(*fakeNL)
		want   string
	}{
		{"LinkList fails", Address{Addr: addr("10.0.0.100")}, func(f *fakeNL) { f.errLinkList = errNetlink }, "list interfaces"},
		{"LinkByName fails", Address{Addr: addr("10.0.0.100"), Bits: 24, Iface: "eth0"}, func(f *fakeNL) { f.errLinkByName = errNetlink }, "interface eth0"},
		{"AddrList fails", Address{Addr: addr("10.0.0.100")}, func(f *fakeNL) { f.errAddrList = errNetlink }, "list addresses"},
		{"AddrList interrupted every time", Address{Addr: addr("10.0.0.100")}, func(f *fakeNL) { f.errAddrList = netlink.ErrDumpInterrupted }, "inconsistent"},
		{"AddrDel fails", Address{Addr: addr("10.0.0.100")}, func(f *fakeNL) { f.errAddrDel = unix.EPERM }, "operation not permitted"},
		{"AddrDel says not there", Address{Addr: addr("10.0.0.100")}, func(f *fakeNL) { f.errAddrDel = unix.EADDRNOTAVAIL }, "still configured as 10.0.0.100/24 on eth0"},
		{"AddrDel succeeds but it stays", Address{Addr: addr("10.0.0.100")}, func(f *fakeNL) { f.delNoop = true }, "still configured"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := director()
			m, _ := testManager(f)
			defer m.Close()
			if err := m.Add(context.Background(), Address{Addr: addr("10.0.0.100")}); err != nil {
				t.Fatal(err)
			}
			tc.break_(f)
			err := m.Del(tc.a)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Del = %v, want an error with %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "10.0.0.100") {
				t.Errorf("error %q does not name the address", err)
			}
			if f.holds("10.0.0.100") == "" {
				t.Fatal("the fake lost the address: the test shows nothing")
			}
		})
	}
}

func TestHasReportsFailures(t *testing.T) {
	f := director()
	f.errAddrList = errNetlink
	m, _ := testManager(f)
	defer m.Close()
	if ok, err := m.Has(Address{Addr: addr("10.0.0.100")}); err == nil || ok {
		t.Fatalf("Has with a failing AddrList = %v, %v; want an error", ok, err)
	}
}

// An interrupted dump (a concurrent change) is tried again.
func TestInterruptedDumpRetried(t *testing.T) {
	f := director()
	m, _ := testManager(f)
	defer m.Close()
	if err := m.Add(context.Background(), Address{Addr: addr("10.0.0.100")}); err != nil {
		t.Fatal(err)
	}
	fl := &flakyList{fakeNL: f, fails: dumpRetries - 1}
	m.nl = fl
	if err := m.Del(Address{Addr: addr("10.0.0.100")}); err != nil {
		t.Fatalf("Del after %d interrupted dumps: %v", dumpRetries-1, err)
	}
	if got := f.holds("10.0.0.100"); got != "" {
		t.Fatalf("still on %s", got)
	}
}

type flakyList struct {
	*fakeNL
	fails int
}

func (f *flakyList) LinkList() ([]netlink.Link, error) {
	if f.fails > 0 {
		f.fails--
		return nil, netlink.ErrDumpInterrupted
	}
	return f.fakeNL.LinkList()
}

func TestAddErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		a      Address
		break_ func(*fakeNL)
		want   string
	}{
		{"no subnet holds it", Address{Addr: addr("192.0.2.1")}, nil, "no interface has a subnet holding it"},
		{"named interface lacks the subnet", Address{Addr: addr("10.0.1.100"), Iface: "eth0"}, nil, "no subnet of eth0 holds it"},
		{"interface missing", Address{Addr: addr("10.0.0.100"), Bits: 24, Iface: "eth9"}, nil, "interface eth9: not found"},
		{"AddrList fails", Address{Addr: addr("10.0.0.100")}, func(f *fakeNL) { f.errAddrList = errNetlink }, "list addresses"},
		{"AddrReplace fails", Address{Addr: addr("10.0.0.100")}, func(f *fakeNL) { f.errAddrReplace = unix.EPERM }, "add 10.0.0.100/24 on eth0"},
		{"no address", Address{}, nil, "no address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := director()
			if tc.break_ != nil {
				tc.break_(f)
			}
			m, r := testManager(f)
			defer m.Close()
			err := m.Add(context.Background(), tc.a)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Add = %v, want an error with %q", err, tc.want)
			}
			if r.count() != 0 {
				t.Errorf("announced after a failed add: %q", r.list())
			}
		})
	}
}

// Add announces at once, then Announce-1 more times Interval apart; Del
// stops the announcements (a director that lets go must not claim it).
func TestAnnouncements(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := director()
		m, r := testManager(f)
		m.opts.Announce, m.opts.Interval = 4, 100*time.Millisecond
		if err := m.Add(context.Background(), Address{Addr: addr("10.0.0.100")}); err != nil {
			t.Fatal(err)
		}
		if n := r.count(); n != 1 {
			t.Fatalf("%d announcements right after Add, want 1", n)
		}
		time.Sleep(time.Second)
		if want := []string{"10.0.0.100 eth0", "10.0.0.100 eth0", "10.0.0.100 eth0", "10.0.0.100 eth0"}; !reflect.DeepEqual(r.list(), want) {
			t.Fatalf("announced %q, want %q", r.list(), want)
		}

		r.reset()
		if err := m.Add(context.Background(), Address{Addr: addr("fd00:55::100")}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond) // two sent
		if err := m.Del(Address{Addr: addr("fd00:55::100")}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		if n := r.count(); n != 2 {
			t.Fatalf("%d announcements of an address removed after 150 ms, want 2: %q", n, r.list())
		}
		m.Close()
		if !f.closed {
			t.Fatal("Close did not close the netlink handle")
		}
	})
}

// A failed announcement is only logged: the address is held.
func TestAnnounceFailureKeepsAddress(t *testing.T) {
	f := director()
	m, r := testManager(f)
	defer m.Close()
	r.err = errors.New("no such device")
	if err := m.Add(context.Background(), Address{Addr: addr("10.0.0.100")}); err != nil {
		t.Fatalf("Add with failing announcements: %v", err)
	}
	if f.holds("10.0.0.100") == "" {
		t.Fatal("address not added")
	}
}

func TestAddressString(t *testing.T) {
	for a, want := range map[*Address]string{
		{Addr: addr("10.0.0.1")}:                          "10.0.0.1",
		{Addr: addr("10.0.0.1"), Bits: 24, Iface: "eth0"}: "10.0.0.1/24 on eth0",
	} {
		if got := a.String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", a, got, want)
		}
	}
}
