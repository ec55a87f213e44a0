package director

import (
	"context"
	"errors"
	"fmt"

	"github.com/lvsdirector/director/ipvs"
)

// ErrNotRunning is returned by Instance.Drain when no director runs.
var ErrNotRunning = errors.New("the director is not running")

// Drain sets real (an address:port of a real server) to weight 0 in every
// virtual that has it (on), or gives it back its configured weight (off).
// Its connections go on; no new ones are scheduled to it. The drain lasts
// across reloads until it is undone; a real no virtual has is an error.
func (d *Director) Drain(ctx context.Context, real ipvs.DestKey, on bool) error {
	req := drainReq{real: real, on: on, done: make(chan error, 1)}
	select {
	case d.drains <- req:
	case <-ctx.Done():
		return fmt.Errorf("drain %v: %w", real, ctx.Err())
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("drain %v: %w", real, ctx.Err())
	}
}

// setDrained is Drain on Run's goroutine.
func (d *Director) setDrained(ctx context.Context, real ipvs.DestKey, on bool) error {
	d.mu.Lock()
	known := false
	for _, v := range d.cfg.Virtuals {
		for _, r := range v.Reals {
			known = known || r.Dest.DestKey == real
		}
	}
	if !known {
		d.mu.Unlock()
		return fmt.Errorf("%v is not a real server of any virtual", real)
	}
	if d.drained == nil {
		d.drained = map[ipvs.DestKey]bool{}
	}
	if on {
		d.drained[real] = true
		d.log.Info("Draining real server: " + real.String() + " (weight 0 until undrained)")
	} else {
		delete(d.drained, real)
		d.log.Info("Undrained real server: " + real.String())
	}
	d.mu.Unlock()
	return d.reconcile(ctx, false)
}

// available is up and not drained: what "a real is up" means for the
// fallback and its command.
func (d *Director) available(v *Virtual, r *Real) bool {
	return d.up(v, r) && !d.drained[r.Dest.DestKey]
}
