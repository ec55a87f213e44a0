package main

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/lvsdirector/director/failover/haconf"
	"github.com/lvsdirector/director/healthcheck"
)

// pingReport is one round of a ping node: whether any of its addresses
// answered.
type pingReport struct {
	node string
	up   bool
}

// pingNodes sends an ICMP echo to every ping / ping_group node each
// keepalive, as heartbeat's ping media do, and reports the nodes that
// answered. Silence is not reported: the state machine declares a ping
// node dead after deadping without an answer.
func pingNodes(ctx context.Context, nodes []haconf.Ping, every time.Duration, out chan<- pingReport, log *slog.Logger) {
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pingNode(ctx, n, every, out, log)
		}()
	}
	wg.Wait()
}

func pingNode(ctx context.Context, n haconf.Ping, every time.Duration, out chan<- pingReport, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	warned := map[string]bool{}
	for {
		up := false
		for _, a := range n.Addrs {
			addr, err := resolve(ctx, a)
			if err != nil {
				if !warned[a] {
					log.Warn("ping node: cannot resolve", "node", n.Name, "addr", a, "err", err)
					warned[a] = true
				}
				continue
			}
			c, err := healthcheck.New(healthcheck.Spec{Type: "ping", Addr: addr, Timeout: every, Count: 1})
			if err != nil {
				log.Error("ping node", "node", n.Name, "err", err)
				return
			}
			cctx, cancel := context.WithTimeout(ctx, every)
			err = c.Check(cctx)
			cancel()
			if err == nil {
				up = true
				break
			}
			log.Debug("ping node: no answer", "node", n.Name, "addr", addr, "err", err)
		}
		if up {
			select {
			case out <- pingReport{node: n.Name, up: true}:
			case <-ctx.Done():
				return
			}
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// resolve takes an address as written in ha.cf: an IP or a host name
// (looked up every round, so a changed name is followed).
func resolve(ctx context.Context, s string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", s)
	if err != nil {
		return netip.Addr{}, err
	}
	if len(ips) == 0 {
		return netip.Addr{}, &net.DNSError{Err: "no address", Name: s}
	}
	return ips[0].Unmap(), nil
}
