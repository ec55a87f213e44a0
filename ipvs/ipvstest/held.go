// Package ipvstest has table fakes for other packages' tests.
package ipvstest

import (
	"context"

	"github.com/lvsdirector/director/ipvs"
)

// HeldTable is a memory table whose writes wait until Let is sent to (or
// closed), like a kernel table write that takes seconds. Each write sends
// on Entered first (buffered, 4).
type HeldTable struct {
	*ipvs.Memory
	Entered chan struct{}
	Let     chan struct{}
}

// NewHeldTable returns an empty HeldTable.
func NewHeldTable() HeldTable {
	return HeldTable{ipvs.NewMemory(), make(chan struct{}, 4), make(chan struct{})}
}

// Apply waits for Let (or ctx), then applies ops.
func (t HeldTable) Apply(ctx context.Context, ops []ipvs.Op) error {
	t.Entered <- struct{}{}
	select {
	case <-t.Let:
	case <-ctx.Done():
		return ctx.Err()
	}
	return t.Memory.Apply(ctx, ops)
}
