package main

import (
	"context"
	"time"

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
