package ipvs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hkwi/nlgo"
	"github.com/mqliang/libipvs"
)

// KernelOptions configures a Kernel.
type KernelOptions struct {
	// CallTimeout bounds each kernel call: one libipvs call, one batch of
	// netlink messages. Default 5s.
	CallTimeout time.Duration
	// Logger receives warnings (abandoned handles, ack overruns). Default
	// slog.Default().
	Logger *slog.Logger
}

// Errors of the Kernel table.
var (
	// ErrCallTimeout: a kernel call did not answer within CallTimeout.
	ErrCallTimeout = errors.New("ipvs kernel call timed out")
	// ErrClosed: the Kernel was closed.
	ErrClosed = errors.New("ipvs kernel table is closed")
)

// PanicError is a panic of libipvs turned into an error.
type PanicError struct {
	Call  string
	Value any
}

func (e *PanicError) Error() string { return fmt.Sprintf("%s panicked: %v", e.Call, e.Value) }

// Kernel is the kernel's IPVS table, in the network namespace the process
// (its first call) runs in. Reads go through github.com/mqliang/libipvs;
// Apply sends batches of generic netlink messages on its own socket.
//
// Every libipvs call is validated first (libipvs panics on some inputs), runs
// under recover, and has a deadline: a call that does not return in time
// makes Kernel abandon that libipvs handle (libipvs cannot cancel a call nor
// close a handle, so it leaks a socket and a goroutine) and open a new one
// for the next call.
//
// Kernel is safe for concurrent use, but calls are serialised.
type Kernel struct {
	mu      sync.Mutex
	timeout time.Duration
	log     *slog.Logger

	openLib func() (libipvs.IPVSHandle, error)
	dialNL  func(timeout time.Duration) (*nlClient, error)

	lib       libipvs.IPVSHandle
	nl        *nlClient
	chunk     int // batch size learned from receive buffer overruns (0: none)
	abandoned int
	closed    bool
	connPath  string // "" means /proc/self/net/ip_vs_conn; tests point it elsewhere
}

var _ Table = (*Kernel)(nil)

// NewKernel opens the IPVS table. It fails with an error wrapping
// ErrUnavailable when the kernel has no IPVS (module not loaded).
func NewKernel(opts KernelOptions) (*Kernel, error) {
	k := newKernel(opts, openLibipvs, nil)
	k.dialNL = func(timeout time.Duration) (*nlClient, error) { return dialNetlink(timeout, k.log) }
	ctx := context.Background()
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, err := k.handle(ctx); err != nil {
		k.closeLocked()
		return nil, err
	}
	// GetInfo is the cheapest command; it also reveals a missing
	// CAP_NET_ADMIN (every IPVS command, reads too, needs it).
	if _, err := libCall(k, ctx, "libipvs GetInfo", func(h libipvs.IPVSHandle) (libipvs.Info, error) { return h.GetInfo() }); err != nil {
		k.closeLocked()
		return nil, fmt.Errorf("IPVS: %w", err)
	}
	if _, err := k.netlink(); err != nil {
		k.closeLocked()
		return nil, err
	}
	return k, nil
}

func newKernel(opts KernelOptions, openLib func() (libipvs.IPVSHandle, error), dialNL func(time.Duration) (*nlClient, error)) *Kernel {
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Kernel{timeout: opts.CallTimeout, log: opts.Logger, openLib: openLib, dialNL: dialNL}
}

func openLibipvs() (libipvs.IPVSHandle, error) {
	h, err := libipvs.NewIPVSHandle(libipvs.IPVSHandleParams{LoadModule: false})
	if err != nil {
		if strings.Contains(err.Error(), "Invalid genl family") {
			return nil, fmt.Errorf("%w (libipvs: %v)", ErrUnavailable, err)
		}
		return nil, fmt.Errorf("opening libipvs handle: %w", err)
	}
	return h, nil
}

// Abandoned reports how many libipvs handles were given up after a call
// timed out or panicked (each leaks a socket and a goroutine). A growing
// number means the kernel or libipvs is wedged.
func (k *Kernel) Abandoned() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.abandoned
}

// Close releases the netlink socket. libipvs handles have no Close; their
// socket is left open (closing it under libipvs' reader goroutine could let
// that goroutine read from a reused descriptor).
func (k *Kernel) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.closeLocked()
}

func (k *Kernel) closeLocked() error {
	k.closed = true
	k.lib = nil
	var err error
	if k.nl != nil {
		err = k.nl.Close()
		k.nl = nil
	}
	return err
}

// guarded runs fn in a goroutine, turning a panic into a *PanicError, and
// waits at most timeout (and until ctx is done). stuck reports that fn was
// left running.
func guarded[T any](ctx context.Context, timeout time.Duration, what string, fn func() (T, error)) (v T, err error, stuck bool) {
	if err := ctx.Err(); err != nil {
		return v, fmt.Errorf("%s: %w", what, err), false
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r.err = &PanicError{Call: what, Value: p}
			}
			done <- r
		}()
		r.v, r.err = fn()
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-done:
		return r.v, r.err, false
	case <-t.C:
		return v, fmt.Errorf("%s: %w after %v", what, ErrCallTimeout, timeout), true
	case <-ctx.Done():
		return v, fmt.Errorf("%s: %w", what, ctx.Err()), true
	}
}

// handle returns the libipvs handle, opening one (under the deadline) if
// needed.
func (k *Kernel) handle(ctx context.Context) (libipvs.IPVSHandle, error) {
	if k.closed {
		return nil, ErrClosed
	}
	if k.lib != nil {
		return k.lib, nil
	}
	h, err, stuck := guarded(ctx, k.timeout, "opening libipvs handle", k.openLib)
	if stuck {
		k.abandoned++
		k.log.Warn("ipvs: opening a libipvs handle did not finish; abandoned it", "err", err, "abandoned", k.abandoned)
	}
	if err != nil {
		return nil, err
	}
	k.lib = h
	return h, nil
}

// libCall runs one libipvs call with recover and a deadline. After a
// timeout, a cancelled ctx or a panic the handle is abandoned.
func libCall[T any](k *Kernel, ctx context.Context, what string, fn func(libipvs.IPVSHandle) (T, error)) (T, error) {
	var zero T
	h, err := k.handle(ctx)
	if err != nil {
		return zero, err
	}
	v, err, stuck := guarded(ctx, k.timeout, what, func() (T, error) { return fn(h) })
	var pe *PanicError
	if stuck || errors.As(err, &pe) {
		k.lib = nil
		k.abandoned++
		k.log.Warn("ipvs: abandoning libipvs handle (it leaks a socket and a goroutine); the next call opens a new one",
			"call", what, "err", err, "abandoned", k.abandoned)
	}
	if err != nil {
		return zero, libError(what, err)
	}
	return v, nil
}

// libRead is libCall for reads: after a timeout it tries once more on a
// new handle. The known libipvs failure is a dead receive loop ("genl hub
// loop exit") after which every call on that handle blocks; a new handle
// works.
func libRead[T any](k *Kernel, ctx context.Context, what string, fn func(libipvs.IPVSHandle) (T, error)) (T, error) {
	v, err := libCall(k, ctx, what, fn)
	if err != nil && errors.Is(err, ErrCallTimeout) && ctx.Err() == nil {
		k.log.Warn("ipvs: retrying a read on a new libipvs handle", "call", what)
		return libCall(k, ctx, what, fn)
	}
	return v, err
}

// libError turns libipvs' netlink error messages into *KernelError.
func libError(what string, err error) error {
	var ne nlgo.NlMsgerr
	if errors.As(err, &ne) && len(ne.Data) >= 4 {
		code := int32(binary.NativeEndian.Uint32(ne.Data[:4]))
		return &KernelError{Cmd: what, Errno: syscall.Errno(-code)}
	}
	return err
}

// netlink returns the generic netlink client, dialing a new one if there
// is none or the last one is unusable.
func (k *Kernel) netlink() (*nlClient, error) {
	if k.closed {
		return nil, ErrClosed
	}
	if k.nl != nil && k.nl.b.broken {
		_ = k.nl.Close()
		k.nl = nil
	}
	if k.nl == nil {
		c, err := k.dialNL(k.timeout)
		if err != nil {
			return nil, err
		}
		if k.chunk > 0 && k.chunk < c.b.chunk {
			c.b.chunk = k.chunk
		}
		k.nl = c
	}
	return k.nl, nil
}

// Services implements Table (through libipvs).
func (k *Kernel) Services(ctx context.Context) ([]Service, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	list, err := libRead(k, ctx, "libipvs ListServices", func(h libipvs.IPVSHandle) ([]*libipvs.Service, error) { return h.ListServices() })
	if err != nil {
		return nil, fmt.Errorf("listing IPVS services: %w", err)
	}
	out := make([]Service, 0, len(list))
	for _, s := range list {
		svc, err := fromLibService(s)
		if err != nil {
			return nil, fmt.Errorf("listing IPVS services: %w", err)
		}
		out = append(out, svc)
	}
	return out, nil
}

// Destinations implements Table (through libipvs). A port-0 service (a
// persistent "all ports" service), which libipvs cannot name without
// panicking, is read with a generic netlink dump instead. A missing
// service gives an error matching ErrNotFound.
func (k *Kernel) Destinations(ctx context.Context, key ServiceKey) ([]Destination, error) {
	if err := key.Validate(); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if key.FWMark == 0 && key.Port == 0 {
		return k.netlinkDests(ctx, key)
	}
	ls := toLibKey(key)
	list, err := libRead(k, ctx, "libipvs ListDestinations", func(h libipvs.IPVSHandle) ([]*libipvs.Destination, error) {
		return h.ListDestinations(ls)
	})
	if err != nil {
		return nil, fmt.Errorf("listing destinations of %v: %w", key, err)
	}
	if len(list) == 0 {
		// The kernel dumps nothing for a missing service as for an
		// empty one: ask for the service itself.
		if err := k.checkService(ctx, key); err != nil {
			return nil, err
		}
	}
	out := make([]Destination, 0, len(list))
	for _, d := range list {
		dest, err := fromLibDest(d, key.Family)
		if err != nil {
			return nil, fmt.Errorf("listing destinations of %v: %w", key, err)
		}
		out = append(out, dest)
	}
	return out, nil
}

// checkService returns an ErrNotFound error if the service is missing. If
// the check itself fails it is logged and skipped.
func (k *Kernel) checkService(ctx context.Context, key ServiceKey) error {
	c, err := k.netlink()
	if err == nil {
		_, err = c.getService(ctx, k.timeout, key)
	}
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("listing destinations of %v: %w", key, err)
	}
	k.log.Warn("ipvs: could not check that a service with no destinations exists", "service", key, "err", err)
	return nil
}

func (k *Kernel) netlinkDests(ctx context.Context, key ServiceKey) ([]Destination, error) {
	c, err := k.netlink()
	if err != nil {
		return nil, fmt.Errorf("listing destinations of %v: %w", key, err)
	}
	out, err := c.dumpDests(ctx, k.timeout, key)
	if err != nil {
		return nil, fmt.Errorf("listing destinations of %v: %w", key, err)
	}
	if len(out) == 0 {
		if _, err := c.getService(ctx, k.timeout, key); err != nil {
			return nil, fmt.Errorf("listing destinations of %v: %w", key, err)
		}
	}
	return out, nil
}

// NetlinkServices lists the services with our own generic netlink dump
// instead of libipvs (64-bit counters). It is a cross-check and fallback;
// Services is the read path.
func (k *Kernel) NetlinkServices(ctx context.Context) ([]Service, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	c, err := k.netlink()
	if err != nil {
		return nil, fmt.Errorf("listing IPVS services: %w", err)
	}
	out, err := c.dumpServices(ctx, k.timeout)
	if err != nil {
		return nil, fmt.Errorf("listing IPVS services: %w", err)
	}
	return out, nil
}

// NetlinkDestinations is Destinations through our own generic netlink
// dump (see NetlinkServices).
func (k *Kernel) NetlinkDestinations(ctx context.Context, key ServiceKey) ([]Destination, error) {
	if err := key.Validate(); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.netlinkDests(ctx, key)
}

// Apply implements Table with batched generic netlink messages: a few
// hundred commands per sendmsg, each acknowledged. Invalid ops are reported
// without being sent; every valid op is sent, in order, unless the socket
// fails or ctx ends first (the ops not sent then fail with that error).
func (k *Kernel) Apply(ctx context.Context, ops []Op) error {
	if len(ops) == 0 {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	c, err := k.netlink()
	if err != nil {
		failed := make([]OpError, len(ops))
		for i, op := range ops {
			failed[i] = OpError{Op: op, Err: err}
		}
		return &ApplyError{Failed: failed, Total: len(ops)}
	}
	before := c.b.chunk
	failed := c.b.apply(ctx, k.timeout, ops)
	if c.b.chunk < before {
		k.chunk = c.b.chunk
	}
	if c.b.broken {
		_ = c.Close()
		k.nl = nil
	}
	if len(failed) > 0 {
		return &ApplyError{Failed: failed, Total: len(ops)}
	}
	return nil
}

// Conversions between libipvs and this package.

func ipToAddr(af Family, ip net.IP) (netip.Addr, error) {
	switch af {
	case INET:
		if v4 := ip.To4(); v4 != nil {
			return netip.AddrFrom4([4]byte(v4)), nil
		}
	case INET6:
		if v6 := ip.To16(); v6 != nil {
			return netip.AddrFrom16([16]byte(v6)), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("address %v does not fit family %d", ip, af)
}

func fromLibStats(s libipvs.Stats) Stats {
	return Stats{
		Connections: uint64(s.Connections), PacketsIn: uint64(s.PacketsIn), PacketsOut: uint64(s.PacketsOut),
		BytesIn: s.BytesIn, BytesOut: s.BytesOut,
		CPS: uint64(s.CPS), PPSIn: uint64(s.PPSIn), PPSOut: uint64(s.PPSOut), BPSIn: uint64(s.BPSIn), BPSOut: uint64(s.BPSOut),
	}
}

// libNetmask converts libipvs' Netmask (the attribute's bytes read as a
// host-order u32) to ours.
func libNetmask(af Family, v uint32) uint32 {
	return readNetmask(af, binary.NativeEndian.AppendUint32(nil, v))
}

func fromLibService(s *libipvs.Service) (Service, error) {
	out := Service{ServiceKey: ServiceKey{Family: Family(s.AddressFamily)}}
	if s.FWMark != 0 {
		out.FWMark = s.FWMark
	} else {
		out.Protocol = Protocol(s.Protocol)
		out.Port = s.Port
		a, err := ipToAddr(out.Family, s.Address)
		if err != nil {
			return Service{}, fmt.Errorf("service %v:%d: %w", s.Address, s.Port, err)
		}
		out.Addr = a
	}
	out.Scheduler = s.SchedName
	out.Flags = s.Flags.Flags &^ FlagHashed
	out.Timeout = s.Timeout
	out.Netmask = libNetmask(out.Family, s.Netmask)
	out.Stats = fromLibStats(s.Stats)
	return out, nil
}

func fromLibDest(d *libipvs.Destination, svcAF Family) (Destination, error) {
	af := Family(d.AddressFamily)
	if af == 0 {
		af = svcAF
	}
	a, err := ipToAddr(af, d.Address)
	if err != nil {
		return Destination{}, fmt.Errorf("destination %v:%d: %w", d.Address, d.Port, err)
	}
	return Destination{
		DestKey:       DestKey{Addr: a, Port: d.Port},
		Fwd:           Fwd(uint32(d.FwdMethod) & ipvsConnFFwdMask),
		Weight:        int32(d.Weight),
		UThreshold:    d.UThresh,
		LThreshold:    d.LThresh,
		ActiveConns:   d.ActiveConns,
		InactiveConns: d.InactConns,
		Stats:         fromLibStats(d.Stats),
	}, nil
}

// toLibKey is the libipvs service naming key. The key must be valid and,
// unless it is a fwmark, have a port (libipvs panics otherwise).
func toLibKey(k ServiceKey) *libipvs.Service {
	s := &libipvs.Service{AddressFamily: libipvs.AddressFamily(k.Family)}
	if k.FWMark != 0 {
		s.FWMark = k.FWMark
		return s
	}
	s.Protocol = libipvs.Protocol(k.Protocol)
	s.Address = net.IP(k.Addr.AsSlice())
	s.Port = k.Port
	return s
}
