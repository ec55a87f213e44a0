// Command checkfloor is the floor of an http health check: the syscalls
// one check makes (socket, connect, write the request, read the answer,
// close), in the simplest loop that reaches the same rate as the checker
// (checkload) on the same reals: N addresses, each once per interval,
// spread evenly, W worker threads making blocking syscalls. No scheduler,
// no parsing beyond finding "ok" in the answer, no logging. It prints the
// rate reached, CPU per 1,000 checks (user and kernel) and allocations per
// check, in the form checkload prints them, for the side by side in
// test/bench/checkload.sh.
//
//	checkfloor -n 10000 -interval 1s -steady 10s
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	n := flag.Int("n", 2000, "real servers (127.1.x.y:80)")
	interval := flag.Duration("interval", time.Second, "each real once per interval")
	steady := flag.Duration("steady", 10*time.Second, "measurement window")
	workers := flag.Int("workers", 64, "threads making checks")
	flag.Parse()

	req := []byte("GET /test.html HTTP/1.0\r\nHost: x\r\nUser-Agent: checkfloor\r\n\r\n")
	jobs := make(chan [4]byte, 4096)
	var ok, bad atomic.Uint64
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			buf := make([]byte, 4096)
			for a := range jobs {
				if check(a, req, buf) {
					ok.Add(1)
				} else {
					bad.Add(1)
				}
			}
		}()
	}
	// Feed: every real once per interval, evenly spread.
	stop := make(chan struct{})
	go func() {
		step := *interval / time.Duration(*n)
		next := time.Now()
		for i := 0; ; i = (i + 1) % *n {
			select {
			case <-stop:
				close(jobs)
				return
			default:
			}
			next = next.Add(step)
			if d := time.Until(next); d > time.Millisecond {
				time.Sleep(d)
			}
			j := i + 1
			jobs <- [4]byte{127, byte(1 + j>>16), byte(j >> 8), byte(j)}
		}
	}()
	time.Sleep(2 * time.Second) // warm up
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	c0, u0, s0, w0 := ok.Load()+bad.Load(), cpu(false), cpu(true), time.Now()
	time.Sleep(*steady)
	c1, u1, s1, w1 := ok.Load()+bad.Load(), cpu(false), cpu(true), time.Now()
	runtime.ReadMemStats(&m1)
	close(stop)
	wg.Wait()
	checks := float64(c1 - c0)
	wall := w1.Sub(w0).Seconds()
	fmt.Printf("floor: reals=%d interval=%v workers=%d\n", *n, *interval, *workers)
	fmt.Printf("floor steady state: %.1f checks/s (%d failed in all), CPU %.0f%% of one core (user %.0f%%, kernel %.0f%%)\n",
		checks/wall, bad.Load(), 100*(u1-u0+s1-s0).Seconds()/wall, 100*(u1-u0).Seconds()/wall, 100*(s1-s0).Seconds()/wall)
	fmt.Printf("floor per 1000 checks: CPU %.1f ms (user %.1f ms, kernel %.1f ms), %.1f allocations per check\n",
		1000*1000*(u1-u0+s1-s0).Seconds()/checks, 1000*1000*(u1-u0).Seconds()/checks, 1000*1000*(s1-s0).Seconds()/checks,
		float64(m1.Mallocs-m0.Mallocs)/checks)
	if bad.Load() > 0 && ok.Load() == 0 {
		os.Exit(1)
	}
}

// check is one http check of addr:80 with blocking syscalls.
func check(a [4]byte, req, buf []byte) bool {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer syscall.Close(fd)
	tv := syscall.Timeval{Sec: 2}
	syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv)
	if err := syscall.Connect(fd, &syscall.SockaddrInet4{Port: 80, Addr: a}); err != nil {
		return false
	}
	if _, err := syscall.Write(fd, req); err != nil {
		return false
	}
	got := 0
	for got < len(buf) {
		k, err := syscall.Read(fd, buf[got:])
		if err != nil {
			return false
		}
		if k == 0 {
			break
		}
		got += k
	}
	return bytes.HasPrefix(buf[:got], []byte("HTTP/1.1 200")) && bytes.Contains(buf[:got], []byte("ok"))
}

func cpu(kernel bool) time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	if kernel {
		return time.Duration(ru.Stime.Nano())
	}
	return time.Duration(ru.Utime.Nano())
}
