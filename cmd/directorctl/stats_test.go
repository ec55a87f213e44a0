package main

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsdirector/director/director"
	"github.com/lvsdirector/director/failover/control"
	"github.com/lvsdirector/director/ipvs"
)

func TestPrintCounters(t *testing.T) {
	vcs := []director.VirtualCounters{{
		Service: ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.INET, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("10.0.0.100"), Port: 80},
			Stats: ipvs.Stats{Connections: 7, PacketsIn: 42, PacketsOut: 35, BytesIn: 2788, BytesOut: 123456789012, CPS: 1, PPSIn: 5, PPSOut: 4, BPSIn: 310, BPSOut: 402}},
		Dests: []ipvs.Destination{{DestKey: ipvs.DestKey{Addr: netip.MustParseAddr("10.0.1.12"), Port: 80}},
			{DestKey: ipvs.DestKey{Addr: netip.MustParseAddr("10.0.1.11"), Port: 80},
				Stats: ipvs.Stats{Connections: 4, PacketsIn: 24, PacketsOut: 20, BytesIn: 1596, BytesOut: 2036, BPSIn: 9}}},
	}, {
		Service: ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.INET6, FWMark: 5}},
	}, {
		Service: ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.INET6, Protocol: ipvs.UDP, Addr: netip.MustParseAddr("2001:db8::1"), Port: 53}},
	}}
	var b strings.Builder
	printCounters(&b, vcs, false)
	want := "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n" +
		"  -> RemoteAddress:Port\n" +
		"TCP  10.0.0.100:80                       7       42       35     2788 123456789012\n" +
		"  -> 10.0.1.11:80                        4       24       20     1596     2036\n" +
		"  -> 10.0.1.12:80                        0        0        0        0        0\n" +
		"UDP  [2001:db8::1]:53                    0        0        0        0        0\n" +
		"FWM  5 IPv6                              0        0        0        0        0\n"
	if b.String() != want {
		t.Errorf("--stats:\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	printCounters(&b, vcs[:1], true)
	want = "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n" +
		"  -> RemoteAddress:Port\n" +
		"TCP  10.0.0.100:80                       1        5        4      310      402\n" +
		"  -> 10.0.1.11:80                        0        0        0        9        0\n" +
		"  -> 10.0.1.12:80                        0        0        0        0        0\n"
	if b.String() != want {
		t.Errorf("--rate:\n%s\nwant\n%s", b.String(), want)
	}
}

func TestStatsFlagsExclusive(t *testing.T) {
	var out, errb strings.Builder
	if rc := run([]string{"--socket", "/nonexistent", "status", "--stats", "--rate"}, &out, &errb); rc != 2 || !strings.Contains(errb.String(), "one of --json, --stats and --rate") {
		t.Errorf("rc %d, stderr %q", rc, errb.String())
	}
}

// drain --wait asks directord to drain, then follows the real's active
// connections in the kernel's counters until they are gone.
func TestDrainWait(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "d.sock")
	reqs := make(chan control.Request)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- control.Serve(ctx, sock, reqs) }()
	defer func() { cancel(); <-served }()
	go func() {
		active := []uint32{2, 2, 1, 0}
		for req := range reqs {
			switch req.Cmd {
			case "drain":
				req.Reply <- control.Response{OK: true, Text: req.Arg + " drained (group 10.0.0.100)"}
			case "stats":
				n := active[0]
				if len(active) > 1 {
					active = active[1:]
				}
				req.Reply <- control.Response{OK: true, Counters: []director.VirtualCounters{{Dests: []ipvs.Destination{
					{DestKey: ipvs.DestKey{Addr: netip.MustParseAddr("10.0.1.11"), Port: 80}, ActiveConns: n},
					{DestKey: ipvs.DestKey{Addr: netip.MustParseAddr("10.0.1.12"), Port: 80}, ActiveConns: 9}}}}}
			}
		}
	}()
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	var out, errb strings.Builder
	start := time.Now()
	rc := run([]string{"--socket", sock, "drain", "10.0.1.11:80", "--wait", "--timeout", "30s"}, &out, &errb)
	want := "10.0.1.11:80 drained (group 10.0.0.100)\n10.0.1.11:80: 2 active connections\n10.0.1.11:80: 1 active connections\n10.0.1.11:80: 0 active connections\n10.0.1.11:80 drained\n"
	if rc != 0 || out.String() != want {
		t.Fatalf("rc %d, stdout\n%s\nwant\n%s\nstderr %s", rc, out.String(), want, errb.String())
	}
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("polled too fast: done in %v", d)
	}
	if rc := run([]string{"--socket", sock, "drain", "10.0.1.11"}, &out, &errb); rc != 2 {
		t.Errorf("drain without a port: rc %d", rc)
	}
}
