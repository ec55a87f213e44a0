// Command checkload measures the health checker at scale on the plain
// machine (no IPVS needed): the director runs with an in-memory table
// against N nginx real servers on loopback addresses (127.1.x.y:80), http
// negotiate every checkinterval. It prints the time until every real is
// up, CPU (% of one core) and RSS in steady state, the lateness of check
// starts against their schedule (p50/p99/max), and how long a failed
// real takes to leave the table and a healed one to come back.
//
//	checkload -n 10000 -docroot /var/tmp/checkload/www
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/lvsdirector/director/director"
	"github.com/lvsdirector/director/ipvs"
)

func main() {
	n := flag.Int("n", 2000, "real servers")
	docroot := flag.String("docroot", "", "nginx docroot base: <docroot>/<ip>/test.html")
	interval := flag.Duration("interval", time.Second, "checkinterval")
	steady := flag.Duration("steady", 10*time.Second, "steady-state measurement window")
	conc := flag.Int("concurrency", 0, "checks in flight at most (0 = default)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the steady-state window here")
	flag.Parse()
	if *docroot == "" {
		fmt.Fprintln(os.Stderr, "checkload: -docroot is required")
		os.Exit(2)
	}

	v := &director.Virtual{
		Service: ipvs.Service{ServiceKey: ipvs.ServiceKey{Family: ipvs.INET, Protocol: ipvs.TCP, Addr: netip.MustParseAddr("10.0.0.100"), Port: 80}, Scheduler: "wrr"},
		Check: director.Check{Type: "negotiate", Service: "http", Request: "/test.html", Receive: "ok", ReceiveRE: regexp.MustCompile("ok"),
			HTTPMethod: "GET", Timeout: 2 * time.Second, NegotiateTimeout: 2 * time.Second, Interval: *interval, FailureCount: 1},
		Quiescent: true,
		CleanStop: true,
	}
	for i := 0; i < *n; i++ {
		a := rip(i)
		v.Reals = append(v.Reals, &director.Real{CheckPort: 80, Dest: ipvs.Destination{DestKey: ipvs.DestKey{Addr: a, Port: 80}, Fwd: ipvs.Masq, Weight: 1}})
	}
	table := ipvs.NewMemory()
	d := director.New(&director.Config{Virtuals: []*director.Virtual{v}}, table, director.Options{
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Resync: time.Hour, Concurrency: *conc,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	t0 := time.Now()
	go func() { done <- d.Run(ctx) }()

	up := func() int {
		ds, _ := table.Destinations(ctx, v.Service.ServiceKey)
		c := 0
		for _, x := range ds {
			if x.Weight > 0 {
				c++
			}
		}
		return c
	}
	for up() < *n {
		if time.Since(t0) > 5*time.Minute {
			fmt.Printf("not all up after 5 min: %d/%d\n", up(), *n)
			os.Exit(1)
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Printf("reals=%d interval=%v\n", *n, *interval)
	fmt.Printf("all up after start: %v\n", time.Since(t0).Round(time.Millisecond))

	time.Sleep(2 * time.Second)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer f.Close()
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	r0, u0, s0, w0 := d.CheckStats().Runs, userCPU(), sysCPU(), time.Now()
	time.Sleep(*steady)
	r1, u1, s1, w1 := d.CheckStats().Runs, userCPU(), sysCPU(), time.Now()
	runtime.ReadMemStats(&m1)
	pprof.StopCPUProfile()
	wall := w1.Sub(w0)
	pct := func(d time.Duration) float64 { return 100 * d.Seconds() / wall.Seconds() }
	fmt.Printf("steady state: %.1f checks/s, CPU %.0f%% of one core (user %.0f%%, kernel %.0f%%), RSS %d MiB\n",
		float64(r1-r0)/wall.Seconds(), pct(u1-u0+s1-s0), pct(u1-u0), pct(s1-s0), rssKiB()/1024)
	per := func(d time.Duration) float64 { return 1000 * 1000 * d.Seconds() / float64(r1-r0) }
	fmt.Printf("per 1000 checks: CPU %.1f ms (user %.1f ms, kernel %.1f ms), %.1f allocations per check\n",
		per(u1-u0+s1-s0), per(u1-u0), per(s1-s0), float64(m1.Mallocs-m0.Mallocs)/float64(r1-r0))
	late := d.CheckStats().Lateness
	slices.Sort(late)
	if len(late) > 0 {
		fmt.Printf("check start lateness (last %d starts): p50 %v, p99 %v, max %v\n", len(late),
			late[len(late)/2].Round(time.Microsecond), late[len(late)*99/100].Round(time.Microsecond), late[len(late)-1].Round(time.Microsecond))
	}

	// Failure and recovery of one real, as the table sees it.
	victim := rip(*n / 2)
	page := filepath.Join(*docroot, victim.String(), "test.html")
	weightOf := func() int32 {
		ds, _ := table.Destinations(ctx, v.Service.ServiceKey)
		for _, x := range ds {
			if x.Addr == victim {
				return x.Weight
			}
		}
		return -1
	}
	os.Remove(page)
	tf := time.Now()
	for weightOf() != 0 {
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Printf("failed real to weight 0: %v (bound: checkinterval + negotiatetimeout = %v)\n",
		time.Since(tf).Round(time.Millisecond), *interval+v.Check.NegotiateTimeout)
	os.WriteFile(page, []byte("ok\n"), 0o644)
	th := time.Now()
	for weightOf() != 1 {
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Printf("healed real back to weight 1: %v\n", time.Since(th).Round(time.Millisecond))

	cancel()
	<-done
	fmt.Printf("stopped; cleanstop left %d services\n", func() int { s, _ := table.Services(context.Background()); return len(s) }())
}

// rip is the i-th real server address on loopback: 127.1.0.1, 127.1.0.2, ...
func rip(i int) netip.Addr {
	i++
	return netip.AddrFrom4([4]byte{127, 1 + byte(i>>16), byte(i >> 8), byte(i)})
}

func rusage() syscall.Rusage {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru
}

func userCPU() time.Duration { ru := rusage(); return time.Duration(ru.Utime.Nano()) }
func sysCPU() time.Duration  { ru := rusage(); return time.Duration(ru.Stime.Nano()) }

func rssKiB() int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			var k int
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:")), "%d", &k)
			return k
		}
	}
	return 0
}
