package ipvs

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// Errors the Memory table returns where the kernel returns EEXIST / ENOENT.
var (
	ErrExists   = errors.New("already exists")
	ErrNotFound = errors.New("no such service or destination")
)

// Memory is an in-memory Table that behaves like the kernel's for the
// operations the director uses: it refuses duplicates and missing entries.
type Memory struct {
	mu       sync.Mutex
	services map[ServiceKey]*memService
	order    []ServiceKey // insertion order, as the kernel lists them
	// Calls counts Apply calls, Ops the ops they carried (for tests).
	Calls, Ops int
}

type memService struct {
	svc   Service
	dests []Destination
}

// NewMemory returns an empty table.
func NewMemory() *Memory { return &Memory{services: map[ServiceKey]*memService{}} }

// Services implements Table.
func (m *Memory) Services(context.Context) ([]Service, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Service, 0, len(m.order))
	for _, k := range m.order {
		out = append(out, m.services[k].svc)
	}
	return out, nil
}

// Destinations implements Table.
func (m *Memory) Destinations(_ context.Context, k ServiceKey) ([]Destination, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.services[k]
	if !ok {
		return nil, ErrNotFound
	}
	return slices.Clone(s.dests), nil
}

// Apply implements Table.
func (m *Memory) Apply(_ context.Context, ops []Op) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Calls++
	m.Ops += len(ops)
	var failed []OpError
	for _, op := range ops {
		if err := m.apply(op); err != nil {
			failed = append(failed, OpError{Op: op, Err: err})
		}
	}
	if failed != nil {
		return &ApplyError{Failed: failed, Total: len(ops)}
	}
	return nil
}

func (m *Memory) apply(op Op) error {
	if err := op.Validate(); err != nil {
		return err
	}
	k := op.Service.ServiceKey
	s, ok := m.services[k]
	switch op.Kind {
	case AddService:
		if ok {
			return ErrExists
		}
		svc := op.Service
		svc.Flags &^= FlagHashed
		m.services[k] = &memService{svc: svc}
		m.order = append(m.order, k)
		return nil
	}
	if !ok {
		return ErrNotFound
	}
	i := slices.IndexFunc(s.dests, func(d Destination) bool { return d.DestKey == op.Dest.DestKey })
	switch op.Kind {
	case UpdateService:
		svc := op.Service
		svc.Flags &^= FlagHashed
		s.svc = svc
	case DeleteService:
		delete(m.services, k)
		m.order = slices.DeleteFunc(m.order, func(o ServiceKey) bool { return o == k })
	case AddDest:
		if i >= 0 {
			return ErrExists
		}
		s.dests = append(s.dests, op.Dest)
	case UpdateDest:
		if i < 0 {
			return ErrNotFound
		}
		s.dests[i] = op.Dest
	case DeleteDest:
		if i < 0 {
			return ErrNotFound
		}
		s.dests = slices.Delete(s.dests, i, i+1)
	}
	return nil
}

// Close implements Table.
func (m *Memory) Close() error { return nil }
