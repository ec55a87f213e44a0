package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrMaintenance marks a real forced down by a maintenancedir file: it goes
// down at once, whatever failurecount says.
var ErrMaintenance = errors.New("server in maintenance")

// maintenanceCheck looks for a file named after the real in the
// maintenance directory before running the real check. Names, as in
// ldirectord: ip:port, ip, fqdn:port, fqdn, short:port, short (IPv6
// addresses in brackets). The name forms are used once the background
// reverse lookup has found them (nameCache): a check never waits for DNS.
type maintenanceCheck struct {
	dir   string
	addr  netip.Addr
	port  string
	ip    []string // ip:port, ip
	inner Checker
}

func newMaintenance(s Spec, inner Checker) *maintenanceCheck {
	ip := s.Addr.String()
	if s.Addr.Is6() {
		ip = "[" + ip + "]"
	}
	port := strconv.Itoa(int(s.Port))
	reverseNames.want(s.Addr) // start the lookup now, in the background
	return &maintenanceCheck{dir: s.MaintenanceDir, addr: s.Addr, port: port, ip: []string{ip + ":" + port, ip}, inner: inner}
}

func (m *maintenanceCheck) Check(ctx context.Context) error {
	names := m.ip
	if fqdn := reverseNames.want(m.addr); fqdn != "" {
		names = append(names[:len(names):len(names)], fqdn+":"+m.port, fqdn)
		if short, _, ok := strings.Cut(fqdn, "."); ok && short != "" {
			names = append(names, short+":"+m.port, short)
		}
	}
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(m.dir, n)); err == nil {
			return fmt.Errorf("%w (%s)", ErrMaintenance, filepath.Join(m.dir, n))
		}
	}
	return m.inner.Check(ctx)
}

// Reverse lookups for maintenance names: each bounded in time, at most a
// few at once, refreshed in the background; a failed one is retried
// later. A resolver that never answers costs a goroutine per lookup for
// nameLookupTimeout, never a check's time.
const (
	nameLookupTimeout = 2 * time.Second
	nameRefresh       = time.Minute // a name known is looked up again after this
	nameRetry         = 10 * time.Second
	nameLookupsAtOnce = 4
)

// nameCache maps an address to its reverse name as last looked up.
type nameCache struct {
	resolve func(ctx context.Context, addr string) ([]string, error)
	mu      sync.Mutex
	entries map[netip.Addr]*nameEntry
	slots   chan struct{} // a token per lookup in flight
	swept   time.Time
}

type nameEntry struct {
	fqdn     string    // "" while unknown or when the address has none
	next     time.Time // when to look it up again
	used     time.Time // last asked for: entries of reals gone are dropped
	inFlight bool
}

var reverseNames = newNameCache(net.DefaultResolver.LookupAddr)

func newNameCache(resolve func(context.Context, string) ([]string, error)) *nameCache {
	return &nameCache{resolve: resolve, entries: map[netip.Addr]*nameEntry{}, slots: make(chan struct{}, nameLookupsAtOnce)}
}

// want returns the name known for addr ("" if none yet) and, when the
// entry is due, starts a lookup in the background. It never blocks.
func (c *nameCache) want(addr netip.Addr) string {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.swept) > nameRefresh {
		c.swept = now
		for a, e := range c.entries {
			if !e.inFlight && now.Sub(e.used) > 10*nameRefresh {
				delete(c.entries, a)
			}
		}
	}
	e := c.entries[addr]
	if e == nil {
		e = &nameEntry{}
		c.entries[addr] = e
	}
	e.used = now
	if !e.inFlight && !now.Before(e.next) {
		select {
		case c.slots <- struct{}{}:
			e.inFlight = true
			go c.lookup(addr, e)
		default: // enough lookups in flight: the next pass tries again
		}
	}
	return e.fqdn
}

func (c *nameCache) lookup(addr netip.Addr, e *nameEntry) {
	defer func() { <-c.slots }()
	ctx, cancel := context.WithTimeout(context.Background(), nameLookupTimeout)
	defer cancel()
	fqdns, err := c.resolve(ctx, addr.String())
	c.mu.Lock()
	defer c.mu.Unlock()
	e.inFlight = false
	if err != nil || len(fqdns) == 0 {
		// Keep a name found before: a resolver that is down now does
		// not take a real out of maintenance.
		e.next = time.Now().Add(nameRetry)
		return
	}
	e.fqdn = strings.TrimSuffix(fqdns[0], ".")
	e.next = time.Now().Add(nameRefresh)
}
