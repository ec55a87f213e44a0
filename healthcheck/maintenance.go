package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrMaintenance marks a real forced down by a maintenancedir file: it goes
// down at once, whatever failurecount says.
var ErrMaintenance = errors.New("server in maintenance")

// maintenanceCheck looks for a file named after the real in the
// maintenance directory before running the real check. Names, as in
// ldirectord: ip:port, ip, fqdn:port, fqdn, short:port, short (IPv6
// addresses in brackets).
type maintenanceCheck struct {
	dir   string
	names []string
	inner Checker
}

func newMaintenance(s Spec, inner Checker) *maintenanceCheck {
	ip := s.Addr.String()
	if s.Addr.Is6() {
		ip = "[" + ip + "]"
	}
	port := strconv.Itoa(int(s.Port))
	names := []string{ip + ":" + port, ip}
	// The reverse name is looked up once, when the check is built (at
	// start and reload), not on every pass.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if fqdns, err := net.DefaultResolver.LookupAddr(ctx, s.Addr.String()); err == nil && len(fqdns) > 0 {
		fqdn := strings.TrimSuffix(fqdns[0], ".")
		names = append(names, fqdn+":"+port, fqdn)
		if short, _, ok := strings.Cut(fqdn, "."); ok && short != "" {
			names = append(names, short+":"+port, short)
		}
	}
	return &maintenanceCheck{dir: s.MaintenanceDir, names: names, inner: inner}
}

func (m *maintenanceCheck) Check(ctx context.Context) error {
	for _, n := range m.names {
		if _, err := os.Stat(filepath.Join(m.dir, n)); err == nil {
			return fmt.Errorf("%w (%s)", ErrMaintenance, filepath.Join(m.dir, n))
		}
	}
	return m.inner.Check(ctx)
}
