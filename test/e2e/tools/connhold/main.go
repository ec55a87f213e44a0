// Command connhold is the load generator of the connection-sync bench
// (test/e2e/bench_sync.sh): it holds established connections through a
// VIP across a takeover and counts which survived, or opens new
// connections at a fixed rate.
//
//	connhold hold -addr VIP:PORT [-n 1000] [-interval 100ms] [-stall 3s] [-ramp 250] [-path /]
//	    Opens N keep-alive HTTP sessions (at -ramp per second), each asking
//	    for PATH every -interval, and prints "ready ready=K n=N setup_ms=T"
//	    once every session has had its first answer (or failed). SIGUSR1
//	    marks "takeover now"; SIGTERM or SIGINT prints one line of key=value
//	    and exits:
//	      survived  answered after the mark, no request waited over -stall
//	      reset     ECONNRESET/EPIPE after the mark
//	      eof       the server closed it after the mark
//	      stalled   open, but a request waited over -stall (or no answer
//	                since the mark)
//	      other     another error after the mark (timeout, non-2xx, ...)
//	      lost_before_mark  failed before the mark (or never set up)
//	      longest_stall_ms  longest request wait after the mark, among
//	                sessions not ended by an error (still-waiting counted
//	                to the report)
//	      all_back_ms  mark to the last survivor's first answer after it
//	      baseline_wait_ms  longest request wait before the mark
//
//	connhold rate -addr VIP:PORT [-rate 1000] [-duration 10s] [-path /]
//	    Opens -rate new connections per second for -duration, one request
//	    each (Connection: close), and prints one key=value line.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	if len(args) < 1 {
		fmt.Fprintln(os.Stderr, "usage: connhold hold|rate -addr VIP:PORT [flags]")
		return 2
	}
	switch args[0] {
	case "hold":
		return runHoldCmd(args[1:])
	case "rate":
		return runRateCmd(args[1:])
	}
	fmt.Fprintf(os.Stderr, "connhold: unknown mode %q (hold, rate)\n", args[0])
	return 2
}

func runHoldCmd(args []string) int {
	fs := flag.NewFlagSet("hold", flag.ContinueOnError)
	var cfg HoldConfig
	fs.StringVar(&cfg.Addr, "addr", "", "VIP:PORT")
	fs.StringVar(&cfg.Path, "path", "/", "path to request")
	fs.IntVar(&cfg.N, "n", 1000, "concurrent sessions")
	fs.DurationVar(&cfg.Interval, "interval", 100*time.Millisecond, "pause between an answer and the next request")
	fs.DurationVar(&cfg.Stall, "stall", 3*time.Second, "a request waiting longer is a stall")
	fs.IntVar(&cfg.Ramp, "ramp", 250, "new connections per second while setting up")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if cfg.Addr == "" || cfg.N < 1 {
		fmt.Fprintln(os.Stderr, "connhold hold: -addr and -n >= 1 are needed")
		return 2
	}
	// Signals first: a mark or stop sent during the set-up is not lost.
	mark := make(chan os.Signal, 1)
	signal.Notify(mark, syscall.SIGUSR1)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	h := NewHold(cfg)
	t0 := time.Now()
	setup := make(chan int, 1)
	go func() { setup <- h.Setup(ctx) }()
	for {
		select {
		case n := <-setup:
			fmt.Printf("ready ready=%d n=%d setup_ms=%d\n", n, cfg.N, time.Since(t0).Milliseconds())
			setup = nil
		case <-mark:
			h.Mark()
			fmt.Println("mark")
		case <-stop:
			r := h.Report()
			fmt.Println(r.String())
			cancel()
			h.Close()
			return 0
		}
	}
}

func runRateCmd(args []string) int {
	fs := flag.NewFlagSet("rate", flag.ContinueOnError)
	var cfg RateConfig
	fs.StringVar(&cfg.Addr, "addr", "", "VIP:PORT")
	fs.StringVar(&cfg.Path, "path", "/", "path to request")
	fs.IntVar(&cfg.Rate, "rate", 1000, "new connections per second")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "for how long")
	fs.IntVar(&cfg.MaxInflight, "max-inflight", 2000, "connections open at once at most")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if cfg.Addr == "" || cfg.Rate < 1 || cfg.Duration <= 0 {
		fmt.Fprintln(os.Stderr, "connhold rate: -addr, -rate >= 1 and -duration > 0 are needed")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	fmt.Println(RunRate(ctx, cfg).String())
	return 0
}
