// Command vmcheck exercises ipvs.Kernel against a real IPVS. Run it as root
// inside the lab VM, in a fresh network namespace (see run.sh next to it):
// it changes the IPVS table of its namespace and clears it.
//
// It prints "PASS name", "FAIL name: why" and "TIME name duration" lines and
// exits 1 if anything failed.
//
// "vmcheck sync start|stop|daemons|conns ..." runs one ipvs.Sync call in
// the caller's namespace instead, for the e2e shell tests (see sync.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/lvsdirector/director/ipvs"
)

var failures int

// logLevel is raised to debug around the timed batch to show its send/ack split.
var logLevel slog.LevelVar

func pass(name string) { fmt.Printf("PASS %s\n", name) }

func fail(name, format string, args ...any) {
	failures++
	fmt.Printf("FAIL %s: %s\n", name, fmt.Sprintf(format, args...))
}

func check(name string, err error) bool {
	if err != nil {
		fail(name, "%v", err)
		return false
	}
	pass(name)
	return true
}

func timing(name string, d time.Duration) {
	fmt.Printf("TIME %s %v\n", name, d.Round(time.Millisecond))
}

func ipvsadm(args ...string) (string, error) {
	out, err := exec.Command("ipvsadm", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ipvsadm %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// model is an expected table: services with their destinations.
type model map[ipvs.ServiceKey]*entry

type entry struct {
	svc   ipvs.Service
	dests map[ipvs.DestKey]ipvs.Destination
}

func (m model) add(s ipvs.Service, ds ...ipvs.Destination) {
	e := &entry{svc: s, dests: map[ipvs.DestKey]ipvs.Destination{}}
	for _, d := range ds {
		e.dests[d.DestKey] = d
	}
	m[s.ServiceKey] = e
}

func (m model) clone() model {
	c := model{}
	for k, e := range m {
		ne := &entry{svc: e.svc, dests: map[ipvs.DestKey]ipvs.Destination{}}
		for dk, d := range e.dests {
			ne.dests[dk] = d
		}
		c[k] = ne
	}
	return c
}

func (m model) addOps() []ipvs.Op {
	var ops []ipvs.Op
	keys := m.keys()
	for _, k := range keys {
		ops = append(ops, ipvs.Op{Kind: ipvs.AddService, Service: m[k].svc})
	}
	for _, k := range keys {
		for _, d := range m[k].sortedDests() {
			ops = append(ops, ipvs.Op{Kind: ipvs.AddDest, Service: m[k].svc, Dest: d})
		}
	}
	return ops
}

func (m model) keys() []ipvs.ServiceKey {
	ks := make([]ipvs.ServiceKey, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].String() < ks[j].String() })
	return ks
}

func (e *entry) sortedDests() []ipvs.Destination {
	ds := make([]ipvs.Destination, 0, len(e.dests))
	for _, d := range e.dests {
		ds = append(ds, d)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].DestKey.String() < ds[j].DestKey.String() })
	return ds
}

type reader interface {
	Services(context.Context) ([]ipvs.Service, error)
	Destinations(context.Context, ipvs.ServiceKey) ([]ipvs.Destination, error)
}

// netlinkReader reads with the Kernel's generic netlink dumps.
type netlinkReader struct{ k *ipvs.Kernel }

func (r netlinkReader) Services(ctx context.Context) ([]ipvs.Service, error) {
	return r.k.NetlinkServices(ctx)
}

func (r netlinkReader) Destinations(ctx context.Context, key ipvs.ServiceKey) ([]ipvs.Destination, error) {
	return r.k.NetlinkDestinations(ctx, key)
}

func read(ctx context.Context, r reader) (model, error) {
	svcs, err := r.Services(ctx)
	if err != nil {
		return nil, err
	}
	m := model{}
	for _, s := range svcs {
		if _, dup := m[s.ServiceKey]; dup {
			return nil, fmt.Errorf("service %v listed twice", s.ServiceKey)
		}
		ds, err := r.Destinations(ctx, s.ServiceKey)
		if err != nil {
			return nil, err
		}
		m.add(s, ds...)
		if len(m[s.ServiceKey].dests) != len(ds) {
			return nil, fmt.Errorf("service %v: a destination listed twice", s.ServiceKey)
		}
	}
	return m, nil
}

func svcString(s ipvs.Service) string {
	return fmt.Sprintf("%v sched=%s flags=%#x timeout=%d netmask=%#x", s.ServiceKey, s.Scheduler, s.Flags, s.Timeout, s.Netmask)
}

func destString(d ipvs.Destination) string {
	return fmt.Sprintf("%v %v w=%d u=%d l=%d", d.DestKey, d.Fwd, d.Weight, d.UThreshold, d.LThreshold)
}

// diff compares the settings of two tables (not counters).
func diff(got, want model) error {
	var problems []string
	for _, k := range want.keys() {
		we := want[k]
		ge, ok := got[k]
		if !ok {
			problems = append(problems, "missing service "+svcString(we.svc))
			continue
		}
		if !ge.svc.SameSettings(we.svc) || ge.svc.ServiceKey != we.svc.ServiceKey {
			problems = append(problems, fmt.Sprintf("service got %s want %s", svcString(ge.svc), svcString(we.svc)))
		}
		for _, wd := range we.sortedDests() {
			gd, ok := ge.dests[wd.DestKey]
			if !ok {
				problems = append(problems, fmt.Sprintf("%v: missing destination %s", k, destString(wd)))
				continue
			}
			if !gd.SameSettings(wd) {
				problems = append(problems, fmt.Sprintf("%v: destination got %s want %s", k, destString(gd), destString(wd)))
			}
		}
		for _, gd := range ge.sortedDests() {
			if _, ok := we.dests[gd.DestKey]; !ok {
				problems = append(problems, fmt.Sprintf("%v: unexpected destination %s", k, destString(gd)))
			}
		}
	}
	for _, k := range got.keys() {
		if _, ok := want[k]; !ok {
			problems = append(problems, "unexpected service "+svcString(got[k].svc))
		}
	}
	if len(problems) > 0 {
		if len(problems) > 20 {
			problems = append(problems[:20], fmt.Sprintf("... and %d more", len(problems)-20))
		}
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// ipvsadm -Ln output, normalised: each service line with its destination
// lines (fields joined by single spaces, the connection counters cut off).
type listing map[string][]string

func parseListing(out string, destFields int) listing {
	l := listing{}
	cur := ""
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "TCP", "UDP", "SCTP", "FWM":
			cur = strings.Join(f, " ")
			l[cur] = []string{}
		case "->":
			if cur == "" || len(f) < 2+destFields || f[1] == "RemoteAddress:Port" {
				continue
			}
			l[cur] = append(l[cur], strings.Join(f[1:2+destFields], " "))
		}
	}
	for k := range l {
		sort.Strings(l[k])
	}
	return l
}

func (l listing) String() string {
	var keys []string
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "\n    %s", k)
		for _, d := range l[k] {
			fmt.Fprintf(&b, "\n      -> %s", d)
		}
	}
	return b.String()
}

func compareListing(got, want listing) error {
	if fmt.Sprint(got) == fmt.Sprint(want) {
		return nil
	}
	return fmt.Errorf("ipvsadm shows:%s\n  expected:%s", got, want)
}

func ipvsadmAddr(a netip.Addr, port uint16) string {
	return netip.AddrPortFrom(a, port).String()
}

// ipvsadmService is how ipvsadm -Ln prints a service line.
func ipvsadmService(s ipvs.Service) string {
	var b strings.Builder
	if s.FWMark != 0 {
		fmt.Fprintf(&b, "FWM %d", s.FWMark)
		if s.Family == ipvs.INET6 {
			b.WriteString(" IPv6")
		}
	} else {
		fmt.Fprintf(&b, "%s %s", strings.ToUpper(s.Protocol.String()), ipvsadmAddr(s.Addr, s.Port))
	}
	b.WriteString(" " + s.Scheduler)
	if f := schedFlags(s); f != "" {
		b.WriteString(" (" + f + ")")
	}
	if s.Flags&ipvs.FlagPersistent != 0 {
		fmt.Fprintf(&b, " persistent %d", s.Timeout)
		if s.Family == ipvs.INET6 {
			if s.Netmask != 128 {
				fmt.Fprintf(&b, " mask %d", s.Netmask)
			}
		} else if s.Netmask != 0xffffffff {
			m := s.Netmask
			fmt.Fprintf(&b, " mask %d.%d.%d.%d", m>>24, m>>16&0xff, m>>8&0xff, m&0xff)
		}
	}
	if s.Flags&ipvs.FlagOnePacket != 0 {
		b.WriteString(" ops")
	}
	return b.String()
}

func schedFlags(s ipvs.Service) string {
	var f []string
	names := [3]string{"flag-1", "flag-2", "flag-3"}
	if s.Scheduler == "sh" {
		names = [3]string{"sh-fallback", "sh-port", "flag-3"}
	}
	for i, bit := range []uint32{ipvs.FlagSched1, ipvs.FlagSched2, ipvs.FlagSched3} {
		if s.Flags&bit != 0 {
			f = append(f, names[i])
		}
	}
	return strings.Join(f, ",")
}

func ipvsadmFwd(f ipvs.Fwd) string {
	return map[ipvs.Fwd]string{ipvs.Masq: "Masq", ipvs.Local: "Local", ipvs.Tunnel: "Tunnel", ipvs.Route: "Route"}[f]
}

// expectListing renders the model as ipvsadm -Ln (mode "") or
// --thresholds ("thresholds") or --persistent-conn ("persistent") would.
func expectListing(m model, mode string) listing {
	l := listing{}
	for _, k := range m.keys() {
		e := m[k]
		line := ipvsadmService(e.svc)
		l[line] = []string{}
		for _, d := range e.sortedDests() {
			a := ipvsadmAddr(d.Addr, d.Port)
			var s string
			switch mode {
			case "thresholds":
				s = fmt.Sprintf("%s %d %d", a, d.UThreshold, d.LThreshold)
			case "persistent":
				s = fmt.Sprintf("%s %d 0", a, d.Weight) // weight, persistent conns
			default:
				s = fmt.Sprintf("%s %s %d", a, ipvsadmFwd(d.Fwd), d.Weight)
			}
			l[line] = append(l[line], s)
		}
		sort.Strings(l[line])
	}
	return l
}

func checkIpvsadm(name string, m model) {
	for _, mode := range []struct{ name, flag string }{{"", ""}, {"thresholds", "--thresholds"}, {"persistent", "--persistent-conn"}} {
		args := []string{"-Ln"}
		if mode.flag != "" {
			args = append(args, mode.flag)
		}
		out, err := ipvsadm(args...)
		n := name + "-ipvsadm-Ln"
		if mode.flag != "" {
			n += "-" + strings.TrimPrefix(mode.flag, "--")
		}
		if err != nil {
			fail(n, "%v", err)
			continue
		}
		check(n, compareListing(parseListing(out, 2), expectListing(m, mode.name)))
	}
}

func readAndCompare(ctx context.Context, name string, k *ipvs.Kernel, want model) {
	got, err := read(ctx, k)
	if err == nil {
		err = diff(got, want)
	}
	check(name+"-readback", err)
	got, err = read(ctx, netlinkReader{k})
	if err == nil {
		err = diff(got, want)
	}
	check(name+"-readback-netlink", err)
	checkIpvsadm(name, want)
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func tcp(a string, port uint16) ipvs.ServiceKey {
	ad := addr(a)
	f := ipvs.INET
	if ad.Is6() {
		f = ipvs.INET6
	}
	return ipvs.ServiceKey{Family: f, Protocol: ipvs.TCP, Addr: ad, Port: port}
}

func udp(a string, port uint16) ipvs.ServiceKey {
	k := tcp(a, port)
	k.Protocol = ipvs.UDP
	return k
}

func dest(a string, port uint16, fwd ipvs.Fwd, w int32) ipvs.Destination {
	return ipvs.Destination{DestKey: ipvs.DestKey{Addr: addr(a), Port: port}, Fwd: fwd, Weight: w}
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "sync" {
		os.Exit(syncCommand(os.Args[2:]))
	}
	nsvc := flag.Int("services", 100, "services in the scale test")
	ndest := flag.Int("dests", 100, "destinations per service in the scale test")
	flag.Parse()
	ctx := context.Background()

	k, err := ipvs.NewKernel(ipvs.KernelOptions{CallTimeout: 20 * time.Second, Logger: slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: &logLevel}))})
	if !check("new-kernel", err) {
		os.Exit(1)
	}
	if _, err := ipvsadm("-C"); err != nil {
		fail("ipvsadm-clear", "%v", err)
	}

	functional(ctx, k)
	syncChecks(ctx, k)
	scale(ctx, k, *nsvc, *ndest)

	if err := k.Close(); err != nil {
		fail("close", "%v", err)
	}
	_, err = k.Services(ctx)
	if !errors.Is(err, ipvs.ErrClosed) {
		fail("closed", "Services after Close: %v", err)
	} else {
		pass("closed")
	}
	if failures > 0 {
		fmt.Printf("vmcheck: %d failures\n", failures)
		os.Exit(1)
	}
	fmt.Println("vmcheck: all passed")
}

func functional(ctx context.Context, k *ipvs.Kernel) {
	A := ipvs.Service{ServiceKey: tcp("10.0.0.1", 80), Scheduler: "wrr"}
	B := ipvs.Service{ServiceKey: udp("10.0.0.1", 53), Scheduler: "rr", Flags: ipvs.FlagOnePacket}
	C := ipvs.Service{ServiceKey: tcp("10.0.0.2", 443), Scheduler: "wlc", Flags: ipvs.FlagPersistent, Timeout: 300, Netmask: 0xffffff00}
	D := ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.INET, FWMark: 7}, Scheduler: "sh", Flags: ipvs.FlagSched1 | ipvs.FlagSched2, Netmask: 0xffffffff}
	E := ipvs.Service{ServiceKey: tcp("2001:db8::1", 80), Scheduler: "wlc", Netmask: 128}
	F := ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.INET6, FWMark: 9}, Scheduler: "rr", Flags: ipvs.FlagPersistent, Timeout: 600, Netmask: 64}
	G := ipvs.Service{ServiceKey: tcp("10.0.0.3", 0), Scheduler: "wlc", Flags: ipvs.FlagPersistent, Timeout: 120, Netmask: 0xffffffff}
	H := ipvs.Service{ServiceKey: udp("2001:db8::2", 53), Scheduler: "sh", Flags: ipvs.FlagOnePacket | ipvs.FlagSched1, Netmask: 128}
	I := ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.INET, Protocol: ipvs.SCTP, Addr: addr("10.0.0.4"), Port: 9999}, Scheduler: "rr", Netmask: 0xffffffff}
	A.Netmask, B.Netmask = 0xffffffff, 0xffffffff

	want := model{}
	t13 := dest("10.0.1.13", 80, ipvs.Tunnel, 5)
	t13.UThreshold, t13.LThreshold = 100, 10
	want.add(A, dest("10.0.1.11", 80, ipvs.Masq, 1), dest("10.0.1.12", 80, ipvs.Route, 0), t13)
	want.add(B, dest("10.0.1.11", 53, ipvs.Masq, 1), dest("10.0.1.12", 53, ipvs.Masq, 2))
	want.add(C, dest("10.0.1.21", 443, ipvs.Route, 1), dest("10.0.1.22", 443, ipvs.Route, 1))
	want.add(D, dest("10.0.1.31", 0, ipvs.Route, 1), dest("10.0.1.32", 0, ipvs.Route, 3))
	want.add(E, dest("2001:db8:1::11", 80, ipvs.Masq, 1), dest("2001:db8:1::12", 8080, ipvs.Masq, 2))
	want.add(F, dest("2001:db8:1::21", 0, ipvs.Route, 1))
	want.add(G, dest("10.0.1.41", 0, ipvs.Route, 1))
	h31 := dest("2001:db8:1::31", 53, ipvs.Tunnel, 1)
	h31.UThreshold = 50
	want.add(H, h31)
	want.add(I, dest("10.0.1.51", 9999, ipvs.Masq, 1))

	check("apply-initial", k.Apply(ctx, want.addOps()))
	readAndCompare(ctx, "initial", k, want)

	out, err := ipvsadm("-Ln")
	if err == nil && !strings.Contains(out, "persistent 300 mask 255.255.255.0") {
		err = fmt.Errorf("no \"persistent 300 mask 255.255.255.0\" in:\n%s", out)
	}
	check("persistent-mask-shown", err)
	fmt.Printf("ipvsadm -Ln:\n%s", out)
	if failures > 0 {
		out, _ = ipvsadm("-S", "-n")
		fmt.Printf("ipvsadm -S -n:\n%s", out)
	}

	// Services made by ipvsadm read back with the netmask it set.
	netmaskFromIpvsadm(ctx, k)

	// Updates and deletes.
	upd := want.clone()
	A2, B2, C2, D2 := A, B, C, D
	A2.Scheduler = "wlc"
	B2.Flags = 0
	C2.Timeout, C2.Netmask = 900, 0xffff0000
	D2.Flags = ipvs.FlagSched1
	F2 := F
	F2.Netmask = 48
	for _, s := range []ipvs.Service{A2, B2, C2, D2, F2} {
		upd[s.ServiceKey].svc = s
	}
	d11 := dest("10.0.1.11", 80, ipvs.Route, 7)
	d13 := t13
	d13.UThreshold, d13.LThreshold, d13.Weight = 200, 0, 0
	upd[A.ServiceKey].dests[d11.DestKey] = d11
	upd[A.ServiceKey].dests[d13.DestKey] = d13
	delete(upd[A.ServiceKey].dests, dest("10.0.1.12", 80, 0, 0).DestKey)
	delete(upd, H.ServiceKey)
	ops := []ipvs.Op{
		{Kind: ipvs.UpdateService, Service: A2},
		{Kind: ipvs.UpdateService, Service: B2},
		{Kind: ipvs.UpdateService, Service: C2},
		{Kind: ipvs.UpdateService, Service: D2},
		{Kind: ipvs.UpdateService, Service: F2},
		{Kind: ipvs.UpdateDest, Service: A2, Dest: d11},
		{Kind: ipvs.UpdateDest, Service: A2, Dest: d13},
		{Kind: ipvs.DeleteDest, Service: A2, Dest: dest("10.0.1.12", 80, 0, 0)},
		{Kind: ipvs.DeleteService, Service: H},
	}
	check("apply-updates", k.Apply(ctx, ops))
	readAndCompare(ctx, "updated", k, upd)

	badOps(ctx, k, upd, A2)

	// Reads that libipvs would panic on or that name no service.
	_, err = k.Destinations(ctx, ipvs.ServiceKey{Protocol: ipvs.TCP, Addr: addr("10.0.0.1"), Port: 80})
	if err == nil {
		fail("dests-invalid-key", "no error for a key without family")
	} else {
		pass("dests-invalid-key")
	}
	_, err = k.Destinations(ctx, tcp("10.9.9.9", 80))
	if !errors.Is(err, ipvs.ErrNotFound) {
		fail("dests-missing-service", "want ErrNotFound, got %v", err)
	} else {
		pass("dests-missing-service")
	}
	_, err = k.Destinations(ctx, tcp("10.9.9.9", 0))
	if !errors.Is(err, ipvs.ErrNotFound) {
		fail("dests-missing-port0-service", "want ErrNotFound, got %v", err)
	} else {
		pass("dests-missing-port0-service")
	}

	// A cancelled context sends nothing.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err = k.Apply(cctx, []ipvs.Op{{Kind: ipvs.AddService, Service: ipvs.Service{ServiceKey: tcp("10.0.0.77", 80), Scheduler: "rr"}}})
	var ae *ipvs.ApplyError
	if !errors.As(err, &ae) || len(ae.Failed) != 1 || !errors.Is(err, context.Canceled) {
		fail("apply-cancelled", "got %v", err)
	} else if _, err := k.Destinations(ctx, tcp("10.0.0.77", 80)); !errors.Is(err, ipvs.ErrNotFound) {
		fail("apply-cancelled", "the op was applied anyway (%v)", err)
	} else {
		pass("apply-cancelled")
	}

	abandonAndReopen(ctx, k, upd)

	// Delete everything with one Apply.
	svcs, err := k.Services(ctx)
	if err != nil {
		fail("delete-all", "%v", err)
		return
	}
	var dels []ipvs.Op
	for _, s := range svcs {
		dels = append(dels, ipvs.Op{Kind: ipvs.DeleteService, Service: s})
	}
	err = k.Apply(ctx, dels)
	if err == nil {
		svcs, err = k.Services(ctx)
		if err == nil && len(svcs) != 0 {
			err = fmt.Errorf("%d services left", len(svcs))
		}
	}
	check("delete-all", err)
}

// abandonAndReopen gives up on a libipvs call in flight (a very short
// deadline) and checks that the next call works on a new handle.
func abandonAndReopen(ctx context.Context, k *ipvs.Kernel, want model) {
	name := "abandon-and-reopen"
	before := k.Abandoned()
	var err error
	for d := 20 * time.Microsecond; d < 100*time.Millisecond; d *= 2 {
		sctx, cancel := context.WithTimeout(ctx, d)
		_, err = k.Services(sctx)
		cancel()
		if k.Abandoned() > before {
			fmt.Printf("  %s: call with a %v deadline abandoned\n", name, d)
			break
		}
	}
	if k.Abandoned() == before {
		fmt.Printf("  %s: the calls finished or were refused before their deadline (%v); nothing abandoned\n", name, err)
	} else if !errors.Is(err, context.DeadlineExceeded) {
		fail(name, "abandoned with %v", err)
		return
	}
	got, err := read(ctx, k)
	if err == nil {
		err = diff(got, want)
	}
	if err != nil {
		fail(name, "after abandoning: %v", err)
		return
	}
	fmt.Printf("  %s: %d handle(s) abandoned\n", name, k.Abandoned()-before)
	pass(name)
}

func netmaskFromIpvsadm(ctx context.Context, k *ipvs.Kernel) {
	name := "netmask-from-ipvsadm"
	if _, err := ipvsadm("-A", "-t", "10.0.0.9:80", "-s", "rr", "-p", "60", "-M", "255.255.0.0"); err != nil {
		fail(name, "%v", err)
		return
	}
	if _, err := ipvsadm("-A", "-f", "11", "-6", "-s", "rr", "-p", "60", "-M", "96"); err != nil {
		fail(name, "%v", err)
		return
	}
	svcs, err := k.Services(ctx)
	if err != nil {
		fail(name, "%v", err)
		return
	}
	found := 0
	for _, s := range svcs {
		switch {
		case s.ServiceKey == tcp("10.0.0.9", 80):
			found++
			if s.Netmask != 0xffff0000 || s.Timeout != 60 || s.Flags != ipvs.FlagPersistent {
				fail(name, "ipv4: %s", svcString(s))
				return
			}
		case s.FWMark == 11 && s.Family == ipvs.INET6:
			found++
			if s.Netmask != 96 || s.Timeout != 60 || s.Flags != ipvs.FlagPersistent {
				fail(name, "ipv6: %s", svcString(s))
				return
			}
		}
	}
	if found != 2 {
		fail(name, "found %d of the 2 services", found)
		return
	}
	pass(name)
	err = k.Apply(ctx, []ipvs.Op{
		{Kind: ipvs.DeleteService, Service: ipvs.Service{ServiceKey: tcp("10.0.0.9", 80)}},
		{Kind: ipvs.DeleteService, Service: ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.INET6, FWMark: 11}}},
	})
	check("delete-ipvsadm-services", err)
}

// badOps sends failing ops among good ones.
func badOps(ctx context.Context, k *ipvs.Kernel, want model, A ipvs.Service) {
	name := "bad-ops"
	good14 := dest("10.0.1.14", 80, ipvs.Masq, 1)
	good15 := dest("10.0.1.15", 80, ipvs.Route, 2)
	upd15 := good15
	upd15.Weight = 3
	invalid := A
	invalid.Family = 0
	ops := []ipvs.Op{
		{Kind: ipvs.AddDest, Service: A, Dest: good14},                                                                        // 0 ok
		{Kind: ipvs.AddDest, Service: ipvs.Service{ServiceKey: tcp("10.9.9.9", 80)}, Dest: good14},                            // 1 ESRCH
		{Kind: ipvs.AddService, Service: A},                                                                                   // 2 EEXIST
		{Kind: ipvs.AddService, Service: ipvs.Service{ServiceKey: tcp("10.0.0.5", 80), Scheduler: "nosuchsched"}},             // 3 ENOENT
		{Kind: ipvs.AddDest, Service: invalid, Dest: good14},                                                                  // 4 invalid, not sent
		{Kind: ipvs.AddDest, Service: A, Dest: good15},                                                                        // 5 ok
		{Kind: ipvs.DeleteDest, Service: A, Dest: dest("10.0.1.99", 80, 0, 0)},                                                // 6 ENOENT
		{Kind: ipvs.UpdateDest, Service: A, Dest: upd15},                                                                      // 7 ok, needs 5 first
		{Kind: ipvs.AddDest, Service: A, Dest: ipvs.Destination{DestKey: ipvs.DestKey{Addr: addr("2001:db8::99"), Port: 80}}}, // 8 invalid family
	}
	err := k.Apply(ctx, ops)
	var ae *ipvs.ApplyError
	if !errors.As(err, &ae) {
		fail(name, "want *ApplyError, got %v", err)
		return
	}
	fmt.Printf("  bad-ops error: %v\n", err)
	for _, f := range ae.Failed {
		fmt.Printf("    %v\n", f)
	}
	wantFailed := map[int]func(error) bool{
		1: func(e error) bool { return errors.Is(e, ipvs.ErrNotFound) && errors.Is(e, syscall.ESRCH) },
		2: func(e error) bool { return errors.Is(e, ipvs.ErrExists) },
		3: func(e error) bool { return errors.Is(e, syscall.ENOENT) && !errors.Is(e, ipvs.ErrNotFound) },
		4: func(e error) bool { var ke *ipvs.KernelError; return !errors.As(e, &ke) },
		6: func(e error) bool { return errors.Is(e, ipvs.ErrNotFound) },
		8: func(e error) bool { var ke *ipvs.KernelError; return !errors.As(e, &ke) },
	}
	if ae.Total != len(ops) || len(ae.Failed) != len(wantFailed) {
		fail(name, "Total=%d Failed=%d, want %d and %d", ae.Total, len(ae.Failed), len(ops), len(wantFailed))
		return
	}
	next := 0 // Failed is in op order
	for _, f := range ae.Failed {
		idx := slices.Index(ops[next:], f.Op)
		if idx >= 0 {
			idx += next
			next = idx + 1
		}
		if idx < 0 || wantFailed[idx] == nil || !wantFailed[idx](f.Err) {
			fail(name, "unexpected failure (op %d): %v", idx, f)
			return
		}
	}
	pass(name)
	w := want.clone()
	w[A.ServiceKey].dests[good14.DestKey] = good14
	w[A.ServiceKey].dests[upd15.DestKey] = upd15
	got, err := read(ctx, k)
	if err == nil {
		err = diff(got, w)
	}
	check("bad-ops-good-applied", err)
	// Leave the table as it was.
	check("bad-ops-cleanup", k.Apply(ctx, []ipvs.Op{
		{Kind: ipvs.DeleteDest, Service: A, Dest: good14},
		{Kind: ipvs.DeleteDest, Service: A, Dest: good15},
	}))
}

// deadlineMidway applies a big batch with a deadline that expires midway:
// ops reported as not sent must be absent, ops not reported must be
// present, and the next Apply must work (on a new socket).
func deadlineMidway(ctx context.Context, k *ipvs.Kernel, ops []ipvs.Op, d time.Duration) {
	name := "apply-deadline-midway"
	dctx, cancel := context.WithTimeout(ctx, d)
	err := k.Apply(dctx, ops)
	cancel()
	var ae *ipvs.ApplyError
	if !errors.As(err, &ae) {
		fmt.Printf("  %s: no failure (%v): the batch beat the deadline\n", name, err)
		_, _ = ipvsadm("-C")
		return
	}
	failed := map[int]error{}
	next := 0
	for _, f := range ae.Failed {
		i := slices.Index(ops[next:], f.Op)
		if i < 0 {
			fail(name, "failed op %v not found in order", f.Op)
			return
		}
		failed[next+i] = f.Err
		next += i + 1
	}
	got, rerr := read(ctx, k)
	if rerr != nil {
		fail(name, "reading back: %v", rerr)
		return
	}
	present := func(op ipvs.Op) bool {
		e, ok := got[op.Service.ServiceKey]
		if !ok {
			return false
		}
		if op.Kind == ipvs.AddService {
			return true
		}
		_, ok = e.dests[op.Dest.DestKey]
		return ok
	}
	applied, notSent, unknown := 0, 0, 0
	for i, op := range ops {
		ferr, isFailed := failed[i]
		switch {
		case !isFailed:
			applied++
			if !present(op) {
				fail(name, "op %d %v reported applied but absent", i, op)
				return
			}
		case strings.Contains(ferr.Error(), "not sent"):
			notSent++
			if !errors.Is(ferr, context.DeadlineExceeded) {
				fail(name, "op %d: %v does not match context.DeadlineExceeded", i, ferr)
				return
			}
			if present(op) && op.Kind == ipvs.AddDest {
				fail(name, "op %d %v reported not sent but present", i, op)
				return
			}
		default:
			unknown++
		}
	}
	fmt.Printf("  %s: %d applied, %d not sent, %d without ack; first error: %v\n", name, applied, notSent, unknown, ae.Failed[0].Err)
	if _, err := ipvsadm("-C"); err != nil {
		fail(name, "%v", err)
		return
	}
	small := []ipvs.Op{ops[0]}
	if err := k.Apply(ctx, small); err != nil {
		fail(name, "next Apply: %v", err)
		return
	}
	if _, err := ipvsadm("-C"); err != nil {
		fail(name, "%v", err)
		return
	}
	pass(name)
}

func scale(ctx context.Context, k *ipvs.Kernel, nsvc, ndest int) {
	total := nsvc * ndest
	want := model{}
	for i := 0; i < nsvc; i++ {
		s := ipvs.Service{ServiceKey: tcp(fmt.Sprintf("10.1.%d.%d", i/250, i%250+1), 80), Scheduler: "wlc", Netmask: 0xffffffff}
		var ds []ipvs.Destination
		for j := 0; j < ndest; j++ {
			ds = append(ds, dest(fmt.Sprintf("10.2.%d.%d", j/250, j%250+1), 8080, ipvs.Masq, int32(1+j%5)))
		}
		want.add(s, ds...)
	}
	ops := want.addOps()
	logLevel.Set(slog.LevelDebug)
	t0 := time.Now()
	err := k.Apply(ctx, ops)
	el := time.Since(t0)
	applyTime := el
	logLevel.Set(slog.LevelInfo)
	check(fmt.Sprintf("scale-apply-%d-ops", len(ops)), err)
	timing(fmt.Sprintf("batch-apply-%d-services-%d-dests", nsvc, total), el)

	t0 = time.Now()
	got, err := read(ctx, k)
	el = time.Since(t0)
	if err == nil {
		err = diff(got, want)
	}
	check(fmt.Sprintf("scale-libipvs-dump-%d", total), err)
	timing(fmt.Sprintf("libipvs-dump-%d-dests", total), el)

	t0 = time.Now()
	got, err = read(ctx, netlinkReader{k})
	el = time.Since(t0)
	if err == nil {
		err = diff(got, want)
	}
	check(fmt.Sprintf("scale-netlink-dump-%d", total), err)
	timing(fmt.Sprintf("netlink-dump-%d-dests", total), el)

	saved, err := ipvsadm("-S", "-n")
	if err != nil {
		fail("ipvsadm-save", "%v", err)
		return
	}
	lines := strings.Count(saved, "\n")
	if lines != nsvc+total {
		fail("ipvsadm-save", "%d lines, want %d", lines, nsvc+total)
	} else {
		pass("ipvsadm-save")
	}

	var dels []ipvs.Op
	for _, key := range want.keys() {
		dels = append(dels, ipvs.Op{Kind: ipvs.DeleteService, Service: want[key].svc})
	}
	t0 = time.Now()
	err = k.Apply(ctx, dels)
	el = time.Since(t0)
	check("scale-delete", err)
	timing(fmt.Sprintf("batch-delete-%d-services", nsvc), el)

	if _, err := ipvsadm("-C"); err != nil {
		fail("ipvsadm-clear", "%v", err)
	}
	f := "/tmp/vmcheck-ipvsadm-save"
	if err := os.WriteFile(f, []byte(saved), 0o600); err != nil {
		fail("ipvsadm-restore", "%v", err)
		return
	}
	in, err := os.Open(f)
	if err != nil {
		fail("ipvsadm-restore", "%v", err)
		return
	}
	defer in.Close()
	cmd := exec.Command("ipvsadm", "-R")
	cmd.Stdin = in
	t0 = time.Now()
	out, err := cmd.CombinedOutput()
	el = time.Since(t0)
	if err != nil {
		fail("ipvsadm-restore", "%v: %s", err, out)
		return
	}
	timing(fmt.Sprintf("ipvsadm-R-%d-dests", total), el)
	got, err = read(ctx, k)
	if err == nil {
		err = diff(got, want)
	}
	check("ipvsadm-restore-readback", err)

	// The same table once more, this time one op per Apply (one netlink
	// round trip each), for comparison with the batch.
	if _, err := ipvsadm("-C"); err != nil {
		fail("ipvsadm-clear", "%v", err)
	}
	t0 = time.Now()
	for _, op := range ops {
		if err := k.Apply(ctx, []ipvs.Op{op}); err != nil {
			fail("scale-apply-one-by-one", "%v", err)
			return
		}
	}
	timing(fmt.Sprintf("one-op-per-apply-%d-dests", total), time.Since(t0))
	pass("scale-apply-one-by-one")
	if _, err := ipvsadm("-C"); err != nil {
		fail("ipvsadm-clear", "%v", err)
	}
	deadlineMidway(ctx, k, ops, applyTime*6/10)
}
