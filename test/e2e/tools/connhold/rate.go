package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// RateConfig: new connections per second for a while, each one request
// ("Connection: close") and done.
type RateConfig struct {
	Addr        string
	Path        string
	Rate        int
	Duration    time.Duration
	MaxInflight int
	Dial        time.Duration
}

// RateResult counts what the rate mode did.
type RateResult struct {
	Want      int // Rate × Duration
	Started   int
	OK        int
	Failed    int
	Skipped   int // not started: MaxInflight connections were open already
	Elapsed   time.Duration
	ExampleEr string
}

func (r RateResult) String() string {
	secs := r.Elapsed.Seconds()
	if secs <= 0 {
		secs = 1
	}
	s := fmt.Sprintf("want=%d started=%d ok=%d failed=%d skipped=%d secs=%.1f ok_per_sec=%.0f",
		r.Want, r.Started, r.OK, r.Failed, r.Skipped, secs, float64(r.OK)/secs)
	if r.ExampleEr != "" {
		s += fmt.Sprintf(" example_err=%q", r.ExampleEr)
	}
	return s
}

// RunRate starts connections on schedule (catching up when it fell
// behind, never more than MaxInflight at once) and waits for them all.
func RunRate(ctx context.Context, cfg RateConfig) RateResult {
	if cfg.Path == "" {
		cfg.Path = "/"
	}
	if cfg.MaxInflight <= 0 {
		cfg.MaxInflight = 2000
	}
	if cfg.Dial <= 0 {
		cfg.Dial = 3 * time.Second
	}
	want := int(float64(cfg.Rate) * cfg.Duration.Seconds())
	res := RateResult{Want: want}
	req := []byte("GET " + cfg.Path + " HTTP/1.1\r\nHost: " + cfg.Addr + "\r\nUser-Agent: connhold\r\nConnection: close\r\n\r\n")
	var ok, failed atomic.Int64
	var exMu sync.Mutex
	sem := make(chan struct{}, cfg.MaxInflight)
	var wg sync.WaitGroup
	t0 := time.Now()
	end := t0.Add(cfg.Duration)
	for n := 0; n < want && ctx.Err() == nil; {
		due := int(float64(cfg.Rate) * time.Since(t0).Seconds())
		if due > want || time.Now().After(end) {
			due = want
		}
		for ; n < due; n++ {
			select {
			case sem <- struct{}{}:
			default:
				res.Skipped++
				continue
			}
			res.Started++
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				err := oneShot(ctx, cfg, req)
				if err == nil {
					ok.Add(1)
					return
				}
				failed.Add(1)
				exMu.Lock()
				if res.ExampleEr == "" {
					res.ExampleEr = err.Error()
				}
				exMu.Unlock()
			}()
		}
		time.Sleep(2 * time.Millisecond)
	}
	wg.Wait()
	res.Elapsed = time.Since(t0)
	res.OK, res.Failed = int(ok.Load()), int(failed.Load())
	return res
}

func oneShot(ctx context.Context, cfg RateConfig, req []byte) error {
	d := net.Dialer{Timeout: cfg.Dial}
	c, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = exchange(c, bufio.NewReader(c), req)
	return err
}
