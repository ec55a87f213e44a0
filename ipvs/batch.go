package ipvs

// The batched generic netlink path: many IPVS commands per sendmsg, one ack
// per command, each ack matched back to its Op by sequence number.
//
// The kernel handles every message of a sendmsg synchronously, in order,
// inside that sendmsg (genl_rcv -> netlink_rcv_skb), and queues one ack per
// message on our socket. A failed message does not stop the ones after it.
// The acks are dropped (ENOBUFS) when our receive buffer is full, so a
// chunk is sized to fit its acks in the buffer.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Generic netlink family of IPVS (include/uapi/linux/ip_vs.h).
const (
	ipvsGenlName    = "IPVS"
	ipvsGenlVersion = 1
)

// Commands (enum IPVS_CMD_*).
const (
	ipvsCmdNewService = 1
	ipvsCmdSetService = 2
	ipvsCmdDelService = 3
	ipvsCmdGetService = 4
	ipvsCmdNewDest    = 5
	ipvsCmdSetDest    = 6
	ipvsCmdDelDest    = 7
	ipvsCmdGetDest    = 8
	ipvsCmdNewDaemon  = 9
	ipvsCmdDelDaemon  = 10
	ipvsCmdGetDaemon  = 11
	ipvsCmdSetConfig  = 12
	ipvsCmdGetConfig  = 13
	ipvsCmdGetInfo    = 15
)

// First-level attributes (enum IPVS_CMD_ATTR_*).
const (
	ipvsCmdAttrService = 1 // nested IPVS_SVC_ATTR_*
	ipvsCmdAttrDest    = 2 // nested IPVS_DEST_ATTR_*
)

// Service attributes (enum IPVS_SVC_ATTR_*), inside IPVS_CMD_ATTR_SERVICE.
const (
	ipvsSvcAttrAF        = 1  // u16
	ipvsSvcAttrProtocol  = 2  // u16
	ipvsSvcAttrAddr      = 3  // union nf_inet_addr, 16 bytes
	ipvsSvcAttrPort      = 4  // __be16
	ipvsSvcAttrFWMark    = 5  // u32
	ipvsSvcAttrSchedName = 6  // NUL-terminated string, at most 15 chars
	ipvsSvcAttrFlags     = 7  // struct ip_vs_flags {u32 flags; u32 mask}
	ipvsSvcAttrTimeout   = 8  // u32 seconds
	ipvsSvcAttrNetmask   = 9  // nla_get_be32: IPv4 mask bytes; IPv6 prefix length as a host u32
	ipvsSvcAttrStats     = 10 // nested IPVS_STATS_ATTR_* (32-bit counters)
	ipvsSvcAttrPEName    = 11 // string
	ipvsSvcAttrStats64   = 12 // nested IPVS_STATS_ATTR_* (64-bit)
)

// Destination attributes (enum IPVS_DEST_ATTR_*), inside IPVS_CMD_ATTR_DEST.
const (
	ipvsDestAttrAddr         = 1  // 16 bytes
	ipvsDestAttrPort         = 2  // __be16
	ipvsDestAttrFwdMethod    = 3  // u32, IP_VS_CONN_F_FWD_MASK bits
	ipvsDestAttrWeight       = 4  // u32 (an int in the kernel)
	ipvsDestAttrUThresh      = 5  // u32
	ipvsDestAttrLThresh      = 6  // u32
	ipvsDestAttrActiveConns  = 7  // u32, read only
	ipvsDestAttrInactConns   = 8  // u32, read only
	ipvsDestAttrPersistConns = 9  // u32, read only
	ipvsDestAttrStats        = 10 // nested
	ipvsDestAttrAddrFamily   = 11 // u16, kernel >= 3.18
	ipvsDestAttrStats64      = 12 // nested
)

// Statistics attributes (enum IPVS_STATS_ATTR_*).
const (
	ipvsStatsConns    = 1
	ipvsStatsInPkts   = 2
	ipvsStatsOutPkts  = 3
	ipvsStatsInBytes  = 4
	ipvsStatsOutBytes = 5
	ipvsStatsCPS      = 6
	ipvsStatsInPPS    = 7
	ipvsStatsOutPPS   = 8
	ipvsStatsInBPS    = 9
	ipvsStatsOutBPS   = 10
)

const (
	ipvsConnFFwdMask   = 0x7 // IP_VS_CONN_F_FWD_MASK
	ipvsSchedNameMax   = 15  // IP_VS_SCHEDNAME_MAXLEN - 1 (NUL)
	ipvsFlagsAllMask   = ^uint32(0)
	nlmsgHeaderLen     = 16
	defaultChunkMsgs   = 256      // messages per sendmsg
	maxChunkBytes      = 64 << 10 // bytes per sendmsg (sk_sndbuf is ~200 KiB)
	wantReadBuffer     = 8 << 20  // SO_RCVBUF(FORCE) asked for the acks
	ackTruesize        = 2048     // generous per-ack receive buffer cost
	recvBufferSize     = 64 << 10 // >= the 32 KiB a kernel dump skb may reach
	overrunDrainPeriod = 200 * time.Millisecond
)

// ErrUnavailable is returned when the kernel has no IPVS.
var ErrUnavailable = errors.New("IPVS is not available: is the ip_vs kernel module loaded? (modprobe ip_vs)")

// KernelError is an error the kernel returned for one IPVS command.
type KernelError struct {
	Cmd     string        // new-service, set-dest, ...
	Errno   syscall.Errno // the kernel's error number
	Message string        // extended ack text, if the kernel sent one
}

func (e *KernelError) Error() string {
	s := e.Cmd + ": " + e.Errno.Error()
	if m := e.meaning(); m != "" {
		s += " (" + m + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// meaning explains what an errno means for the IPVS command.
func (e *KernelError) meaning() string {
	if m, ok := syncMeaning(e.Cmd, e.Errno); ok {
		return m
	}
	switch e.Errno {
	case unix.ESRCH:
		return "no such service"
	case unix.EEXIST:
		if e.Cmd == "new-service" {
			return "service exists"
		}
		return "destination exists"
	case unix.ENOENT:
		if e.Cmd == "new-service" || e.Cmd == "set-service" {
			return "no such scheduler module"
		}
		return "no such destination"
	case unix.ERANGE:
		return "weight or threshold out of range"
	case unix.EPERM:
		return "IPVS needs CAP_NET_ADMIN"
	}
	return ""
}

// Unwrap gives errors.Is the errno.
func (e *KernelError) Unwrap() error { return e.Errno }

// Is maps the kernel's answers onto the package's ErrExists and ErrNotFound.
func (e *KernelError) Is(target error) bool {
	if isSyncCmd(e.Cmd) {
		return syncIs(e, target)
	}
	switch target {
	case ErrExists:
		return e.Errno == unix.EEXIST
	case ErrNotFound:
		if e.Errno == unix.ESRCH {
			return true
		}
		return e.Errno == unix.ENOENT && e.Cmd != "new-service" && e.Cmd != "set-service"
	}
	return false
}

func cmdName(cmd uint8) string {
	switch cmd {
	case ipvsCmdNewService:
		return "new-service"
	case ipvsCmdSetService:
		return "set-service"
	case ipvsCmdDelService:
		return "del-service"
	case ipvsCmdGetService:
		return "get-service"
	case ipvsCmdNewDest:
		return "new-dest"
	case ipvsCmdSetDest:
		return "set-dest"
	case ipvsCmdDelDest:
		return "del-dest"
	case ipvsCmdGetDest:
		return "get-dest"
	case ipvsCmdNewDaemon:
		return "new-daemon"
	case ipvsCmdDelDaemon:
		return "del-daemon"
	case ipvsCmdGetDaemon:
		return "get-daemon"
	case ipvsCmdSetConfig:
		return "set-config"
	case ipvsCmdGetConfig:
		return "get-config"
	}
	return fmt.Sprintf("cmd%d", cmd)
}

func opCommand(k OpKind) (uint8, error) {
	switch k {
	case AddService:
		return ipvsCmdNewService, nil
	case UpdateService:
		return ipvsCmdSetService, nil
	case DeleteService:
		return ipvsCmdDelService, nil
	case AddDest:
		return ipvsCmdNewDest, nil
	case UpdateDest:
		return ipvsCmdSetDest, nil
	case DeleteDest:
		return ipvsCmdDelDest, nil
	}
	return 0, fmt.Errorf("unknown op kind %d", k)
}

func opKind(cmd uint8) (OpKind, error) {
	switch cmd {
	case ipvsCmdNewService:
		return AddService, nil
	case ipvsCmdSetService:
		return UpdateService, nil
	case ipvsCmdDelService:
		return DeleteService, nil
	case ipvsCmdNewDest:
		return AddDest, nil
	case ipvsCmdSetDest:
		return UpdateDest, nil
	case ipvsCmdDelDest:
		return DeleteDest, nil
	}
	return 0, fmt.Errorf("command %d is not a table change", cmd)
}

// validateForKernel is Op.Validate plus what the kernel itself would refuse
// in a less helpful way.
func validateForKernel(op Op) error {
	if err := op.Validate(); err != nil {
		return err
	}
	switch op.Kind {
	case AddService, UpdateService:
		if len(op.Service.Scheduler) > ipvsSchedNameMax {
			return fmt.Errorf("service %v: scheduler name %q is longer than %d bytes", op.Service.ServiceKey, op.Service.Scheduler, ipvsSchedNameMax)
		}
		if op.Service.Family == INET6 && op.Service.Netmask > 128 {
			return fmt.Errorf("service %v: IPv6 persistence netmask must be a prefix length 1..128, not %d", op.Service.ServiceKey, op.Service.Netmask)
		}
	case AddDest, UpdateDest:
		if op.Dest.Fwd > Route {
			return fmt.Errorf("service %v: destination %v: forwarding method %d is not masq, local, ipip or gate", op.Service.ServiceKey, op.Dest.DestKey, op.Dest.Fwd)
		}
	}
	return nil
}

// wireNetmask is the NETMASK attribute for a service. 0 means "not set" and
// is written as the full mask, as ipvsadm does (/32 for IPv4; /128 for
// IPv6, where the kernel refuses 0).
func wireNetmask(s Service) []byte {
	b := make([]byte, 4)
	if s.Family == INET6 {
		n := s.Netmask
		if n == 0 {
			n = 128
		}
		// The kernel reads the __be32 and compares it, uncast, with 1..128:
		// a prefix length in host order.
		binary.NativeEndian.PutUint32(b, n)
		return b
	}
	n := s.Netmask
	if n == 0 {
		n = 0xffffffff
	}
	binary.BigEndian.PutUint32(b, n)
	return b
}

// readNetmask is the inverse of wireNetmask (without the 0 default).
func readNetmask(af Family, b []byte) uint32 {
	if len(b) < 4 {
		return 0
	}
	if af == INET6 {
		return binary.NativeEndian.Uint32(b)
	}
	return binary.BigEndian.Uint32(b)
}

func addr16(a netip.Addr) []byte {
	b := make([]byte, 16)
	if a.Is4() {
		v := a.As4()
		copy(b, v[:])
	} else {
		v := a.As16()
		copy(b, v[:])
	}
	return b
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

func familyOf(a netip.Addr) Family {
	if a.Is4() {
		return INET
	}
	return INET6
}

func encodeServiceAttrs(ae *netlink.AttributeEncoder, s Service, full bool) {
	ae.Uint16(ipvsSvcAttrAF, uint16(s.Family))
	if s.FWMark != 0 {
		ae.Uint32(ipvsSvcAttrFWMark, s.FWMark)
	} else {
		ae.Uint16(ipvsSvcAttrProtocol, uint16(s.Protocol))
		ae.Bytes(ipvsSvcAttrAddr, addr16(s.Addr))
		ae.Bytes(ipvsSvcAttrPort, be16(s.Port))
	}
	if !full {
		return
	}
	ae.String(ipvsSvcAttrSchedName, s.Scheduler)
	flags := make([]byte, 8)
	binary.NativeEndian.PutUint32(flags[0:4], s.Flags&^FlagHashed)
	binary.NativeEndian.PutUint32(flags[4:8], ipvsFlagsAllMask)
	ae.Bytes(ipvsSvcAttrFlags, flags)
	ae.Uint32(ipvsSvcAttrTimeout, s.Timeout)
	ae.Bytes(ipvsSvcAttrNetmask, wireNetmask(s))
}

func encodeDestAttrs(ae *netlink.AttributeEncoder, d Destination, full bool) {
	ae.Bytes(ipvsDestAttrAddr, addr16(d.Addr))
	ae.Bytes(ipvsDestAttrPort, be16(d.Port))
	ae.Uint16(ipvsDestAttrAddrFamily, uint16(familyOf(d.Addr)))
	if !full {
		return
	}
	ae.Uint32(ipvsDestAttrFwdMethod, uint32(d.Fwd)&ipvsConnFFwdMask)
	ae.Uint32(ipvsDestAttrWeight, uint32(d.Weight))
	ae.Uint32(ipvsDestAttrUThresh, d.UThreshold)
	ae.Uint32(ipvsDestAttrLThresh, d.LThreshold)
}

// encodeOp builds the generic netlink message for one op. The op must have
// been validated.
func encodeOp(op Op) (genetlink.Message, error) {
	cmd, err := opCommand(op.Kind)
	if err != nil {
		return genetlink.Message{}, err
	}
	b, err := (&opEncoder{}).attrs(op)
	if err != nil {
		return genetlink.Message{}, err
	}
	return genetlink.Message{
		Header: genetlink.Header{Command: cmd, Version: ipvsGenlVersion},
		Data:   b,
	}, nil
}

// opEncoder encodes ops, reusing the encoded key nest of a service across
// its destination ops (a big batch is mostly destinations).
type opEncoder struct {
	keys map[ServiceKey][]byte // IPVS_CMD_ATTR_SERVICE nests holding a key
}

func nest(typ uint16, fn func(*netlink.AttributeEncoder)) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Nested(typ, func(nae *netlink.AttributeEncoder) error {
		fn(nae)
		return nil
	})
	return ae.Encode()
}

// attrs returns the command attributes of op.
func (e *opEncoder) attrs(op Op) ([]byte, error) {
	var svc []byte
	var err error
	if op.Kind == AddService || op.Kind == UpdateService {
		svc, err = nest(ipvsCmdAttrService, func(ae *netlink.AttributeEncoder) { encodeServiceAttrs(ae, op.Service, true) })
	} else if svc = e.keys[op.Service.ServiceKey]; svc == nil {
		svc, err = nest(ipvsCmdAttrService, func(ae *netlink.AttributeEncoder) { encodeServiceAttrs(ae, op.Service, false) })
		if err == nil {
			if e.keys == nil {
				e.keys = map[ServiceKey][]byte{}
			}
			e.keys[op.Service.ServiceKey] = svc
		}
	}
	if err != nil {
		return nil, err
	}
	switch op.Kind {
	case AddDest, UpdateDest, DeleteDest:
		dest, err := nest(ipvsCmdAttrDest, func(ae *netlink.AttributeEncoder) { encodeDestAttrs(ae, op.Dest, op.Kind != DeleteDest) })
		if err != nil {
			return nil, err
		}
		return append(append(make([]byte, 0, len(svc)+len(dest)), svc...), dest...), nil
	}
	return svc, nil
}

// message returns the generic netlink payload (genl header and attributes)
// of op.
func (e *opEncoder) message(op Op) ([]byte, error) {
	cmd, err := opCommand(op.Kind)
	if err != nil {
		return nil, err
	}
	a, err := e.attrs(op)
	if err != nil {
		return nil, err
	}
	// struct genlmsghdr: cmd, version, reserved u16.
	return append([]byte{cmd, ipvsGenlVersion, 0, 0}, a...), nil
}

// decodeAddr reads a 16-byte (or 4-byte) address attribute.
func decodeAddr(af Family, b []byte) (netip.Addr, error) {
	switch {
	case af == INET && len(b) >= 4:
		return netip.AddrFrom4([4]byte(b[:4])), nil
	case af == INET6 && len(b) >= 16:
		return netip.AddrFrom16([16]byte(b[:16])), nil
	}
	return netip.Addr{}, fmt.Errorf("address attribute of %d bytes for family %d", len(b), af)
}

func decodeStats(nad *netlink.AttributeDecoder, st *Stats) error {
	for nad.Next() {
		var v uint64
		switch b := nad.Bytes(); len(b) {
		case 4:
			v = uint64(binary.NativeEndian.Uint32(b))
		case 8:
			v = binary.NativeEndian.Uint64(b)
		default:
			continue
		}
		switch nad.Type() {
		case ipvsStatsConns:
			st.Connections = v
		case ipvsStatsInPkts:
			st.PacketsIn = v
		case ipvsStatsOutPkts:
			st.PacketsOut = v
		case ipvsStatsInBytes:
			st.BytesIn = v
		case ipvsStatsOutBytes:
			st.BytesOut = v
		case ipvsStatsCPS:
			st.CPS = v
		case ipvsStatsInPPS:
			st.PPSIn = v
		case ipvsStatsOutPPS:
			st.PPSOut = v
		case ipvsStatsInBPS:
			st.BPSIn = v
		case ipvsStatsOutBPS:
			st.BPSOut = v
		}
	}
	return nil
}

// decodeServiceAttrs reads an IPVS_CMD_ATTR_SERVICE nest (from a dump or
// from one of our own messages). Flags come back without FlagHashed.
func decodeServiceAttrs(b []byte) (Service, error) {
	var s Service
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return s, err
	}
	var addr, netmask []byte
	var stats, stats64 *Stats
	for ad.Next() {
		switch ad.Type() {
		case ipvsSvcAttrAF:
			s.Family = Family(ad.Uint16())
		case ipvsSvcAttrProtocol:
			s.Protocol = Protocol(ad.Uint16())
		case ipvsSvcAttrAddr:
			addr = ad.Bytes()
		case ipvsSvcAttrPort:
			if p := ad.Bytes(); len(p) >= 2 {
				s.Port = binary.BigEndian.Uint16(p)
			}
		case ipvsSvcAttrFWMark:
			s.FWMark = ad.Uint32()
		case ipvsSvcAttrSchedName:
			s.Scheduler = ad.String()
		case ipvsSvcAttrFlags:
			if f := ad.Bytes(); len(f) >= 4 {
				s.Flags = binary.NativeEndian.Uint32(f) &^ FlagHashed
			}
		case ipvsSvcAttrTimeout:
			s.Timeout = ad.Uint32()
		case ipvsSvcAttrNetmask:
			netmask = ad.Bytes()
		case ipvsSvcAttrStats:
			stats = new(Stats)
			ad.Nested(func(nad *netlink.AttributeDecoder) error { return decodeStats(nad, stats) })
		case ipvsSvcAttrStats64:
			stats64 = new(Stats)
			ad.Nested(func(nad *netlink.AttributeDecoder) error { return decodeStats(nad, stats64) })
		}
	}
	if err := ad.Err(); err != nil {
		return s, err
	}
	if s.FWMark != 0 {
		// The kernel keeps IPPROTO_TCP internally but does not report
		// it; a fwmark key has no protocol, address or port.
		s.Protocol, s.Port = 0, 0
	} else if addr != nil {
		if s.Addr, err = decodeAddr(s.Family, addr); err != nil {
			return s, fmt.Errorf("service: %w", err)
		}
	}
	if netmask != nil {
		s.Netmask = readNetmask(s.Family, netmask)
	}
	switch {
	case stats64 != nil:
		s.Stats = *stats64
	case stats != nil:
		s.Stats = *stats
	}
	return s, nil
}

// decodeDestAttrs reads an IPVS_CMD_ATTR_DEST nest. svcAF is used when the
// kernel does not send the destination's own family (before 3.18).
func decodeDestAttrs(b []byte, svcAF Family) (Destination, error) {
	var d Destination
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return d, err
	}
	var addr []byte
	af := Family(0)
	var stats, stats64 *Stats
	for ad.Next() {
		switch ad.Type() {
		case ipvsDestAttrAddr:
			addr = ad.Bytes()
		case ipvsDestAttrPort:
			if p := ad.Bytes(); len(p) >= 2 {
				d.Port = binary.BigEndian.Uint16(p)
			}
		case ipvsDestAttrFwdMethod:
			d.Fwd = Fwd(ad.Uint32() & ipvsConnFFwdMask)
		case ipvsDestAttrWeight:
			d.Weight = int32(ad.Uint32())
		case ipvsDestAttrUThresh:
			d.UThreshold = ad.Uint32()
		case ipvsDestAttrLThresh:
			d.LThreshold = ad.Uint32()
		case ipvsDestAttrActiveConns:
			d.ActiveConns = ad.Uint32()
		case ipvsDestAttrInactConns:
			d.InactiveConns = ad.Uint32()
		case ipvsDestAttrAddrFamily:
			af = Family(ad.Uint16())
		case ipvsDestAttrStats:
			stats = new(Stats)
			ad.Nested(func(nad *netlink.AttributeDecoder) error { return decodeStats(nad, stats) })
		case ipvsDestAttrStats64:
			stats64 = new(Stats)
			ad.Nested(func(nad *netlink.AttributeDecoder) error { return decodeStats(nad, stats64) })
		}
	}
	if err := ad.Err(); err != nil {
		return d, err
	}
	if af == 0 {
		af = svcAF
	}
	if d.Addr, err = decodeAddr(af, addr); err != nil {
		return d, fmt.Errorf("destination: %w", err)
	}
	switch {
	case stats64 != nil:
		d.Stats = *stats64
	case stats != nil:
		d.Stats = *stats
	}
	return d, nil
}

// decodeOp is the inverse of encodeOp (for tests and debugging).
func decodeOp(m genetlink.Message) (Op, error) {
	var op Op
	kind, err := opKind(m.Header.Command)
	if err != nil {
		return op, err
	}
	op.Kind = kind
	ad, err := netlink.NewAttributeDecoder(m.Data)
	if err != nil {
		return op, err
	}
	var svcB, destB []byte
	for ad.Next() {
		switch ad.Type() {
		case ipvsCmdAttrService:
			svcB = ad.Bytes()
		case ipvsCmdAttrDest:
			destB = ad.Bytes()
		}
	}
	if err := ad.Err(); err != nil {
		return op, err
	}
	if svcB == nil {
		return op, errors.New("no service attribute")
	}
	if op.Service, err = decodeServiceAttrs(svcB); err != nil {
		return op, err
	}
	if destB != nil {
		if op.Dest, err = decodeDestAttrs(destB, op.Service.Family); err != nil {
			return op, err
		}
	}
	return op, nil
}

// nlTransport is what the batch path needs of a socket (a fake in tests).
type nlTransport interface {
	SendMessages(msgs []netlink.Message) ([]netlink.Message, error)
	// ReceiveMany returns the messages of the datagrams waiting, at least
	// one, blocking until the deadline. Error acks are returned as
	// messages, not as errors.
	ReceiveMany() ([]netlink.Message, error)
	SetDeadline(t time.Time) error
	Close() error
}

// batcher sends ops in chunks and collects their acks.
type batcher struct {
	tr     nlTransport
	family uint16
	seq    uint32
	chunk  int // messages per sendmsg
	// nextChunk is a smaller chunk size for the next apply, after an
	// overrun.
	nextChunk int
	log       *slog.Logger
	// broken is set when the socket may hold stale replies or is unusable;
	// the owner must dial a new one.
	broken bool
}

func newBatcher(tr nlTransport, family uint16, chunk int, log *slog.Logger) *batcher {
	if chunk <= 0 {
		chunk = defaultChunkMsgs
	}
	return &batcher{tr: tr, family: family, seq: rand.Uint32N(1 << 30), chunk: chunk, log: log}
}

func (b *batcher) nextSeq() uint32 {
	b.seq++
	if b.seq == 0 {
		b.seq++
	}
	return b.seq
}

// errAckLost marks an op whose ack never arrived.
var errAckLost = errors.New("no ack from the kernel (netlink receive buffer overrun): result unknown")

// apply sends every valid op and returns the failures, in op order. A
// transport failure (timeout, socket error) fails the ops it leaves
// unanswered and the ones not sent yet, and marks the batcher broken.
//
// A goroutine validates and encodes the ops a chunk ahead, so that
// encoding overlaps with the kernel's work inside sendmsg.
func (b *batcher) apply(ctx context.Context, callTimeout time.Duration, ops []Op) []OpError {
	start := time.Now()
	var sendTime, recvTime time.Duration
	chunks := 0
	// Each element is written by one goroutine: the encoder for invalid
	// ops, this one for the others.
	results := make([]error, len(ops))

	type pending struct {
		idx int
		msg netlink.Message
	}
	var giveUp atomic.Bool // stop encoding: nothing more will be sent
	queue := make(chan []pending, 2)
	go func() {
		defer close(queue)
		var enc opEncoder
		var chunk []pending
		size := 0
		for i, op := range ops {
			if err := validateForKernel(op); err != nil {
				results[i] = err
				continue
			}
			p := pending{idx: i}
			if !giveUp.Load() {
				data, err := enc.message(op)
				if err != nil {
					results[i] = err
					continue
				}
				p.msg = netlink.Message{
					Header: netlink.Header{Type: netlink.HeaderType(b.family), Flags: netlink.Request | netlink.Acknowledge},
					Data:   data,
				}
			}
			l := nlmsgHeaderLen + len(p.msg.Data)
			if len(chunk) > 0 && (len(chunk) == b.chunk || size+l > maxChunkBytes) {
				queue <- chunk
				chunk, size = nil, 0
			}
			chunk = append(chunk, p)
			size += l
		}
		if len(chunk) > 0 {
			queue <- chunk
		}
	}()

	// A cancelled ctx interrupts a blocked send or receive.
	stop := context.AfterFunc(ctx, func() { _ = b.tr.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	var fatal error
	for chunk := range queue {
		if fatal == nil {
			if err := ctx.Err(); err != nil {
				fatal = err
			}
		}
		if fatal != nil {
			giveUp.Store(true)
			for _, p := range chunk {
				results[p.idx] = fmt.Errorf("not sent: %w", fatal)
			}
			continue
		}
		deadline := time.Now().Add(callTimeout)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		if err := b.tr.SetDeadline(deadline); err != nil {
			fatal = err
		}
		bySeq := make(map[uint32]int, len(chunk))
		msgs := make([]netlink.Message, len(chunk))
		for i, p := range chunk {
			m := p.msg
			m.Header.Sequence = b.nextSeq()
			bySeq[m.Header.Sequence] = p.idx
			msgs[i] = m
		}
		if fatal == nil {
			t0 := time.Now()
			_, err := b.tr.SendMessages(msgs)
			sendTime += time.Since(t0)
			chunks++
			if err != nil {
				// Nothing of a failed sendmsg reached the kernel's
				// handlers (the skb is handed over whole or not at all).
				fatal = fmt.Errorf("netlink send: %w", err)
				if cerr := ctx.Err(); cerr != nil {
					fatal = fmt.Errorf("netlink send: %w (%w)", cerr, err)
				}
				b.broken = true
			}
		}
		if fatal != nil {
			giveUp.Store(true)
			for _, p := range chunk {
				results[p.idx] = fmt.Errorf("not sent: %w", fatal)
			}
			continue
		}
		t0 := time.Now()
		overrun, err := b.collect(ctx, bySeq, ops, results, deadline)
		recvTime += time.Since(t0)
		if overrun && b.chunk > 16 {
			// The encoder reads b.chunk: it changes for the next Apply.
			b.nextChunk = b.chunk / 2
		}
		if err != nil {
			fatal = err
			b.broken = true
			for _, idx := range bySeq {
				results[idx] = fmt.Errorf("no ack: %w", err)
			}
		}
	}
	if b.nextChunk > 0 && b.nextChunk < b.chunk {
		b.chunk = b.nextChunk
		b.log.Warn("ipvs: netlink acks overran the receive buffer; smaller batches from now on", "chunk", b.chunk)
	}

	b.log.Debug("ipvs: batch applied", "ops", len(ops), "chunks", chunks, "elapsed", time.Since(start),
		"send", sendTime, "acks", recvTime)
	var failed []OpError
	for i, err := range results {
		if err != nil {
			failed = append(failed, OpError{Op: ops[i], Err: err})
		}
	}
	return failed
}

// collect reads acks until every sequence in bySeq is answered (and
// removed), recording errors in results. It returns overrun when acks were
// lost; those ops get errAckLost.
//
// The kernel answers a whole sendmsg before the call returns, so all acks
// of a chunk are queued by then unless they were dropped. When the deadline
// passes (or ctx ends) with acks unread, or acks were dropped, collect
// still reads what is queued for a short while, so that as many ops as
// possible get their real result.
func (b *batcher) collect(ctx context.Context, bySeq map[uint32]int, ops []Op, results []error, deadline time.Time) (overrun bool, err error) {
	var stopErr error // why collect is draining: a timeout or nil
	draining := false
	drain := func() {
		draining = true
		_ = b.tr.SetDeadline(time.Now().Add(overrunDrainPeriod))
	}
	for len(bySeq) > 0 {
		msgs, rerr := b.tr.ReceiveMany()
		for _, m := range msgs {
			idx, ok := bySeq[m.Header.Sequence]
			if !ok || m.Header.Type != netlink.Error {
				continue // a stray reply from an earlier, abandoned batch
			}
			delete(bySeq, m.Header.Sequence)
			errno, text, perr := parseAck(m)
			switch {
			case perr != nil:
				results[idx] = fmt.Errorf("unreadable ack: %w", perr)
			case errno != 0:
				results[idx] = &KernelError{Cmd: opCmdName(ops[idx]), Errno: errno, Message: text}
			}
		}
		switch {
		case rerr == nil:
			continue
		case errors.Is(rerr, unix.ENOBUFS):
			// Acks were dropped: read the rest, then give up on those
			// still missing.
			overrun = true
			b.broken = true // a late ack would be harmless, but don't risk it
			if !draining {
				drain()
			}
			continue
		case errors.Is(rerr, os.ErrDeadlineExceeded) && !draining:
			stopErr = rerr
			drain()
			continue
		case errors.Is(rerr, os.ErrDeadlineExceeded) && stopErr == nil && overrun:
			// Drained after an overrun: what is missing was dropped.
			for seq, idx := range bySeq {
				results[idx] = errAckLost
				delete(bySeq, seq)
			}
			return overrun, nil
		case errors.Is(rerr, os.ErrDeadlineExceeded):
			rerr = stopErr
		}
		if cerr := ctx.Err(); cerr != nil {
			return overrun, fmt.Errorf("netlink receive: %w (%w)", cerr, rerr)
		}
		return overrun, fmt.Errorf("netlink receive: %w", rerr)
	}
	return overrun, nil
}

// parseAck reads an NLMSG_ERROR message: the errno (0 for an ack) and the
// extended ack text, if any.
func parseAck(m netlink.Message) (syscall.Errno, string, error) {
	if len(m.Data) < 4 {
		return 0, "", errors.New("short error message")
	}
	code := int32(binary.NativeEndian.Uint32(m.Data[:4]))
	if code == 0 || m.Header.Flags&netlink.AcknowledgeTLVs == 0 {
		return syscall.Errno(-code), "", nil
	}
	// The TLVs follow the echoed request: its header only when capped.
	off := 4 + nlmsgHeaderLen
	if m.Header.Flags&netlink.Capped == 0 && len(m.Data) >= 4+nlmsgHeaderLen {
		off = 4 + int(binary.NativeEndian.Uint32(m.Data[4:8]))
	}
	text := ""
	if off <= len(m.Data) {
		if ad, err := netlink.NewAttributeDecoder(m.Data[off:]); err == nil {
			for ad.Next() {
				if ad.Type() == unix.NLMSGERR_ATTR_MSG {
					text = ad.String()
				}
			}
		}
	}
	return syscall.Errno(-code), text, nil
}

func opCmdName(op Op) string {
	cmd, err := opCommand(op.Kind)
	if err != nil {
		return op.Kind.String()
	}
	return cmdName(cmd)
}

// ackConn is the real transport: netlink.Conn sends; acks are read with
// recvmmsg, up to ackBatch datagrams per system call (the kernel sends each
// ack as its own datagram, and one recvmsg per ack costs more than the
// kernel's work on the command).
type ackConn struct {
	*netlink.Conn
	rc   syscall.RawConn
	bufs [][]byte
	iovs []unix.Iovec
	hdrs []unix.Mmsghdr
}

const (
	ackBatch   = 256
	ackBufSize = 1024 // an ack: 36 bytes; an error ack: + request (unless capped) + ext ack text
)

func newAckConn(c *netlink.Conn) (*ackConn, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	a := &ackConn{Conn: c, rc: rc, bufs: make([][]byte, ackBatch), iovs: make([]unix.Iovec, ackBatch), hdrs: make([]unix.Mmsghdr, ackBatch)}
	for i := range a.bufs {
		a.bufs[i] = make([]byte, ackBufSize)
		a.iovs[i].Base = &a.bufs[i][0]
		a.iovs[i].SetLen(ackBufSize)
		a.hdrs[i].Hdr.Iov = &a.iovs[i]
		a.hdrs[i].Hdr.SetIovlen(1)
	}
	return a, nil
}

// ReceiveMany implements nlTransport.
func (a *ackConn) ReceiveMany() ([]netlink.Message, error) {
	var n int
	var serr error
	err := a.rc.Read(func(fd uintptr) bool {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&a.hdrs[0])), uintptr(len(a.hdrs)), unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EAGAIN || e == unix.EINTR {
			return false // wait for the socket to be readable (or the deadline)
		}
		if e != 0 {
			serr = os.NewSyscallError("recvmmsg", e)
		}
		n = int(r)
		return true
	})
	if err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, serr
	}
	var msgs []netlink.Message
	for i := range n {
		l := int(a.hdrs[i].Len)
		msgs = appendMessages(msgs, a.bufs[i][:min(l, ackBufSize)])
	}
	return msgs, nil
}

// appendMessages parses the netlink messages of a datagram (a truncated
// last one is dropped).
func appendMessages(msgs []netlink.Message, b []byte) []netlink.Message {
	for len(b) >= nlmsgHeaderLen {
		l := int(binary.NativeEndian.Uint32(b[0:4]))
		if l < nlmsgHeaderLen || l > len(b) {
			break
		}
		msgs = append(msgs, netlink.Message{
			Header: netlink.Header{
				Length:   uint32(l),
				Type:     netlink.HeaderType(binary.NativeEndian.Uint16(b[4:6])),
				Flags:    netlink.HeaderFlags(binary.NativeEndian.Uint16(b[6:8])),
				Sequence: binary.NativeEndian.Uint32(b[8:12]),
				PID:      binary.NativeEndian.Uint32(b[12:16]),
			},
			Data: bytes.Clone(b[nlmsgHeaderLen:l]),
		})
		al := (l + 3) &^ 3
		if al >= len(b) {
			break
		}
		b = b[al:]
	}
	return msgs
}

// nlClient is our own generic netlink socket for IPVS: batched writes and
// (as a fallback and cross-check) dumps.
type nlClient struct {
	conn   *netlink.Conn
	gc     *genetlink.Conn
	family genetlink.Family
	b      *batcher
}

// dialNetlink opens a generic netlink socket in the calling thread's
// network namespace and looks up the IPVS family.
func dialNetlink(timeout time.Duration, log *slog.Logger) (*nlClient, error) {
	conn, err := netlink.Dial(unix.NETLINK_GENERIC, &netlink.Config{MessageBufferSize: recvBufferSize})
	if err != nil {
		return nil, fmt.Errorf("generic netlink socket: %w", err)
	}
	gc := genetlink.NewConn(conn)
	_ = conn.SetDeadline(time.Now().Add(timeout))
	fam, err := gc.GetFamily(ipvsGenlName)
	if err != nil {
		_ = conn.Close()
		if errors.Is(err, os.ErrNotExist) {
			return nil, ErrUnavailable
		}
		return nil, fmt.Errorf("looking up generic netlink family %s: %w", ipvsGenlName, err)
	}
	_ = conn.SetDeadline(time.Time{})
	if fam.Version != ipvsGenlVersion {
		_ = conn.Close()
		return nil, fmt.Errorf("IPVS generic netlink family version %d, want %d", fam.Version, ipvsGenlVersion)
	}
	// Best effort: extended acks explain EINVAL; capped acks keep error
	// acks small; a big receive buffer holds a chunk's acks.
	_ = conn.SetOption(netlink.ExtendedAcknowledge, true)
	_ = conn.SetOption(netlink.CapAcknowledge, true)
	rb := setReadBuffer(conn, wantReadBuffer)
	chunk := defaultChunkMsgs
	if rb > 0 && rb/ackTruesize < chunk {
		chunk = max(16, rb/ackTruesize)
	}
	ac, err := newAckConn(conn)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return &nlClient{conn: conn, gc: gc, family: fam, b: newBatcher(ac, fam.ID, chunk, log)}, nil
}

// setReadBuffer asks for n bytes of receive buffer, forcing past rmem_max
// when allowed (CAP_NET_ADMIN), and returns what the socket got.
func setReadBuffer(conn *netlink.Conn, n int) int {
	forced := false
	if rc, err := conn.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			forced = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n) == nil
		})
	}
	if !forced {
		_ = conn.SetReadBuffer(n)
	}
	got, err := conn.ReadBuffer()
	if err != nil {
		return 0
	}
	return got
}

// Close closes the socket (the batcher's transport is the same socket).
func (c *nlClient) Close() error { return c.b.tr.Close() }

// serviceKeyAttrs encodes the IPVS_CMD_ATTR_SERVICE nest holding a key.
func serviceKeyAttrs(k ServiceKey) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Nested(ipvsCmdAttrService, func(nae *netlink.AttributeEncoder) error {
		encodeServiceAttrs(nae, Service{ServiceKey: k}, false)
		return nil
	})
	return ae.Encode()
}

func (c *nlClient) execute(ctx context.Context, timeout time.Duration, cmd uint8, data []byte, flags netlink.HeaderFlags) ([]genetlink.Message, error) {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = c.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	msgs, err := c.gc.Execute(genetlink.Message{
		Header: genetlink.Header{Command: cmd, Version: ipvsGenlVersion},
		Data:   data,
	}, c.family.ID, flags)
	if err != nil {
		var oe *netlink.OpError
		var errno syscall.Errno
		if errors.As(err, &oe) && oe.Sequence != 0 && errors.As(oe.Err, &errno) {
			// The kernel's answer to the request.
			return nil, &KernelError{Cmd: cmdName(cmd), Errno: errno, Message: oe.Message}
		}
		// A timeout or socket error: the socket may hold part of a
		// reply, so it is not used again.
		c.b.broken = true
		return nil, fmt.Errorf("%s: %w", cmdName(cmd), err)
	}
	return msgs, nil
}

// dumpServices lists services with IPVS_CMD_GET_SERVICE | NLM_F_DUMP.
func (c *nlClient) dumpServices(ctx context.Context, timeout time.Duration) ([]Service, error) {
	msgs, err := c.execute(ctx, timeout, ipvsCmdGetService, nil, netlink.Request|netlink.Dump)
	if err != nil {
		return nil, err
	}
	out := make([]Service, 0, len(msgs))
	for _, m := range msgs {
		s, ok, err := serviceFromReply(m)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, s)
		}
	}
	return out, nil
}

func serviceFromReply(m genetlink.Message) (Service, bool, error) {
	ad, err := netlink.NewAttributeDecoder(m.Data)
	if err != nil {
		return Service{}, false, err
	}
	for ad.Next() {
		if ad.Type() == ipvsCmdAttrService {
			s, err := decodeServiceAttrs(ad.Bytes())
			return s, err == nil, err
		}
	}
	return Service{}, false, ad.Err()
}

// getService fetches one service (IPVS_CMD_GET_SERVICE without dump); a
// missing one is a *KernelError with ESRCH (errors.Is ErrNotFound).
func (c *nlClient) getService(ctx context.Context, timeout time.Duration, k ServiceKey) (Service, error) {
	data, err := serviceKeyAttrs(k)
	if err != nil {
		return Service{}, err
	}
	msgs, err := c.execute(ctx, timeout, ipvsCmdGetService, data, netlink.Request)
	if err != nil {
		return Service{}, err
	}
	for _, m := range msgs {
		if s, ok, err := serviceFromReply(m); err != nil || ok {
			return s, err
		}
	}
	return Service{}, &KernelError{Cmd: "get-service", Errno: unix.ESRCH}
}

// dumpDests lists a service's destinations (IPVS_CMD_GET_DEST dump). The
// kernel answers an empty dump for a missing service.
func (c *nlClient) dumpDests(ctx context.Context, timeout time.Duration, k ServiceKey) ([]Destination, error) {
	data, err := serviceKeyAttrs(k)
	if err != nil {
		return nil, err
	}
	msgs, err := c.execute(ctx, timeout, ipvsCmdGetDest, data, netlink.Request|netlink.Dump)
	if err != nil {
		return nil, err
	}
	out := make([]Destination, 0, len(msgs))
	for _, m := range msgs {
		ad, err := netlink.NewAttributeDecoder(m.Data)
		if err != nil {
			return nil, err
		}
		for ad.Next() {
			if ad.Type() != ipvsCmdAttrDest {
				continue
			}
			d, err := decodeDestAttrs(ad.Bytes(), k.Family)
			if err != nil {
				return nil, err
			}
			out = append(out, d)
		}
		if err := ad.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
