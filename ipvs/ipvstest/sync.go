package ipvstest

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/lvsdirector/director/ipvs"
)

// Sync is an in-memory ipvs.Sync with the kernel's answers: one daemon per
// role, EEXIST and ESRCH as ipvs.ErrDaemonRunning / ErrDaemonNotRunning.
// Fail, when set, is returned by the next StartDaemon instead.
type Sync struct {
	mu       sync.Mutex
	daemons  map[ipvs.SyncState]ipvs.SyncDaemon
	timeouts ipvs.Timeouts
	Conns    int
	Fail     error
	Log      []string // "start master eth1 id 1", "stop backup", ...
}

var _ ipvs.Sync = (*Sync)(nil)

func (s *Sync) StartDaemon(_ context.Context, d ipvs.SyncDaemon) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.Fail; err != nil {
		s.Fail = nil
		return err
	}
	if _, ok := s.daemons[d.State]; ok {
		return ipvs.ErrDaemonRunning
	}
	if s.daemons == nil {
		s.daemons = map[ipvs.SyncState]ipvs.SyncDaemon{}
	}
	s.daemons[d.State] = d
	s.Log = append(s.Log, fmt.Sprintf("start %s %s id %d", d.State, d.Interface, d.SyncID))
	return nil
}

func (s *Sync) StopDaemon(_ context.Context, state ipvs.SyncState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.daemons[state]; !ok {
		return ipvs.ErrDaemonNotRunning
	}
	delete(s.daemons, state)
	s.Log = append(s.Log, "stop "+state.String())
	return nil
}

func (s *Sync) Daemons(context.Context) ([]ipvs.SyncDaemon, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ipvs.SyncDaemon, 0, len(s.daemons))
	for _, d := range s.daemons {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].State < out[j].State })
	return out, nil
}

func (s *Sync) Timeouts(context.Context) (ipvs.Timeouts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.timeouts, nil
}

func (s *Sync) SetTimeouts(_ context.Context, t ipvs.Timeouts) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.TCP != 0 {
		s.timeouts.TCP = t.TCP
	}
	if t.TCPFin != 0 {
		s.timeouts.TCPFin = t.TCPFin
	}
	if t.UDP != 0 {
		s.timeouts.UDP = t.UDP
	}
	return nil
}

func (s *Sync) Connections(context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Conns, nil
}

// Running reports the daemons' roles, sorted: "", "backup", "master backup".
func (s *Sync) Running() string {
	ds, _ := s.Daemons(context.Background())
	out := ""
	for i := len(ds) - 1; i >= 0; i-- { // master first
		if out != "" {
			out += " "
		}
		out += ds[i].State.String()
	}
	return out
}
