package ipvs

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hkwi/nlgo"
	"github.com/mdlayher/netlink"
	"github.com/mqliang/libipvs"
	"golang.org/x/sys/unix"
)

// fakeHandle is a libipvs.IPVSHandle. block, if not nil, makes every call
// wait on it (a wedged libipvs hub).
type fakeHandle struct {
	libipvs.IPVSHandle // unimplemented methods panic
	block              chan struct{}
	services           []*libipvs.Service
	dests              []*libipvs.Destination
	mu                 sync.Mutex
	calls              []string
}

func (h *fakeHandle) record(c string) {
	h.mu.Lock()
	h.calls = append(h.calls, c)
	h.mu.Unlock()
	if h.block != nil {
		<-h.block
	}
}

func (h *fakeHandle) callCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.calls)
}

func (h *fakeHandle) GetInfo() (libipvs.Info, error) {
	h.record("GetInfo")
	return libipvs.Info{Version: 0x010201}, nil
}

func (h *fakeHandle) ListServices() ([]*libipvs.Service, error) {
	h.record("ListServices")
	return h.services, nil
}

func (h *fakeHandle) ListDestinations(s *libipvs.Service) ([]*libipvs.Destination, error) {
	h.record("ListDestinations")
	return h.dests, nil
}

type opener struct {
	mu      sync.Mutex
	handles []libipvs.IPVSHandle
	opened  int
}

func (o *opener) open() (libipvs.IPVSHandle, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.opened >= len(o.handles) {
		return nil, errors.New("no more handles")
	}
	h := o.handles[o.opened]
	o.opened++
	return h, nil
}

func (o *opener) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.opened
}

func noNetlink(time.Duration) (*nlClient, error) { return nil, errors.New("no netlink in this test") }

func TestLibipvsPanicsBecomeErrors(t *testing.T) {
	// The real libipvs panics on these before touching its socket, so a
	// zero Handle shows them.
	real := &libipvs.Handle{}
	o := &opener{handles: []libipvs.IPVSHandle{real, real, real}}
	k := newKernel(KernelOptions{Logger: discard}, o.open, noNetlink)
	ctx := context.Background()

	_, err := libCall(k, ctx, "libipvs ListDestinations", func(h libipvs.IPVSHandle) ([]*libipvs.Destination, error) {
		return h.ListDestinations(&libipvs.Service{AddressFamily: unix.AF_INET, Protocol: unix.IPPROTO_TCP, Address: net.ParseIP("10.0.0.1"), Port: 0})
	})
	var pe *PanicError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "Incomplete service id fields") {
		t.Fatalf("port 0: got %v", err)
	}
	if k.lib != nil || k.Abandoned() != 1 {
		t.Errorf("handle kept after a panic (abandoned %d)", k.Abandoned())
	}
	_, err = libCall(k, ctx, "libipvs DelDestination", func(h libipvs.IPVSHandle) (struct{}, error) {
		return struct{}{}, h.DelDestination(&libipvs.Service{AddressFamily: unix.AF_INET, FWMark: 1}, &libipvs.Destination{Address: net.ParseIP("10.0.0.1")})
	})
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "packAddr") {
		t.Fatalf("AF 0: got %v", err)
	}
	if o.count() != 2 {
		t.Errorf("opened %d handles, want 2 (a new one after the panic)", o.count())
	}
}

func TestDestinationsValidatesBeforeLibipvs(t *testing.T) {
	h := &fakeHandle{}
	o := &opener{handles: []libipvs.IPVSHandle{h}}
	k := newKernel(KernelOptions{Logger: discard}, o.open, noNetlink)
	ctx := context.Background()
	for _, key := range []ServiceKey{
		{Protocol: TCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80},                // AF 0
		{Family: INET6, Protocol: TCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80}, // AF mismatch
		{Family: INET, Protocol: TCP, Port: 80},                                         // no address
	} {
		if _, err := k.Destinations(ctx, key); err == nil {
			t.Errorf("%+v accepted", key)
		}
	}
	// Port 0 (persistent all-ports service) goes to the netlink dump,
	// never to libipvs (which panics on it).
	_, err := k.Destinations(ctx, ServiceKey{Family: INET, Protocol: TCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 0})
	if err == nil || !strings.Contains(err.Error(), "no netlink in this test") {
		t.Errorf("port 0: %v", err)
	}
	if n := h.callCount(); n != 0 {
		t.Errorf("libipvs called %d times", n)
	}
}

func TestCallTimeoutAbandonsHandle(t *testing.T) {
	block := make(chan struct{})
	defer close(block) // let the abandoned goroutine finish
	stuck := &fakeHandle{block: block}
	good := &fakeHandle{services: []*libipvs.Service{{
		AddressFamily: unix.AF_INET, Protocol: unix.IPPROTO_TCP, Address: net.ParseIP("10.0.0.1").To4(), Port: 80,
		SchedName: "wlc", Flags: libipvs.Flags{Flags: 0x3, Mask: ^uint32(0)}, Netmask: 0xffffffff,
	}}}
	o := &opener{handles: []libipvs.IPVSHandle{stuck, good}}
	k := newKernel(KernelOptions{CallTimeout: 300 * time.Millisecond, Logger: discard}, o.open, noNetlink)
	ctx := context.Background()

	// A direct call times out and gives up the handle.
	start := time.Now()
	_, err := libCall(k, ctx, "libipvs ListServices", func(h libipvs.IPVSHandle) ([]*libipvs.Service, error) { return h.ListServices() })
	if !errors.Is(err, ErrCallTimeout) {
		t.Fatalf("got %v, want ErrCallTimeout", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("timed out after %v", el)
	}
	if k.Abandoned() != 1 || k.lib != nil {
		t.Errorf("abandoned %d", k.Abandoned())
	}
	svcs, err := k.Services(ctx)
	if err != nil {
		t.Fatalf("after rebuild: %v", err)
	}
	if o.count() != 2 {
		t.Errorf("opened %d handles, want 2", o.count())
	}
	want := Service{ServiceKey: svc4(TCP, "10.0.0.1", 80), Scheduler: "wlc", Flags: FlagPersistent, Netmask: 0xffffffff}
	if len(svcs) != 1 || svcs[0] != want {
		t.Errorf("got %+v", svcs)
	}
}

// Services retries once on a new handle after a timeout.
func TestReadRetriesAfterTimeout(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	o := &opener{handles: []libipvs.IPVSHandle{&fakeHandle{block: block}, &fakeHandle{}, &fakeHandle{block: block}, &fakeHandle{block: block}}}
	k := newKernel(KernelOptions{CallTimeout: 300 * time.Millisecond, Logger: discard}, o.open, noNetlink)
	if _, err := k.Services(context.Background()); err != nil {
		t.Fatalf("no retry: %v", err)
	}
	if o.count() != 2 || k.Abandoned() != 1 {
		t.Errorf("opened %d abandoned %d", o.count(), k.Abandoned())
	}
	// Two wedged handles in a row: the error comes back.
	k.lib = nil
	if _, err := k.Services(context.Background()); !errors.Is(err, ErrCallTimeout) {
		t.Errorf("got %v", err)
	}
	if o.count() != 4 || k.Abandoned() != 3 {
		t.Errorf("opened %d abandoned %d", o.count(), k.Abandoned())
	}
}

func TestCancelAbandonsHandle(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	o := &opener{handles: []libipvs.IPVSHandle{&fakeHandle{block: block}, &fakeHandle{}}}
	k := newKernel(KernelOptions{CallTimeout: time.Minute, Logger: discard}, o.open, noNetlink)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := k.Services(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	if _, err := k.Services(context.Background()); err != nil {
		t.Fatal(err)
	}
	if o.count() != 2 || k.Abandoned() != 1 {
		t.Errorf("opened %d abandoned %d", o.count(), k.Abandoned())
	}
}

func TestOpenTimeout(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	var calls atomic.Int32
	k := newKernel(KernelOptions{CallTimeout: 500 * time.Millisecond, Logger: discard}, func() (libipvs.IPVSHandle, error) {
		if calls.Add(1) == 1 {
			<-block
		}
		return &fakeHandle{}, nil
	}, noNetlink)
	// The open times out; the read's retry opens another handle.
	if _, err := k.Services(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 || k.Abandoned() != 1 {
		t.Errorf("opened %d, abandoned %d", calls.Load(), k.Abandoned())
	}
}

func TestLibErrorMapping(t *testing.T) {
	data := nlErrno(unix.ESRCH)
	data = append(data, make([]byte, 16)...)
	err := libError("libipvs ListDestinations", nlgo.NlMsgerr(syscall.NetlinkMessage{Data: data}))
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, unix.ESRCH) {
		t.Errorf("got %v", err)
	}
	other := errors.New("x")
	if libError("c", other) != other {
		t.Error("other errors changed")
	}
}

func TestConversions(t *testing.T) {
	// libipvs reads NETMASK as a host-order u32 of the wire bytes.
	wire := []byte{255, 255, 255, 0}
	s, err := fromLibService(&libipvs.Service{
		AddressFamily: unix.AF_INET, Protocol: unix.IPPROTO_UDP, Address: net.ParseIP("192.0.2.1"), Port: 53,
		SchedName: "sh", Flags: libipvs.Flags{Flags: FlagHashed | FlagSched1 | FlagOnePacket, Mask: ^uint32(0)},
		Timeout: 0, Netmask: binary.NativeEndian.Uint32(wire),
		Stats: libipvs.Stats{Connections: 5, BytesIn: 1 << 40},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Service{ServiceKey: svc4(UDP, "192.0.2.1", 53), Scheduler: "sh", Flags: FlagSched1 | FlagOnePacket, Netmask: 0xffffff00,
		Stats: Stats{Connections: 5, BytesIn: 1 << 40}}
	if s != want {
		t.Errorf("got %+v\nwant %+v", s, want)
	}
	if !s.Addr.Is4() {
		t.Error("IPv4 address read as 4in6")
	}

	s, err = fromLibService(&libipvs.Service{AddressFamily: unix.AF_INET6, FWMark: 9, SchedName: "rr",
		Flags: libipvs.Flags{Flags: FlagPersistent | FlagHashed}, Timeout: 600, Netmask: 64})
	if err != nil {
		t.Fatal(err)
	}
	want = Service{ServiceKey: ServiceKey{Family: INET6, FWMark: 9}, Scheduler: "rr", Flags: FlagPersistent, Timeout: 600, Netmask: 64}
	if s != want {
		t.Errorf("got %+v\nwant %+v", s, want)
	}
	if err := s.ServiceKey.Validate(); err != nil {
		t.Error(err)
	}

	if _, err := fromLibService(&libipvs.Service{AddressFamily: unix.AF_INET, Protocol: unix.IPPROTO_TCP, Port: 80}); err == nil {
		t.Error("service without address accepted")
	}

	// The destination's own family (kernel >= 3.18), else the service's.
	d, err := fromLibDest(&libipvs.Destination{Address: net.ParseIP("10.0.1.1"), Port: 80, FwdMethod: 0x103, Weight: 0, UThresh: 9, LThresh: 2, ActiveConns: 1, InactConns: 2}, INET)
	if err != nil {
		t.Fatal(err)
	}
	wd := dst("10.0.1.1", 80, Route, 0)
	wd.UThreshold, wd.LThreshold, wd.ActiveConns, wd.InactiveConns = 9, 2, 1, 2
	if d != wd {
		t.Errorf("got %+v\nwant %+v", d, wd)
	}
	d, err = fromLibDest(&libipvs.Destination{AddressFamily: unix.AF_INET6, Address: net.ParseIP("2001:db8::1"), Port: 80, FwdMethod: 2, Weight: 3}, INET)
	if err != nil || d.Addr != netip.MustParseAddr("2001:db8::1") || d.Fwd != Tunnel || d.Weight != 3 {
		t.Errorf("got %+v %v", d, err)
	}

	// The libipvs key of a service.
	ls := toLibKey(svc4(TCP, "10.0.0.1", 80))
	if ls.AddressFamily != unix.AF_INET || ls.Protocol != unix.IPPROTO_TCP || !ls.Address.Equal(net.ParseIP("10.0.0.1")) || ls.Port != 80 || ls.FWMark != 0 {
		t.Errorf("lib key %+v", ls)
	}
	ls = toLibKey(ServiceKey{Family: INET6, FWMark: 3})
	if ls.AddressFamily != unix.AF_INET6 || ls.FWMark != 3 || ls.Address != nil {
		t.Errorf("lib key %+v", ls)
	}
}

func TestApplyDialFailureFailsEveryOp(t *testing.T) {
	k := newKernel(KernelOptions{Logger: discard}, (&opener{}).open, noNetlink)
	ops := manyDestOps(1, 2)
	err := k.Apply(context.Background(), ops)
	var ae *ApplyError
	if !errors.As(err, &ae) || ae.Total != 3 || len(ae.Failed) != 3 {
		t.Fatalf("got %v", err)
	}
	if k.Apply(context.Background(), nil) != nil {
		t.Error("empty Apply failed")
	}
}

func TestApplyRedialsAfterBrokenSocket(t *testing.T) {
	var fakes []*fakeKernel
	dial := func(time.Duration) (*nlClient, error) {
		fk := &fakeKernel{t: t, hang: len(fakes) == 0}
		fakes = append(fakes, fk)
		return &nlClient{b: newBatcher(fk, 30, 16, discard)}, nil
	}
	k := newKernel(KernelOptions{CallTimeout: 300 * time.Millisecond, Logger: discard}, (&opener{}).open, dial)
	ops := manyDestOps(1, 3)
	var ae *ApplyError
	if err := k.Apply(context.Background(), ops); !errors.As(err, &ae) || len(ae.Failed) != 4 {
		t.Fatalf("hung socket: %v", err)
	}
	if err := k.Apply(context.Background(), ops); err != nil {
		t.Fatalf("after redial: %v", err)
	}
	if len(fakes) != 2 {
		t.Errorf("dialed %d times", len(fakes))
	}
	fakes[0].mu.Lock()
	closed := fakes[0].closed
	fakes[0].mu.Unlock()
	if !closed {
		t.Error("broken socket not closed")
	}
	if err := k.Close(); err != nil {
		t.Error(err)
	}
	if err := k.Apply(context.Background(), ops); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	if _, err := k.Services(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

// nlErrno is the errno field of a struct nlmsgerr.
func nlErrno(e syscall.Errno) []byte {
	v := -int32(e)
	return binary.NativeEndian.AppendUint32(nil, uint32(v))
}

func TestParseAck(t *testing.T) {
	ext := netlink.NewAttributeEncoder()
	ext.String(unix.NLMSGERR_ATTR_MSG, "missing attribute")
	tlv, err := ext.Encode()
	if err != nil {
		t.Fatal(err)
	}
	req := make([]byte, 16+8) // the echoed request: header + payload
	binary.NativeEndian.PutUint32(req, 24)
	code := nlErrno(unix.EINVAL)

	// Capped: only the request's header is echoed.
	m := netlink.Message{Header: netlink.Header{Type: netlink.Error, Flags: netlink.Capped | netlink.AcknowledgeTLVs}}
	m.Data = append(append(append([]byte{}, code...), req[:16]...), tlv...)
	errno, text, err := parseAck(m)
	if err != nil || errno != unix.EINVAL || text != "missing attribute" {
		t.Errorf("capped: %v %q %v", errno, text, err)
	}
	// Not capped: the whole request is echoed.
	m.Header.Flags = netlink.AcknowledgeTLVs
	m.Data = append(append(append([]byte{}, code...), req...), tlv...)
	if errno, text, err = parseAck(m); err != nil || errno != unix.EINVAL || text != "missing attribute" {
		t.Errorf("uncapped: %v %q %v", errno, text, err)
	}
	// A plain ack.
	if errno, _, err = parseAck(netlink.Message{Data: make([]byte, 20)}); errno != 0 || err != nil {
		t.Errorf("ack: %v %v", errno, err)
	}
	if _, _, err = parseAck(netlink.Message{Data: []byte{1}}); err == nil {
		t.Error("short ack accepted")
	}
}

func TestAppendMessages(t *testing.T) {
	var b []byte
	for seq := uint32(1); seq <= 3; seq++ {
		m := netlink.Message{Header: netlink.Header{Length: uint32(16 + 8), Type: netlink.Error, Sequence: seq}, Data: []byte{1, 2, 3, 4, 5, 6, 7, 8}}
		mb, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, mb...)
	}
	msgs := appendMessages(nil, b)
	if len(msgs) != 3 || msgs[2].Header.Sequence != 3 || len(msgs[1].Data) != 8 || msgs[0].Header.Type != netlink.Error {
		t.Fatalf("got %+v", msgs)
	}
	if got := appendMessages(nil, b[:len(b)-10]); len(got) != 2 {
		t.Errorf("truncated datagram: %d messages", len(got))
	}
}

// On a machine without IPVS (the development machines) NewKernel must say
// so plainly.
func TestNewKernelWithoutIPVS(t *testing.T) {
	if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
		t.Skip("this kernel has IPVS")
	}
	k, err := NewKernel(KernelOptions{Logger: discard})
	if err == nil {
		k.Close()
		t.Fatal("NewKernel succeeded without IPVS")
	}
	if !errors.Is(err, ErrUnavailable) {
		t.Skipf("cannot tell here: %v", err)
	}
	if !strings.Contains(err.Error(), "modprobe ip_vs") {
		t.Errorf("unclear error: %v", err)
	}
}
