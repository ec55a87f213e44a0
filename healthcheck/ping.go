package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// The ping check (checktype=ping, and checktype=connect on UDP virtuals,
// as in ldirectord): an ICMP echo request to the real, up to count
// attempts, each waiting at most checktimeout; up on the first echo reply.
// Unlike ldirectord (Net::Ping), IPv6 reals are pinged too.
//
// Socket strategy: one shared ICMP socket per address family, not one per
// check. An icmpListener opens it on first use (a raw socket, "ip4:icmp" /
// "ip6:ipv6-icmp", or, when raw sockets are not permitted, an
// unprivileged datagram ICMP socket, "udp4"/"udp6"), runs one reader
// goroutine on it, and closes it (ending the reader) once no check has
// used it for pingLinger. Every echo request gets a sequence number that
// is unique among the requests in flight to the same address; the reader
// hands a reply to the waiting check only when its identifier is the
// socket's (a raw socket sees every echo reply the host gets, other
// programs' too; a datagram socket gets only its own, the kernel matches
// the identifier), and its source address and sequence number are those
// of a request in flight. A reply for nobody (late, duplicate, another
// program's) is dropped. Sends never block past the check's deadline: a
// full socket buffer is retried until the deadline.
//
// So thousands of reals checked every second cost two sockets and two
// reader goroutines in all (each check in flight just waits on a
// channel), a reply is parsed once rather than by every check, and it can
// only be taken by the check whose request it answers. (One raw socket
// per check would have the kernel copy every echo reply to every open
// socket.) On loopback 20,000 concurrent pings all succeed in about
// 0.2 s, given the large receive buffer.

const (
	pingLinger = 30 * time.Second
	// pingReadBuf holds a burst of replies (each costs about 1 KiB of
	// buffer in the kernel) while the reader catches up: a raw socket
	// queues every echo reply the host gets.
	pingReadBuf  = 8 << 20
	pingWriteBuf = 1 << 20
)

// pingPayload is the echo data. Replies are matched on identifier,
// sequence and source, not on the data (as Net::Ping does).
var pingPayload = []byte("lvsdirector-ping")

var errNoEchoReply = errors.New("no echo reply")

type pingCheck struct {
	s    Spec
	nets *pingNets
}

// pingNets are the listeners for IPv4 and IPv6.
type pingNets struct{ v4, v6 *icmpListener }

var defaultPingNets = &pingNets{
	v4: newICMPListener(false, openICMP),
	v6: newICMPListener(true, openICMP),
}

func newPingCheck(s Spec) Checker { return pingCheck{s: s, nets: defaultPingNets} }

func (c pingCheck) Check(ctx context.Context) error {
	dst := c.s.Addr.Unmap()
	if !dst.IsValid() {
		return errors.New("ping: no address")
	}
	l := c.nets.v4
	if dst.Is6() {
		l = c.nets.v6
	}
	if err := l.acquire(); err != nil {
		return fmt.Errorf("ping %s: %w", dst, err)
	}
	defer l.release()
	count := max(c.s.Count, 1)
	var err error
	tries := 0
	for range count {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if c.s.Timeout > 0 {
			actx, cancel = context.WithTimeout(ctx, c.s.Timeout)
		}
		err = l.echo(actx, dst)
		cancel()
		tries++
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	if errors.Is(err, errNoEchoReply) {
		return fmt.Errorf("ping %s: no echo reply (%d of %d requests sent, timeout %v each)", dst, tries, count, c.s.Timeout)
	}
	return fmt.Errorf("ping %s: %w", dst, err)
}

// icmpTransport is the socket under an icmpListener (a fake in tests).
type icmpTransport interface {
	// ReadFrom reads one ICMP message (no IP header); it fails once the
	// transport is closed.
	ReadFrom(b []byte) (int, net.Addr, error)
	// send sends one ICMP message to dst, waiting no longer than ctx.
	send(ctx context.Context, b []byte, dst netip.Addr) error
	Close() error
}

// icmpOpener opens a transport; id is the echo identifier it sends with,
// and kernelID says the kernel sets the identifier and delivers only
// replies carrying it (datagram ICMP sockets), so it need not be checked.
type icmpOpener func(v6 bool) (t icmpTransport, id uint16, kernelID bool, err error)

// icmpListener is the shared socket of one address family and the checks
// waiting for replies on it.
type icmpListener struct {
	v6     bool
	open   icmpOpener
	linger time.Duration

	mu      sync.Mutex
	t       icmpTransport // nil while closed
	id      uint16
	seq     uint16
	waiting map[echoKey]chan error
	users   int // checks between acquire and release
	idle    *time.Timer
}

// echoKey is a request in flight: who must answer, with which sequence.
type echoKey struct {
	addr netip.Addr // unmapped, without zone
	seq  uint16
}

func newICMPListener(v6 bool, open icmpOpener) *icmpListener {
	return &icmpListener{v6: v6, open: open, linger: pingLinger, waiting: map[echoKey]chan error{}}
}

// acquire opens the socket if needed and counts a user; release must follow.
func (l *icmpListener) acquire() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.t == nil {
		t, id, kernelID, err := l.open(l.v6)
		if err != nil {
			return err
		}
		l.t, l.id = t, id
		go l.read(t, id, kernelID)
	}
	l.users++
	return nil
}

// release counts a user out; the last one arms the idle close.
func (l *icmpListener) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.users--
	if l.users > 0 || l.t == nil {
		return
	}
	if l.idle == nil {
		l.idle = time.AfterFunc(l.linger, l.closeIdle)
	} else {
		l.idle.Reset(l.linger)
	}
}

func (l *icmpListener) closeIdle() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.users == 0 && l.t != nil {
		l.t.Close() // the reader sees the error and ends
		l.t = nil
	}
}

// read is the one reader of transport t: it runs until t is closed.
func (l *icmpListener) read(t icmpTransport, id uint16, kernelID bool) {
	buf := make([]byte, 1500)
	for {
		n, from, err := t.ReadFrom(buf)
		if err != nil {
			l.mu.Lock()
			if l.t == t { // not closed by closeIdle: the socket failed
				t.Close()
				l.t = nil
				for k, ch := range l.waiting {
					ch <- fmt.Errorf("icmp socket: %w", err)
					delete(l.waiting, k)
				}
			}
			l.mu.Unlock()
			return
		}
		l.dispatch(buf[:n], from, id, kernelID)
	}
}

// dispatch hands an echo reply to the check waiting for it, if any.
func (l *icmpListener) dispatch(b []byte, from net.Addr, id uint16, kernelID bool) {
	proto := 1 // ICMP
	if l.v6 {
		proto = 58 // ICMPv6
	}
	m, err := icmp.ParseMessage(proto, b)
	if err != nil || m.Type != ipv4.ICMPTypeEchoReply && m.Type != ipv6.ICMPTypeEchoReply {
		return
	}
	echo, ok := m.Body.(*icmp.Echo)
	if !ok || !kernelID && uint16(echo.ID) != id {
		return
	}
	var src netip.Addr
	switch a := from.(type) {
	case *net.IPAddr:
		src, _ = netip.AddrFromSlice(a.IP)
	case *net.UDPAddr:
		src, _ = netip.AddrFromSlice(a.IP)
	}
	k := echoKey{addr: src.Unmap().WithZone(""), seq: uint16(echo.Seq)}
	l.mu.Lock()
	defer l.mu.Unlock()
	if ch, ok := l.waiting[k]; ok {
		delete(l.waiting, k)
		ch <- nil
	}
}

// echo sends one echo request to dst and waits for its reply until ctx is
// done. It must be called between acquire and release.
func (l *icmpListener) echo(ctx context.Context, dst netip.Addr) error {
	ch := make(chan error, 1)
	l.mu.Lock()
	t, id := l.t, l.id
	if t == nil { // the socket failed since acquire
		l.mu.Unlock()
		return errors.New("icmp socket closed")
	}
	k := echoKey{addr: dst.WithZone("")}
	free := false
	for range 1 << 16 {
		l.seq++
		k.seq = l.seq
		if _, busy := l.waiting[k]; !busy {
			free = true
			break
		}
	}
	if !free {
		l.mu.Unlock()
		return errors.New("too many echo requests in flight")
	}
	l.waiting[k] = ch
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		if l.waiting[k] == ch {
			delete(l.waiting, k)
		}
		l.mu.Unlock()
	}()

	var typ icmp.Type = ipv4.ICMPTypeEcho
	if l.v6 {
		typ = ipv6.ICMPTypeEchoRequest
	}
	// For ICMPv6 the kernel computes the checksum.
	msg, err := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: int(id), Seq: int(k.seq), Data: pingPayload}}).Marshal(nil)
	if err != nil {
		return err
	}
	if err := t.send(ctx, msg, dst); err != nil {
		return err
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return errNoEchoReply
	}
}

// icmpSocket is a real ICMP socket: reads through the net package, sends
// with MSG_DONTWAIT so that a full send buffer cannot block a check past
// its deadline.
type icmpSocket struct {
	pc net.PacketConn
	rc syscall.RawConn
}

func (s *icmpSocket) ReadFrom(b []byte) (int, net.Addr, error) { return s.pc.ReadFrom(b) }
func (s *icmpSocket) Close() error                             { return s.pc.Close() }

func (s *icmpSocket) send(ctx context.Context, b []byte, dst netip.Addr) error {
	var sa syscall.Sockaddr
	if dst.Is4() {
		sa = &syscall.SockaddrInet4{Addr: dst.As4()}
	} else {
		sa6 := &syscall.SockaddrInet6{Addr: dst.As16()}
		if z := dst.Zone(); z != "" {
			if n, err := strconv.Atoi(z); err == nil {
				sa6.ZoneId = uint32(n)
			} else if ifi, err := net.InterfaceByName(z); err == nil {
				sa6.ZoneId = uint32(ifi.Index)
			} else {
				return fmt.Errorf("zone %s: %w", z, err)
			}
		}
		sa = sa6
	}
	wait := time.Millisecond
	for {
		var serr error
		if err := s.rc.Write(func(fd uintptr) bool {
			serr = syscall.Sendto(int(fd), b, syscall.MSG_DONTWAIT, sa)
			return true
		}); err != nil {
			return err
		}
		switch {
		case serr == nil:
			return nil
		case errors.Is(serr, syscall.EINTR):
			continue
		case !errors.Is(serr, syscall.EAGAIN) && !errors.Is(serr, syscall.ENOBUFS):
			return os.NewSyscallError("sendto", serr)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("icmp send buffer full: %w", os.NewSyscallError("sendto", serr))
		case <-timer.C:
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// openICMP opens a raw ICMP socket, or, failing that (no CAP_NET_RAW), a
// datagram ICMP socket (allowed by net.ipv4.ping_group_range).
func openICMP(v6 bool) (icmpTransport, uint16, bool, error) {
	network, laddr := "ip4:icmp", "0.0.0.0"
	if v6 {
		network, laddr = "ip6:ipv6-icmp", "::"
	}
	pc, rawErr := net.ListenPacket(network, laddr)
	if rawErr == nil {
		ic := pc.(*net.IPConn)
		pingBuffers(ic)
		// Only echo replies reach the socket (best effort: Linux only).
		if v6 {
			var f ipv6.ICMPFilter
			f.SetAll(true)
			f.Accept(ipv6.ICMPTypeEchoReply)
			_ = ipv6.NewPacketConn(ic).SetICMPFilter(&f)
		} else {
			var f ipv4.ICMPFilter
			f.SetAll(true)
			f.Accept(ipv4.ICMPTypeEchoReply)
			_ = ipv4.NewPacketConn(ic).SetICMPFilter(&f)
		}
		rc, err := ic.SyscallConn()
		if err != nil {
			ic.Close()
			return nil, 0, false, err
		}
		return &icmpSocket{pc: ic, rc: rc}, uint16(rand.N(1 << 16)), false, nil
	}
	t, id, err := openDatagramICMP(v6)
	if err != nil {
		return nil, 0, false, fmt.Errorf("raw ICMP socket: %v; datagram ICMP socket: %w", rawErr, err)
	}
	return t, id, true, nil
}

// openDatagramICMP opens an unprivileged ICMP socket (what icmp.ListenPacket
// does for "udp4"/"udp6", done here to keep the raw connection for sends).
// The kernel gives it an identifier, its "port".
func openDatagramICMP(v6 bool) (icmpTransport, uint16, error) {
	family, proto := syscall.AF_INET, syscall.IPPROTO_ICMP
	var sa syscall.Sockaddr = &syscall.SockaddrInet4{}
	if v6 {
		family, proto = syscall.AF_INET6, syscall.IPPROTO_ICMPV6
		sa = &syscall.SockaddrInet6{}
	}
	fd, err := syscall.Socket(family, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK, proto)
	if err != nil {
		return nil, 0, os.NewSyscallError("socket", err)
	}
	if err := syscall.Bind(fd, sa); err != nil {
		syscall.Close(fd)
		return nil, 0, os.NewSyscallError("bind", err)
	}
	f := os.NewFile(uintptr(fd), "icmp")
	pc, err := net.FilePacketConn(f)
	f.Close()
	if err != nil {
		return nil, 0, err
	}
	uc, ok := pc.(*net.UDPConn)
	if !ok {
		pc.Close()
		return nil, 0, fmt.Errorf("datagram ICMP socket is a %T", pc)
	}
	pingBuffers(uc)
	rc, err := uc.SyscallConn()
	if err != nil {
		uc.Close()
		return nil, 0, err
	}
	var id uint16
	if la, ok := uc.LocalAddr().(*net.UDPAddr); ok {
		id = uint16(la.Port)
	}
	return &icmpSocket{pc: uc, rc: rc}, id, nil
}

// pingBuffers enlarges the socket's buffers: past net.core.rmem_max /
// wmem_max when allowed (CAP_NET_ADMIN), else up to them.
func pingBuffers(c interface {
	SyscallConn() (syscall.RawConn, error)
	SetReadBuffer(int) error
	SetWriteBuffer(int) error
}) {
	var rcv, snd error = syscall.EINVAL, syscall.EINVAL
	if rc, err := c.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			rcv = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, pingReadBuf)
			snd = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUFFORCE, pingWriteBuf)
		})
	}
	if rcv != nil {
		_ = c.SetReadBuffer(pingReadBuf)
	}
	if snd != nil {
		_ = c.SetWriteBuffer(pingWriteBuf)
	}
}
