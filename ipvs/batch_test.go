package ipvs

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func svc4(proto Protocol, a string, port uint16) ServiceKey {
	return ServiceKey{Family: INET, Protocol: proto, Addr: netip.MustParseAddr(a), Port: port}
}

func svc6(proto Protocol, a string, port uint16) ServiceKey {
	return ServiceKey{Family: INET6, Protocol: proto, Addr: netip.MustParseAddr(a), Port: port}
}

func dst(a string, port uint16, fwd Fwd, w int32) Destination {
	return Destination{DestKey: DestKey{Addr: netip.MustParseAddr(a), Port: port}, Fwd: fwd, Weight: w}
}

// roundTrip encodes an op into a full netlink message and decodes it back.
func roundTrip(t *testing.T, op Op) Op {
	t.Helper()
	gm, err := encodeOp(op)
	if err != nil {
		t.Fatalf("encode %v: %v", op, err)
	}
	b, err := gm.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	nm := netlink.Message{Header: netlink.Header{Length: uint32(nlmsgHeaderLen + len(b)), Type: 42, Flags: netlink.Request | netlink.Acknowledge, Sequence: 7}, Data: b}
	wire, err := nm.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back netlink.Message
	if err := back.UnmarshalBinary(wire); err != nil {
		t.Fatal(err)
	}
	var gback genetlink.Message
	if err := gback.UnmarshalBinary(back.Data); err != nil {
		t.Fatal(err)
	}
	if gback.Header.Version != ipvsGenlVersion {
		t.Errorf("genl version %d", gback.Header.Version)
	}
	got, err := decodeOp(gback)
	if err != nil {
		t.Fatalf("decode %v: %v", op, err)
	}
	return got
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	persistent := Service{ServiceKey: svc4(TCP, "10.0.0.2", 443), Scheduler: "wlc", Flags: FlagPersistent, Timeout: 300, Netmask: 0xffffff00}
	fwm6 := Service{ServiceKey: ServiceKey{Family: INET6, FWMark: 9}, Scheduler: "rr", Flags: FlagPersistent, Timeout: 600, Netmask: 64}
	sh := Service{ServiceKey: svc4(UDP, "10.0.0.1", 53), Scheduler: "sh", Flags: FlagOnePacket | FlagSched1 | FlagSched2, Netmask: 0xffffffff}
	port0 := Service{ServiceKey: svc4(TCP, "10.0.0.3", 0), Scheduler: "wlc", Flags: FlagPersistent, Timeout: 120, Netmask: 0xffffffff}
	v6 := Service{ServiceKey: svc6(SCTP, "2001:db8::1", 80), Scheduler: "wrr", Netmask: 128}
	fwm4 := Service{ServiceKey: ServiceKey{Family: INET, FWMark: 7}, Scheduler: "sh", Netmask: 0xffffffff}
	d := dst("10.0.1.13", 80, Tunnel, 5)
	d.UThreshold, d.LThreshold = 100, 10
	d6 := dst("2001:db8:1::11", 8080, Masq, 0)

	for _, op := range []Op{
		{Kind: AddService, Service: persistent},
		{Kind: AddService, Service: fwm6},
		{Kind: UpdateService, Service: sh},
		{Kind: AddService, Service: port0},
		{Kind: AddService, Service: v6},
		{Kind: AddService, Service: fwm4},
		{Kind: AddDest, Service: Service{ServiceKey: persistent.ServiceKey}, Dest: d},
		{Kind: UpdateDest, Service: Service{ServiceKey: v6.ServiceKey}, Dest: d6},
		{Kind: AddDest, Service: Service{ServiceKey: fwm4.ServiceKey}, Dest: dst("10.0.1.31", 0, Route, 1)},
	} {
		if err := validateForKernel(op); err != nil {
			t.Fatalf("%v: %v", op, err)
		}
		got := roundTrip(t, op)
		if got != op {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, op)
		}
	}

	// Delete and dest ops carry only keys; settings are not sent.
	full := Op{Kind: DeleteDest, Service: persistent, Dest: d}
	got := roundTrip(t, full)
	want := Op{Kind: DeleteDest, Service: Service{ServiceKey: persistent.ServiceKey}, Dest: Destination{DestKey: d.DestKey}}
	if got != want {
		t.Errorf("delete-dest:\n got %+v\nwant %+v", got, want)
	}
	got = roundTrip(t, Op{Kind: AddDest, Service: persistent, Dest: d})
	if got.Service != (Service{ServiceKey: persistent.ServiceKey}) {
		t.Errorf("a dest op's service nest carries settings: %+v", got.Service)
	}
	got = roundTrip(t, Op{Kind: DeleteService, Service: fwm6})
	if got != (Op{Kind: DeleteService, Service: Service{ServiceKey: fwm6.ServiceKey}}) {
		t.Errorf("delete-service: %+v", got)
	}

	// FlagHashed is never sent; netmask 0 is written as the full mask.
	hashed := v6
	hashed.Flags |= FlagHashed
	hashed.Netmask = 0
	got = roundTrip(t, Op{Kind: AddService, Service: hashed})
	if got.Service.Flags != v6.Flags || got.Service.Netmask != 128 {
		t.Errorf("hashed/netmask0 v6: flags %#x netmask %d", got.Service.Flags, got.Service.Netmask)
	}
	p0 := persistent
	p0.Netmask = 0
	if got = roundTrip(t, Op{Kind: AddService, Service: p0}); got.Service.Netmask != 0xffffffff {
		t.Errorf("netmask 0 v4 written as %#x", got.Service.Netmask)
	}
}

// attrs returns the attributes of a nest as a map of type -> data.
func attrs(t *testing.T, b []byte) map[uint16][]byte {
	t.Helper()
	as, err := netlink.UnmarshalAttributes(b)
	if err != nil {
		t.Fatal(err)
	}
	m := map[uint16][]byte{}
	for _, a := range as {
		m[a.Type&^netlink.Nested] = a.Data
	}
	return m
}

// TestWireLayout pins the byte layouts the kernel reads (ip_vs_ctl.c).
func TestWireLayout(t *testing.T) {
	s := Service{ServiceKey: svc4(TCP, "10.0.0.2", 443), Scheduler: "wlc", Flags: FlagPersistent | FlagHashed, Timeout: 300, Netmask: 0xffffff00}
	gm, err := encodeOp(Op{Kind: AddDest, Service: s, Dest: dst("10.0.1.13", 8080, Route, 7)})
	if err != nil {
		t.Fatal(err)
	}
	if gm.Header.Command != ipvsCmdNewDest {
		t.Errorf("command %d", gm.Header.Command)
	}
	top := attrs(t, gm.Data)
	sv := attrs(t, top[ipvsCmdAttrService])
	if len(sv) != 4 || sv[ipvsSvcAttrSchedName] != nil {
		t.Errorf("dest op service nest should be the key only: %v", sv)
	}
	if !bytes.Equal(sv[ipvsSvcAttrAddr], []byte{10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) {
		t.Errorf("service addr % x", sv[ipvsSvcAttrAddr])
	}
	if !bytes.Equal(sv[ipvsSvcAttrPort], []byte{0x01, 0xbb}) {
		t.Errorf("service port % x", sv[ipvsSvcAttrPort])
	}
	if binary.NativeEndian.Uint16(sv[ipvsSvcAttrAF]) != unix.AF_INET || binary.NativeEndian.Uint16(sv[ipvsSvcAttrProtocol]) != unix.IPPROTO_TCP {
		t.Errorf("af/protocol % x / % x", sv[ipvsSvcAttrAF], sv[ipvsSvcAttrProtocol])
	}
	dv := attrs(t, top[ipvsCmdAttrDest])
	for typ, want := range map[uint16][]byte{
		ipvsDestAttrAddr:       {10, 0, 1, 13, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		ipvsDestAttrPort:       {0x1f, 0x90},
		ipvsDestAttrAddrFamily: binary.NativeEndian.AppendUint16(nil, unix.AF_INET),
		ipvsDestAttrFwdMethod:  binary.NativeEndian.AppendUint32(nil, 3),
		ipvsDestAttrWeight:     binary.NativeEndian.AppendUint32(nil, 7),
		ipvsDestAttrUThresh:    binary.NativeEndian.AppendUint32(nil, 0),
		ipvsDestAttrLThresh:    binary.NativeEndian.AppendUint32(nil, 0),
	} {
		if !bytes.Equal(dv[typ], want) {
			t.Errorf("dest attr %d: % x, want % x", typ, dv[typ], want)
		}
	}

	gm, err = encodeOp(Op{Kind: AddService, Service: s})
	if err != nil {
		t.Fatal(err)
	}
	sv = attrs(t, attrs(t, gm.Data)[ipvsCmdAttrService])
	if !bytes.Equal(sv[ipvsSvcAttrNetmask], []byte{255, 255, 255, 0}) {
		t.Errorf("ipv4 netmask % x, want ff ff ff 00 (network order)", sv[ipvsSvcAttrNetmask])
	}
	flags := append(binary.NativeEndian.AppendUint32(nil, FlagPersistent), 0xff, 0xff, 0xff, 0xff)
	if !bytes.Equal(sv[ipvsSvcAttrFlags], flags) {
		t.Errorf("flags % x, want % x (no HASHED, full mask)", sv[ipvsSvcAttrFlags], flags)
	}
	if !bytes.Equal(sv[ipvsSvcAttrSchedName], []byte("wlc\x00")) {
		t.Errorf("sched name %q", sv[ipvsSvcAttrSchedName])
	}
	if binary.NativeEndian.Uint32(sv[ipvsSvcAttrTimeout]) != 300 {
		t.Errorf("timeout % x", sv[ipvsSvcAttrTimeout])
	}

	f6 := Service{ServiceKey: ServiceKey{Family: INET6, FWMark: 9}, Scheduler: "rr", Netmask: 64}
	gm, err = encodeOp(Op{Kind: AddService, Service: f6})
	if err != nil {
		t.Fatal(err)
	}
	sv = attrs(t, attrs(t, gm.Data)[ipvsCmdAttrService])
	if binary.NativeEndian.Uint32(sv[ipvsSvcAttrNetmask]) != 64 {
		t.Errorf("ipv6 netmask % x, want prefix length 64 in host order", sv[ipvsSvcAttrNetmask])
	}
	if sv[ipvsSvcAttrAddr] != nil || sv[ipvsSvcAttrPort] != nil || sv[ipvsSvcAttrProtocol] != nil {
		t.Errorf("fwmark service with address/port/protocol: %v", sv)
	}
	if binary.NativeEndian.Uint32(sv[ipvsSvcAttrFWMark]) != 9 || binary.NativeEndian.Uint16(sv[ipvsSvcAttrAF]) != unix.AF_INET6 {
		t.Errorf("fwmark/af: %v", sv)
	}
}

// TestDecodeDumpReply decodes a service and a destination as the kernel
// sends them in a dump (ip_vs_genl_fill_service / _fill_dest).
func TestDecodeDumpReply(t *testing.T) {
	stats := func(ae *netlink.AttributeEncoder, wide bool) {
		for typ := uint16(ipvsStatsConns); typ <= ipvsStatsOutBPS; typ++ {
			v := uint64(typ) * 1000
			if wide || typ == ipvsStatsInBytes || typ == ipvsStatsOutBytes {
				if wide {
					v += 1 << 33
				}
				ae.Uint64(typ, v)
			} else {
				ae.Uint32(typ, uint32(v))
			}
		}
	}
	ae := netlink.NewAttributeEncoder()
	ae.Nested(ipvsCmdAttrService, func(ae *netlink.AttributeEncoder) error {
		ae.Uint16(ipvsSvcAttrAF, unix.AF_INET)
		ae.Uint16(ipvsSvcAttrProtocol, unix.IPPROTO_UDP)
		ae.Bytes(ipvsSvcAttrAddr, addr16(netip.MustParseAddr("192.0.2.1")))
		ae.Bytes(ipvsSvcAttrPort, []byte{0, 53})
		ae.String(ipvsSvcAttrSchedName, "wrr")
		ae.Bytes(ipvsSvcAttrFlags, append(binary.NativeEndian.AppendUint32(nil, FlagPersistent|FlagHashed), 0xff, 0xff, 0xff, 0xff))
		ae.Uint32(ipvsSvcAttrTimeout, 360)
		ae.Bytes(ipvsSvcAttrNetmask, []byte{255, 255, 0, 0})
		ae.Nested(ipvsSvcAttrStats, func(ae *netlink.AttributeEncoder) error { stats(ae, false); return nil })
		ae.Nested(ipvsSvcAttrStats64, func(ae *netlink.AttributeEncoder) error { stats(ae, true); return nil })
		return nil
	})
	b, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	s, ok, err := serviceFromReply(genetlink.Message{Data: b})
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	want := Service{ServiceKey: svc4(UDP, "192.0.2.1", 53), Scheduler: "wrr", Flags: FlagPersistent, Timeout: 360, Netmask: 0xffff0000}
	st := s.Stats
	s.Stats = Stats{}
	if s != want {
		t.Errorf("got %+v\nwant %+v", s, want)
	}
	if st.Connections != 1000+1<<33 || st.BPSOut != 10000+1<<33 {
		t.Errorf("stats64 not preferred: %+v", st)
	}

	ae = netlink.NewAttributeEncoder()
	ae.Bytes(ipvsDestAttrAddr, addr16(netip.MustParseAddr("2001:db8::5")))
	ae.Bytes(ipvsDestAttrPort, []byte{0x1f, 0x90})
	ae.Uint32(ipvsDestAttrFwdMethod, 2)
	ae.Uint32(ipvsDestAttrWeight, 0)
	ae.Uint32(ipvsDestAttrUThresh, 9)
	ae.Uint32(ipvsDestAttrLThresh, 3)
	ae.Uint32(ipvsDestAttrActiveConns, 4)
	ae.Uint32(ipvsDestAttrInactConns, 5)
	ae.Uint32(ipvsDestAttrPersistConns, 6)
	ae.Uint16(ipvsDestAttrAddrFamily, unix.AF_INET6)
	ae.Nested(ipvsDestAttrStats, func(ae *netlink.AttributeEncoder) error { stats(ae, false); return nil })
	b, err = ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	// The service is IPv4: a tunnel destination may be of another family.
	d, err := decodeDestAttrs(b, INET)
	if err != nil {
		t.Fatal(err)
	}
	wd := dst("2001:db8::5", 8080, Tunnel, 0)
	wd.UThreshold, wd.LThreshold, wd.ActiveConns, wd.InactiveConns = 9, 3, 4, 5
	dstats := d.Stats
	d.Stats = Stats{}
	if d != wd {
		t.Errorf("got %+v\nwant %+v", d, wd)
	}
	if dstats.Connections != 1000 || dstats.BytesIn != 4000 {
		t.Errorf("stats: %+v", dstats)
	}
	if _, err := decodeDestAttrs(b[:8], INET); err == nil {
		t.Error("truncated destination decoded")
	}
}

func TestValidateForKernel(t *testing.T) {
	good := Service{ServiceKey: svc4(TCP, "10.0.0.1", 80), Scheduler: "wlc"}
	for name, op := range map[string]Op{
		"no family":        {Kind: AddService, Service: Service{ServiceKey: ServiceKey{Protocol: TCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80}, Scheduler: "rr"}},
		"af mismatch":      {Kind: AddService, Service: Service{ServiceKey: ServiceKey{Family: INET6, Protocol: TCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80}, Scheduler: "rr"}},
		"no scheduler":     {Kind: AddService, Service: Service{ServiceKey: good.ServiceKey}},
		"long scheduler":   {Kind: AddService, Service: Service{ServiceKey: good.ServiceKey, Scheduler: "a-very-long-scheduler"}},
		"v6 netmask":       {Kind: AddService, Service: Service{ServiceKey: svc6(TCP, "::1", 80), Scheduler: "rr", Netmask: 129}},
		"dest family":      {Kind: AddDest, Service: good, Dest: dst("::1", 80, Masq, 1)},
		"dest no address":  {Kind: AddDest, Service: good},
		"negative weight":  {Kind: UpdateDest, Service: good, Dest: dst("10.0.1.1", 80, Masq, -1)},
		"bypass":           {Kind: AddDest, Service: good, Dest: dst("10.0.1.1", 80, 4, 1)},
		"kind":             {Kind: 99, Service: good},
		"fwmark with port": {Kind: DeleteService, Service: Service{ServiceKey: ServiceKey{Family: INET, FWMark: 3, Port: 80}}},
	} {
		if err := validateForKernel(op); err == nil {
			t.Errorf("%s: %v accepted", name, op)
		}
	}
}

// fakeKernel is an nlTransport that plays the kernel: it acks each message,
// with the errno fail picks, one ack per Receive like a netlink socket.
type fakeKernel struct {
	t    *testing.T
	fail func(Op) syscall.Errno // nil: every op succeeds

	mu       sync.Mutex
	sent     [][]netlink.Message // per sendmsg
	ops      []Op
	queue    []netlink.Message
	deadline time.Time
	closed   bool
	// dropAfter > 0: keep only that many acks per sendmsg, then ENOBUFS.
	dropAfter int
	overrun   bool
	// hang: Receive returns nothing until the deadline.
	hang bool
	// timeoutOnce: the first Receive times out although acks are queued
	// (the deadline passed right after the sendmsg).
	timeoutOnce bool
	sendErr     error
}

func (f *fakeKernel) SendMessages(msgs []netlink.Message) ([]netlink.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sendErr != nil {
		return nil, f.sendErr
	}
	f.sent = append(f.sent, msgs)
	kept := 0
	for _, m := range msgs {
		if m.Header.Flags != netlink.Request|netlink.Acknowledge || m.Header.Sequence == 0 {
			f.t.Errorf("message header %+v", m.Header)
		}
		var gm genetlink.Message
		if err := gm.UnmarshalBinary(m.Data); err != nil {
			f.t.Fatal(err)
		}
		op, err := decodeOp(gm)
		if err != nil {
			f.t.Fatal(err)
		}
		f.ops = append(f.ops, op)
		var errno syscall.Errno
		if f.fail != nil {
			errno = f.fail(op)
		}
		if f.dropAfter > 0 && kept == f.dropAfter {
			f.overrun = true
			continue
		}
		kept++
		// struct nlmsgerr: errno, then the request's header (capped).
		data := binary.NativeEndian.AppendUint32(nil, uint32(-int32(errno)))
		data = binary.NativeEndian.AppendUint32(data, uint32(nlmsgHeaderLen+len(m.Data)))
		data = binary.NativeEndian.AppendUint16(data, uint16(m.Header.Type))
		data = binary.NativeEndian.AppendUint16(data, uint16(m.Header.Flags))
		data = binary.NativeEndian.AppendUint32(data, m.Header.Sequence)
		data = binary.NativeEndian.AppendUint32(data, m.Header.PID)
		f.queue = append(f.queue, netlink.Message{
			Header: netlink.Header{Type: netlink.Error, Sequence: m.Header.Sequence, Flags: netlink.Capped},
			Data:   data,
		})
	}
	return msgs, nil
}

// ReceiveMany returns up to perRecv queued acks (error acks included).
func (f *fakeKernel) ReceiveMany() ([]netlink.Message, error) {
	for {
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			return nil, os.ErrClosed
		}
		if f.overrun {
			f.overrun = false
			f.mu.Unlock()
			return nil, os.NewSyscallError("recvmmsg", unix.ENOBUFS)
		}
		if f.timeoutOnce {
			f.timeoutOnce = false
			f.mu.Unlock()
			return nil, os.ErrDeadlineExceeded
		}
		if len(f.queue) > 0 && !f.hang {
			n := min(len(f.queue), 7)
			ms := f.queue[:n:n]
			f.queue = f.queue[n:]
			f.mu.Unlock()
			return ms, nil
		}
		d := f.deadline
		f.mu.Unlock()
		if !d.IsZero() && time.Now().After(d) {
			return nil, os.ErrDeadlineExceeded
		}
		time.Sleep(time.Millisecond)
	}
}

func (f *fakeKernel) SetDeadline(t time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deadline = t
	return nil
}

func (f *fakeKernel) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func (f *fakeKernel) sentCount() (sendmsgs, msgs int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.sent {
		msgs += len(s)
	}
	return len(f.sent), msgs
}

func manyDestOps(nsvc, ndest int) []Op {
	var ops []Op
	for i := range nsvc {
		s := Service{ServiceKey: svc4(TCP, netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}).String(), 80), Scheduler: "wlc"}
		ops = append(ops, Op{Kind: AddService, Service: s})
		for j := range ndest {
			ops = append(ops, Op{Kind: AddDest, Service: s, Dest: dst(netip.AddrFrom4([4]byte{10, 2, byte(j >> 8), byte(j)}).String(), 80, Masq, 1)})
		}
	}
	return ops
}

func TestBatchAckMapping(t *testing.T) {
	a := Service{ServiceKey: svc4(TCP, "10.0.0.1", 80), Scheduler: "wlc"}
	missing := Service{ServiceKey: svc4(TCP, "10.9.9.9", 80)}
	bad := a
	bad.Family = 0
	ops := []Op{
		{Kind: AddDest, Service: a, Dest: dst("10.0.1.1", 80, Masq, 1)},       // ok
		{Kind: AddDest, Service: missing, Dest: dst("10.0.1.1", 80, Masq, 1)}, // ESRCH
		{Kind: AddService, Service: a},                                        // EEXIST
		{Kind: AddDest, Service: bad, Dest: dst("10.0.1.2", 80, Masq, 1)},     // invalid: not sent
		{Kind: DeleteDest, Service: a, Dest: dst("10.0.1.99", 80, Masq, 0)},   // ENOENT
		{Kind: AddService, Service: Service{ServiceKey: a.ServiceKey, Scheduler: "nope"}},
		{Kind: UpdateDest, Service: a, Dest: dst("10.0.1.1", 80, Route, 3)}, // ok
	}
	fk := &fakeKernel{t: t, fail: func(op Op) syscall.Errno {
		switch {
		case op.Service.ServiceKey == missing.ServiceKey:
			return unix.ESRCH
		case op.Kind == AddService && op.Service.Scheduler == "nope":
			return unix.ENOENT
		case op.Kind == AddService:
			return unix.EEXIST
		case op.Kind == DeleteDest:
			return unix.ENOENT
		}
		return 0
	}}
	b := newBatcher(fk, 30, 3, discard) // 3 per sendmsg: acks span chunks
	failed := b.apply(context.Background(), time.Second, ops)
	if b.broken {
		t.Error("batcher broken after a clean run")
	}
	if n, m := fk.sentCount(); n != 2 || m != 6 {
		t.Errorf("%d sendmsgs with %d messages, want 2 with 6 (the invalid op is not sent)", n, m)
	}
	wantIdx := []int{1, 2, 3, 4, 5}
	if len(failed) != len(wantIdx) {
		t.Fatalf("failed: %v", failed)
	}
	for i, f := range failed {
		if f.Op != ops[wantIdx[i]] {
			t.Errorf("failure %d is %v, want op %d %v", i, f.Op, wantIdx[i], ops[wantIdx[i]])
		}
	}
	checks := []struct {
		is    []error
		isNot []error
	}{
		{is: []error{ErrNotFound, unix.ESRCH}},
		{is: []error{ErrExists, unix.EEXIST}, isNot: []error{ErrNotFound}},
		{isNot: []error{ErrNotFound, ErrExists}},
		{is: []error{ErrNotFound, unix.ENOENT}},
		{is: []error{unix.ENOENT}, isNot: []error{ErrNotFound}}, // missing scheduler
	}
	for i, c := range checks {
		for _, e := range c.is {
			if !errors.Is(failed[i].Err, e) {
				t.Errorf("%v: not errors.Is %v", failed[i], e)
			}
		}
		for _, e := range c.isNot {
			if errors.Is(failed[i].Err, e) {
				t.Errorf("%v: errors.Is %v", failed[i], e)
			}
		}
	}
	var ke *KernelError
	if !errors.As(failed[0].Err, &ke) || ke.Cmd != "new-dest" || ke.Error() != "new-dest: no such process (no such service)" {
		t.Errorf("kernel error: %v", failed[0].Err)
	}
	if errors.As(failed[2].Err, &ke) {
		t.Errorf("the invalid op looks like a kernel answer: %v", failed[2].Err)
	}
}

func TestBatchChunking(t *testing.T) {
	ops := manyDestOps(10, 100) // 1010 ops
	fk := &fakeKernel{t: t}
	b := newBatcher(fk, 30, 256, discard)
	if failed := b.apply(context.Background(), time.Second, ops); len(failed) != 0 {
		t.Fatalf("failed: %v", failed)
	}
	n, m := fk.sentCount()
	if n != 4 || m != len(ops) {
		t.Errorf("%d sendmsgs, %d messages; want 4 and %d", n, m, len(ops))
	}
	seen := map[uint32]bool{}
	fk.mu.Lock()
	defer fk.mu.Unlock()
	for _, s := range fk.sent {
		size := 0
		for _, msg := range s {
			if seen[msg.Header.Sequence] {
				t.Fatalf("sequence %d reused", msg.Header.Sequence)
			}
			seen[msg.Header.Sequence] = true
			size += nlmsgHeaderLen + len(msg.Data)
		}
		if size > maxChunkBytes {
			t.Errorf("sendmsg of %d bytes", size)
		}
	}
	// Ops reach the kernel in order.
	for i, op := range fk.ops {
		want := ops[i]
		want.Service = Service{ServiceKey: want.Service.ServiceKey}
		if op.Kind == AddService {
			want.Service = ops[i].Service
			want.Service.Netmask = 0xffffffff
		}
		if op != want {
			t.Fatalf("op %d: got %v want %v", i, op, want)
		}
	}
}

func TestBatchChunkBytes(t *testing.T) {
	ops := manyDestOps(1, 2000)
	fk := &fakeKernel{t: t}
	b := newBatcher(fk, 30, 5000, discard)
	if failed := b.apply(context.Background(), time.Second, ops); len(failed) != 0 {
		t.Fatalf("failed: %v", failed)
	}
	if n, _ := fk.sentCount(); n < 2 {
		t.Errorf("%d sendmsgs: the byte limit did not split the batch", n)
	}
}

func TestBatchOverrun(t *testing.T) {
	ops := manyDestOps(1, 99) // 100 ops
	fk := &fakeKernel{t: t, dropAfter: 40}
	b := newBatcher(fk, 30, 64, discard)
	failed := b.apply(context.Background(), 5*time.Second, ops)
	// Chunk 1: 64 sent, 40 acked, 24 lost; chunk 2: 36 sent, all acked.
	if len(failed) != 24 {
		t.Fatalf("%d failed, want 24: %v", len(failed), failed)
	}
	for i, f := range failed {
		if f.Op != ops[40+i] || !errors.Is(f.Err, errAckLost) {
			t.Errorf("failure %d: %v", i, f)
		}
	}
	if b.chunk != 32 {
		t.Errorf("chunk %d after an overrun, want 32", b.chunk)
	}
	if !b.broken {
		t.Error("not marked for redial after an overrun")
	}
}

func TestBatchTimeout(t *testing.T) {
	ops := manyDestOps(1, 9)
	fk := &fakeKernel{t: t, hang: true}
	b := newBatcher(fk, 30, 4, discard)
	start := time.Now()
	failed := b.apply(context.Background(), 50*time.Millisecond, ops)
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %v", el)
	}
	if len(failed) != len(ops) {
		t.Fatalf("%d failed, want all %d", len(failed), len(ops))
	}
	for _, f := range failed {
		if !errors.Is(f.Err, os.ErrDeadlineExceeded) {
			t.Errorf("%v", f)
		}
	}
	if n, _ := fk.sentCount(); n != 1 {
		t.Errorf("%d sendmsgs after the first timed out", n)
	}
	if !b.broken {
		t.Error("not marked broken")
	}
}

func TestBatchDrainsAfterDeadline(t *testing.T) {
	ops := manyDestOps(1, 9)
	fk := &fakeKernel{t: t, timeoutOnce: true, fail: func(op Op) syscall.Errno {
		if op.Kind == AddService {
			return unix.EEXIST
		}
		return 0
	}}
	b := newBatcher(fk, 30, 64, discard)
	failed := b.apply(context.Background(), time.Second, ops)
	if len(failed) != 1 || !errors.Is(failed[0].Err, ErrExists) {
		t.Errorf("the queued acks were not read after the deadline: %v", failed)
	}
}

func TestBatchSendError(t *testing.T) {
	fk := &fakeKernel{t: t, sendErr: &netlink.OpError{Op: "send-messages", Err: unix.EMSGSIZE}}
	b := newBatcher(fk, 30, 4, discard)
	ops := manyDestOps(1, 5)
	failed := b.apply(context.Background(), time.Second, ops)
	if len(failed) != len(ops) || !errors.Is(failed[0].Err, unix.EMSGSIZE) || !b.broken {
		t.Errorf("failed %v broken %v", failed, b.broken)
	}
}

func TestBatchCancelled(t *testing.T) {
	fk := &fakeKernel{t: t}
	b := newBatcher(fk, 30, 4, discard)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ops := manyDestOps(1, 5)
	failed := b.apply(ctx, time.Second, ops)
	if len(failed) != len(ops) || !errors.Is(failed[0].Err, context.Canceled) {
		t.Errorf("failed: %v", failed)
	}
	if n, _ := fk.sentCount(); n != 0 {
		t.Errorf("%d sendmsgs with a cancelled context", n)
	}
}

func TestBatchCancelWhileWaiting(t *testing.T) {
	fk := &fakeKernel{t: t, hang: true}
	b := newBatcher(fk, 30, 4, discard)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	failed := b.apply(ctx, time.Minute, manyDestOps(1, 5))
	if time.Since(start) > 5*time.Second {
		t.Errorf("cancel did not interrupt the receive")
	}
	if len(failed) != 6 || !errors.Is(failed[0].Err, context.Canceled) || !b.broken {
		t.Errorf("failed %v broken %v", failed, b.broken)
	}
}

func TestBatchIgnoresStrayAcks(t *testing.T) {
	fk := &fakeKernel{t: t}
	// A late ack from an abandoned batch.
	fk.queue = append(fk.queue, netlink.Message{Header: netlink.Header{Type: netlink.Error, Sequence: 12345}, Data: make([]byte, 20)})
	b := newBatcher(fk, 30, 4, discard)
	b.seq = 1 << 31
	if failed := b.apply(context.Background(), time.Second, manyDestOps(1, 2)); len(failed) != 0 {
		t.Errorf("failed: %v", failed)
	}
}

func TestKernelErrorText(t *testing.T) {
	for _, c := range []struct {
		e    KernelError
		want string
	}{
		{KernelError{Cmd: "new-service", Errno: unix.EEXIST}, "new-service: file exists (service exists)"},
		{KernelError{Cmd: "new-dest", Errno: unix.EEXIST}, "new-dest: file exists (destination exists)"},
		{KernelError{Cmd: "set-service", Errno: unix.ENOENT}, "set-service: no such file or directory (no such scheduler module)"},
		{KernelError{Cmd: "new-service", Errno: unix.EINVAL, Message: "bad attr"}, "new-service: invalid argument: bad attr"},
	} {
		if got := c.e.Error(); got != c.want {
			t.Errorf("got %q want %q", got, c.want)
		}
	}
}

func BenchmarkEncode10000(b *testing.B) {
	ops := manyDestOps(100, 100)
	b.ReportAllocs()
	for b.Loop() {
		var enc opEncoder
		for _, op := range ops {
			if err := validateForKernel(op); err != nil {
				b.Fatal(err)
			}
			if _, err := enc.message(op); err != nil {
				b.Fatal(err)
			}
		}
	}
}
