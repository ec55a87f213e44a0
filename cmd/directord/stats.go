package main

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/lvsdirector/director/director"
	"github.com/lvsdirector/director/ipvs"

	"github.com/lvsdirector/director/failover/control"
	"github.com/lvsdirector/director/failover/resource"
)

// statsTimeout bounds the kernel reads of one stats request.
const statsTimeout = 5 * time.Second

// answerStats replies to a stats request with the kernel's counters of
// the virtuals of every in-process director running here (those of held
// groups), read now. Run off the loop.
func (d *daemon) answerStats(req control.Request) {
	ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
	defer cancel()
	resp := control.Response{OK: true}
	for _, k := range d.order {
		for _, a := range d.groups[k].Agents {
			r, ok := a.(*resource.Director)
			if !ok {
				continue
			}
			c, err := r.Counters(ctx)
			if err != nil {
				req.Reply <- control.Response{Text: "stats: " + err.Error()}
				return
			}
			resp.Counters = append(resp.Counters, c...)
		}
	}
	req.Reply <- resp
}

// answerDrain drains (or undrains) a real, named ADDR:PORT, in every
// in-process director running here. Run off the loop: it waits for the
// table write.
func (d *daemon) answerDrain(req control.Request, on bool) {
	ap, err := netip.ParseAddrPort(req.Arg)
	if err != nil {
		req.Reply <- control.Response{Text: req.Cmd + ": a real server is ADDR:PORT (10.0.1.11:80, [2001:db8::11]:80), not " + req.Arg}
		return
	}
	key := ipvs.DestKey{Addr: ap.Addr().Unmap(), Port: ap.Port()}
	ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
	defer cancel()
	var done, errs []string
	for _, k := range d.order {
		for _, a := range d.groups[k].Agents {
			r, ok := a.(*resource.Director)
			if !ok {
				continue
			}
			switch err := r.Drain(ctx, key, on); {
			case err == nil:
				done = append(done, k)
			case errors.Is(err, director.ErrNotRunning):
			default:
				errs = append(errs, k+": "+err.Error())
			}
		}
	}
	switch {
	case len(done) > 0:
		verb := "drained"
		if !on {
			verb = "undrained"
		}
		req.Reply <- control.Response{OK: true, Text: key.String() + " " + verb + " (group " + strings.Join(done, ", ") + ")"}
	case len(errs) > 0:
		req.Reply <- control.Response{Text: req.Cmd + ": " + strings.Join(errs, "; ")}
	default:
		req.Reply <- control.Response{Text: req.Cmd + ": no director runs here (this node holds no ldirectord:: group)"}
	}
}
