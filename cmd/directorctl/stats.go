package main

import (
	"cmp"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/lvsdirector/director/director"
	"github.com/lvsdirector/director/ipvs"
)

// printCounters prints the counters as ipvsadm -Ln --stats --exact (or
// --rate) lays them out: the same columns and widths, so scripts that
// read one read the other, in ipvsadm's order (sorted, not the kernel's).
func printCounters(w io.Writer, vcs []director.VirtualCounters, rate bool) {
	vcs = slices.Clone(vcs)
	slices.SortFunc(vcs, func(a, b director.VirtualCounters) int {
		return compareServices(a.Service.ServiceKey, b.Service.ServiceKey)
	})
	if rate {
		fmt.Fprintln(w, "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS")
	} else {
		fmt.Fprintln(w, "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes")
	}
	fmt.Fprintln(w, "  -> RemoteAddress:Port")
	row := func(head string, s ipvs.Stats) {
		v := [5]uint64{s.Connections, s.PacketsIn, s.PacketsOut, s.BytesIn, s.BytesOut}
		if rate {
			v = [5]uint64{s.CPS, s.PPSIn, s.PPSOut, s.BPSIn, s.BPSOut}
		}
		fmt.Fprintf(w, "%-33s %8d %8d %8d %8d %8d\n", head, v[0], v[1], v[2], v[3], v[4])
	}
	for _, vc := range vcs {
		row(serviceName(vc.Service.ServiceKey), vc.Service.Stats)
		dests := slices.Clone(vc.Dests)
		slices.SortFunc(dests, func(a, b ipvs.Destination) int {
			return cmp.Or(a.Addr.Compare(b.Addr), cmp.Compare(a.Port, b.Port))
		})
		for _, d := range dests {
			row("  -> "+netip.AddrPortFrom(d.Addr, d.Port).String(), d.Stats)
		}
	}
}

// compareServices is ipvsadm's order of services: by firewall mark (so
// the address-keyed ones come first), family, protocol, address, port.
func compareServices(a, b ipvs.ServiceKey) int {
	return cmp.Or(cmp.Compare(a.FWMark, b.FWMark), cmp.Compare(a.Family, b.Family),
		cmp.Compare(a.Protocol, b.Protocol), a.Addr.Compare(b.Addr), cmp.Compare(a.Port, b.Port))
}

// serviceName is ipvsadm's "TCP  10.0.0.100:80", "UDP  [2001:db8::1]:53",
// "FWM  5" (with "IPv6" after a fwmark of that family).
func serviceName(k ipvs.ServiceKey) string {
	if k.FWMark != 0 {
		s := "FWM  " + strconv.FormatUint(uint64(k.FWMark), 10)
		if k.Family == ipvs.INET6 {
			s += " IPv6"
		}
		return s
	}
	proto := map[ipvs.Protocol]string{ipvs.TCP: "TCP", ipvs.UDP: "UDP", ipvs.SCTP: "SCTP"}[k.Protocol]
	return proto + "  " + netip.AddrPortFrom(k.Addr, k.Port).String()
}

// waitDrained polls the kernel's counters every `every` until real has no
// active connection in any held virtual, printing the count when it
// changes; 0 once drained, 1 at the timeout or when the real is not in
// the table, 3 when directord cannot be asked.
func waitDrained(sock, real string, timeout, every time.Duration, stdout, stderr io.Writer) int {
	want, err := netip.ParseAddrPort(real)
	if err != nil {
		fmt.Fprintln(stderr, "directorctl:", err)
		return 2
	}
	deadline := time.Now().Add(timeout)
	last := -1
	for {
		resp, rc := ask(sock, "stats", "", stderr)
		if resp == nil {
			return rc
		}
		active, found := 0, false
		for _, vc := range resp.Counters {
			for _, d := range vc.Dests {
				if netip.AddrPortFrom(d.Addr, d.Port) == netip.AddrPortFrom(want.Addr().Unmap(), want.Port()) {
					found = true
					active += int(d.ActiveConns)
				}
			}
		}
		if !found {
			fmt.Fprintf(stderr, "directorctl: %s is in no virtual held here\n", real)
			return 1
		}
		if active != last {
			fmt.Fprintf(stdout, "%s: %d active connections\n", real, active)
			last = active
		}
		if active == 0 {
			fmt.Fprintf(stdout, "%s drained\n", real)
			return 0
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(stderr, "directorctl: %s still has %d active connections after %v\n", real, active, timeout)
			return 1
		}
		time.Sleep(every)
	}
}
