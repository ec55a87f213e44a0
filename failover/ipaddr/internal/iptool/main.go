// Command iptool drives failover/ipaddr for the VM tests:
//
//	iptool add|del|has ADDR[/BITS] [IFACE [LABEL]]
package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lvsdirector/director/failover/ipaddr"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: iptool add|del|has ADDR[/BITS] [IFACE [LABEL]]")
		os.Exit(2)
	}
	var a ipaddr.Address
	addr, bits, _ := strings.Cut(os.Args[2], "/")
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	a.Addr = ip
	if bits != "" {
		a.Bits, _ = strconv.Atoi(bits)
	}
	if len(os.Args) > 3 {
		a.Iface = os.Args[3]
	}
	if len(os.Args) > 4 {
		a.Label = os.Args[4]
	}
	m, err := ipaddr.New(ipaddr.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer m.Close()
	switch os.Args[1] {
	case "add":
		t0 := time.Now()
		err = m.Add(context.Background(), a)
		if err == nil {
			fmt.Printf("added and announced %s in %v\n", a, time.Since(t0).Round(time.Microsecond))
		}
	case "del":
		err = m.Del(a)
	case "has":
		var ok bool
		ok, err = m.Has(a)
		if err == nil && !ok {
			os.Exit(1)
		}
	default:
		err = fmt.Errorf("unknown command %s", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
