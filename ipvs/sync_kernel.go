package ipvs

// The kernel's connection sync daemons and IPVS timeouts over generic
// netlink (net/netfilter/ipvs/ip_vs_ctl.c: ip_vs_genl_set_daemon,
// ip_vs_genl_dump_daemons, ip_vs_genl_set_config, ip_vs_genl_get_cmd).
// libipvs has none of these calls.
//
// What the sync daemons need to be useful (for the operator's README):
//
//   - net.ipv4.vs.sync_version: 1 (the default) on both directors; a
//     version-0 backup drops version-1 messages. Version 1 carries IPv6,
//     persistence templates, fwmark services and timeouts.
//   - The interface: it must exist in the director's network namespace when
//     the daemon starts (else ENODEV), and the master needs an IPv4 address
//     on it to send from when the group is IPv4 (else EADDRNOTAVAIL). The
//     daemon keeps the interface by name; renaming or deleting it later
//     silently stops the sync. A backup binds the group port (8848 upward,
//     one port per sync_ports thread) on that interface.
//   - Multicast: the default group 224.0.0.81 with TTL 1 stays on the link,
//     so the two directors must share one (a dedicated link is best: sync
//     traffic grows with the connection rate). Across a router, set a TTL
//     and a multicast route. Firewalls must pass UDP to the group port.
//   - A connection is sent when its packet count reaches
//     net.ipv4.vs.sync_threshold (default "3 50": at the 3rd packet, then
//     every 50) and on state changes; sync_refresh_period (seconds, 0 =
//     off) resends long-lived ones, so a backup started late learns them.
//   - The backup's entries take the IPVS timeouts (Timeouts/SetTimeouts),
//     which decide how long a synced entry lives after the last update.
//   - A service with destinations of the other address family makes the
//     kernel refuse to start a daemon (EINVAL): the protocol cannot carry it.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

var _ Sync = (*Kernel)(nil)

// Command attributes of the daemon and config commands (enum IPVS_CMD_ATTR_*).
const (
	ipvsCmdAttrDaemon        = 3 // nested IPVS_DAEMON_ATTR_*
	ipvsCmdAttrTimeoutTCP    = 4 // u32 seconds
	ipvsCmdAttrTimeoutTCPFin = 5 // u32 seconds
	ipvsCmdAttrTimeoutUDP    = 6 // u32 seconds
)

// Daemon attributes (enum IPVS_DAEMON_ATTR_*), with the kernel's nla policy.
const (
	ipvsDaemonAttrState      = 1 // NLA_U32
	ipvsDaemonAttrMcastIfn   = 2 // NLA_NUL_STRING, at most 15 bytes
	ipvsDaemonAttrSyncID     = 3 // NLA_U32
	ipvsDaemonAttrSyncMaxLen = 4 // NLA_U16 (Linux >= 4.3, as are the next four)
	ipvsDaemonAttrMcastGroup = 5 // NLA_U32 holding the in_addr (network order)
	ipvsDaemonAttrMcastGrp6  = 6 // in6_addr
	ipvsDaemonAttrMcastPort  = 7 // NLA_U16, host order
	ipvsDaemonAttrMcastTTL   = 8 // NLA_U8
)

const (
	ifNameMax = unix.IFNAMSIZ - 1 // IP_VS_IFNAME_MAXLEN - 1
	// Headers the kernel subtracts from a message size.
	syncHdr4 = 20 + 8
	syncHdr6 = 40 + 8
)

func isSyncCmd(cmd string) bool {
	switch cmd {
	case "new-daemon", "del-daemon", "get-daemon", "set-config", "get-config":
		return true
	}
	return false
}

// syncIs maps the kernel's answers to the sync commands onto Sync's errors.
func syncIs(e *KernelError, target error) bool {
	switch target {
	case ErrDaemonRunning:
		return e.Cmd == "new-daemon" && e.Errno == unix.EEXIST
	case ErrDaemonNotRunning:
		return e.Cmd == "del-daemon" && e.Errno == unix.ESRCH
	case ErrSyncUnsupported:
		// genl answers EOPNOTSUPP for a command the family lacks (or a
		// command without the handler for that request type).
		return e.Errno == unix.EOPNOTSUPP ||
			(e.Errno == unix.EINVAL && strings.Contains(strings.ToLower(e.Message), "unknown attribute"))
	}
	return false
}

// syncMeaning explains an errno of a sync command.
func syncMeaning(cmd string, errno syscall.Errno) (string, bool) {
	if !isSyncCmd(cmd) {
		return "", false
	}
	switch {
	case errno == unix.EOPNOTSUPP:
		return "this kernel lacks the command", true
	case errno == unix.EPERM:
		return "IPVS needs CAP_NET_ADMIN", true
	case cmd == "new-daemon" && errno == unix.EEXIST:
		return "a sync daemon of that role already runs", true
	case cmd == "del-daemon" && errno == unix.ESRCH:
		return "no sync daemon of that role runs", true
	case cmd == "new-daemon" && errno == unix.ENODEV:
		return "no such interface in this network namespace", true
	case cmd == "new-daemon" && errno == unix.EADDRNOTAVAIL:
		return "the interface has no IPv4 address for the master to send from", true
	case cmd == "new-daemon" && errno == unix.EAFNOSUPPORT:
		return "this kernel has no IPv6 IPVS for an IPv6 group", true
	case cmd == "new-daemon" && errno == unix.EINVAL:
		return "refused: a service has destinations of the other address family, which the sync protocol cannot carry, or an attribute is malformed", true
	case cmd == "set-config" && errno == unix.EINVAL:
		return "a timeout is beyond the kernel's limit of INT_MAX/HZ seconds (2147483 s at HZ=1000)", true
	}
	return "", true
}

// validName is the kernel's dev_valid_name.
func validName(s string) error {
	switch {
	case s == "":
		return errors.New("no interface name")
	case len(s) > ifNameMax:
		return fmt.Errorf("interface name %q is longer than %d bytes", s, ifNameMax)
	case s == "." || s == "..":
		return fmt.Errorf("bad interface name %q", s)
	case strings.ContainsAny(s, "/:\x00") || strings.IndexFunc(s, func(r rune) bool { return r == ' ' || (r >= '\t' && r <= '\r') }) >= 0:
		return fmt.Errorf("interface name %q has a '/', ':', NUL or blank", s)
	}
	return nil
}

// ValidateDaemon reports what the kernel would refuse, or silently change,
// in d (StartDaemon checks it before sending).
func ValidateDaemon(d SyncDaemon) error {
	if d.State != SyncMaster && d.State != SyncBackup {
		return fmt.Errorf("sync daemon state %d is neither master (1) nor backup (2)", uint32(d.State))
	}
	if err := validName(d.Interface); err != nil {
		return fmt.Errorf("%s sync daemon: %w", d.State, err)
	}
	hdr := syncHdr4
	if d.Group.IsValid() {
		g := d.Group
		switch {
		case g.Is4In6():
			return fmt.Errorf("%s sync daemon: group %v: write an IPv4 group as IPv4", d.State, g)
		case g.Zone() != "":
			return fmt.Errorf("%s sync daemon: group %v: no zone (the interface says where)", d.State, g)
		case !g.IsMulticast():
			return fmt.Errorf("%s sync daemon: group %v is not a multicast address", d.State, g)
		}
		if g.Is6() {
			hdr = syncHdr6
		}
	}
	if d.MaxLen != 0 {
		if int(d.MaxLen) > math.MaxUint16-hdr {
			return fmt.Errorf("%s sync daemon: maxlen %d is more than %d (65535 less the IP and UDP headers)", d.State, d.MaxLen, math.MaxUint16-hdr)
		}
		if d.State == SyncBackup && d.MaxLen < 1024 {
			return fmt.Errorf("backup sync daemon: maxlen %d is less than the kernel's minimum of 1024 for a backup", d.MaxLen)
		}
	}
	return nil
}

func (d SyncDaemon) describe() string {
	s := fmt.Sprintf("%s sync daemon on %q (sync id %d", d.State, d.Interface, d.SyncID)
	if d.Group.IsValid() {
		s += fmt.Sprintf(", group %v", d.Group)
	}
	if d.Port != 0 {
		s += fmt.Sprintf(", port %d", d.Port)
	}
	return s + ")"
}

// hasOptional reports whether d sets an attribute of Linux >= 4.3.
func (d SyncDaemon) hasOptional() bool {
	return d.MaxLen != 0 || d.Group.IsValid() || d.Port != 0 || d.TTL != 0
}

// encodeDaemon is the IPVS_CMD_ATTR_DAEMON nest of IPVS_CMD_NEW_DAEMON, in
// the order ipvsadm's libipvs writes it (SYNC_ID as a u32, as ipvsadm and
// keepalived send it and the policy wants). d must be valid.
func encodeDaemon(d SyncDaemon) ([]byte, error) {
	return nest(ipvsCmdAttrDaemon, func(ae *netlink.AttributeEncoder) {
		ae.Uint32(ipvsDaemonAttrState, uint32(d.State))
		ae.String(ipvsDaemonAttrMcastIfn, d.Interface)
		ae.Uint32(ipvsDaemonAttrSyncID, uint32(d.SyncID))
		if d.MaxLen != 0 {
			ae.Uint16(ipvsDaemonAttrSyncMaxLen, d.MaxLen)
		}
		if d.Port != 0 {
			ae.Uint16(ipvsDaemonAttrMcastPort, d.Port)
		}
		if d.TTL != 0 {
			ae.Uint8(ipvsDaemonAttrMcastTTL, d.TTL)
		}
		if d.Group.Is4() {
			g := d.Group.As4()
			ae.Bytes(ipvsDaemonAttrMcastGroup, g[:])
		} else if d.Group.Is6() {
			g := d.Group.As16()
			ae.Bytes(ipvsDaemonAttrMcastGrp6, g[:])
		}
	})
}

// encodeDaemonState is the nest of IPVS_CMD_DEL_DAEMON: the role only.
func encodeDaemonState(s SyncState) ([]byte, error) {
	return nest(ipvsCmdAttrDaemon, func(ae *netlink.AttributeEncoder) {
		ae.Uint32(ipvsDaemonAttrState, uint32(s))
	})
}

// decodeDaemon reads the IPVS_CMD_ATTR_DAEMON nest of a GET_DAEMON reply
// (ip_vs_genl_fill_daemon). extended reports that the kernel sent the
// Linux >= 4.3 attributes.
func decodeDaemon(m genetlink.Message) (d SyncDaemon, extended, ok bool, err error) {
	ad, err := netlink.NewAttributeDecoder(m.Data)
	if err != nil {
		return d, false, false, err
	}
	for ad.Next() {
		if ad.Type() != ipvsCmdAttrDaemon {
			continue
		}
		ok = true
		ad.Nested(func(nad *netlink.AttributeDecoder) error {
			for nad.Next() {
				b := nad.Bytes()
				switch nad.Type() {
				case ipvsDaemonAttrState:
					d.State = SyncState(nad.Uint32())
				case ipvsDaemonAttrMcastIfn:
					d.Interface = nad.String()
				case ipvsDaemonAttrSyncID:
					id := nad.Uint32()
					if id > math.MaxUint8 {
						return fmt.Errorf("sync id %d out of range", id)
					}
					d.SyncID = uint8(id)
				case ipvsDaemonAttrSyncMaxLen:
					d.MaxLen = nad.Uint16()
					extended = true
				case ipvsDaemonAttrMcastPort:
					d.Port = nad.Uint16()
					extended = true
				case ipvsDaemonAttrMcastTTL:
					d.TTL = nad.Uint8()
					extended = true
				case ipvsDaemonAttrMcastGroup:
					if len(b) != 4 {
						return fmt.Errorf("IPv4 group of %d bytes", len(b))
					}
					d.Group = netip.AddrFrom4([4]byte(b))
				case ipvsDaemonAttrMcastGrp6:
					if len(b) != 16 {
						return fmt.Errorf("IPv6 group of %d bytes", len(b))
					}
					d.Group = netip.AddrFrom16([16]byte(b))
				}
			}
			return nil
		})
	}
	if err := ad.Err(); err != nil {
		return d, false, false, fmt.Errorf("sync daemon reply: %w", err)
	}
	if ok && (d.State != SyncMaster && d.State != SyncBackup || d.Interface == "") {
		return d, false, false, fmt.Errorf("sync daemon reply without a role or interface: %+v", d)
	}
	return d, extended, ok, nil
}

func (c *nlClient) dumpDaemons(ctx context.Context, timeout time.Duration) ([]SyncDaemon, bool, error) {
	msgs, err := c.execute(ctx, timeout, ipvsCmdGetDaemon, nil, netlink.Request|netlink.Dump)
	if err != nil {
		return nil, false, err
	}
	var out []SyncDaemon
	extended := true
	for _, m := range msgs {
		d, ext, ok, err := decodeDaemon(m)
		if err != nil {
			return nil, false, err
		}
		if ok {
			out = append(out, d)
			extended = extended && ext
		}
	}
	return out, extended, nil
}

// StartDaemon implements Sync with IPVS_CMD_NEW_DAEMON. A kernel older
// than 4.3 ignores maxlen, group, port and TTL: when d sets one and the
// kernel does not report them back, the daemon is stopped again and the
// error matches ErrSyncUnsupported.
func (k *Kernel) StartDaemon(ctx context.Context, d SyncDaemon) error {
	what := "starting ipvs " + d.describe()
	if err := ValidateDaemon(d); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	data, err := encodeDaemon(d)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	c, err := k.netlink()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if _, err := c.execute(ctx, k.timeout, ipvsCmdNewDaemon, data, netlink.Request|netlink.Acknowledge); err != nil {
		var ke *KernelError
		if errors.As(err, &ke) && ke.Errno == unix.EINVAL {
			if why := k.mixedFamily(ctx, c); why != "" {
				return fmt.Errorf("%s: %w: %s", what, err, why)
			}
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	if !d.hasOptional() {
		return nil
	}
	ds, extended, err := c.dumpDaemons(ctx, k.timeout)
	if err != nil {
		k.log.Warn("ipvs: could not read back a started sync daemon", "daemon", d.describe(), "err", err)
		return nil
	}
	for _, got := range ds {
		if got.State == d.State && !extended {
			stop, _ := encodeDaemonState(d.State)
			if _, err := c.execute(ctx, k.timeout, ipvsCmdDelDaemon, stop, netlink.Request|netlink.Acknowledge); err != nil {
				k.log.Warn("ipvs: could not stop a sync daemon started without its options", "daemon", d.describe(), "err", err)
			}
			return fmt.Errorf("%s: %w: this kernel ignores maxlen, group, port and ttl (Linux >= 4.3 has them)", what, ErrSyncUnsupported)
		}
	}
	return nil
}

// mixedFamily names a service with a destination of the other address
// family (why the kernel answers EINVAL to NEW_DAEMON), or "".
func (k *Kernel) mixedFamily(ctx context.Context, c *nlClient) string {
	svcs, err := c.dumpServices(ctx, k.timeout)
	if err != nil {
		return ""
	}
	for _, s := range svcs {
		ds, err := c.dumpDests(ctx, k.timeout, s.ServiceKey)
		if err != nil {
			return ""
		}
		for _, d := range ds {
			if familyOf(d.Addr) != s.Family {
				return fmt.Sprintf("service %v has destination %v of the other address family, which the sync protocol cannot carry", s.ServiceKey, d.DestKey)
			}
		}
	}
	return ""
}

// StopDaemon implements Sync with IPVS_CMD_DEL_DAEMON.
func (k *Kernel) StopDaemon(ctx context.Context, state SyncState) error {
	what := fmt.Sprintf("stopping ipvs %s sync daemon", state)
	if state != SyncMaster && state != SyncBackup {
		return fmt.Errorf("%s: state %d is neither master (1) nor backup (2)", what, uint32(state))
	}
	data, err := encodeDaemonState(state)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return k.command(ctx, what, ipvsCmdDelDaemon, data)
}

// Daemons implements Sync with the IPVS_CMD_GET_DAEMON dump (one message
// per daemon, master first). The kernel reports its effective settings:
// the defaults it filled in (group 224.0.0.81, port 8848, TTL 1, maxlen
// from the MTU) show, as in `ipvsadm -L --daemon`.
func (k *Kernel) Daemons(ctx context.Context) ([]SyncDaemon, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	c, err := k.netlink()
	if err != nil {
		return nil, fmt.Errorf("listing ipvs sync daemons: %w", err)
	}
	ds, _, err := c.dumpDaemons(ctx, k.timeout)
	if err != nil {
		return nil, fmt.Errorf("listing ipvs sync daemons: %w", err)
	}
	return ds, nil
}

// Timeouts implements Sync with IPVS_CMD_GET_CONFIG.
func (k *Kernel) Timeouts(ctx context.Context) (Timeouts, error) {
	var t Timeouts
	k.mu.Lock()
	defer k.mu.Unlock()
	c, err := k.netlink()
	if err != nil {
		return t, fmt.Errorf("reading ipvs timeouts: %w", err)
	}
	msgs, err := c.execute(ctx, k.timeout, ipvsCmdGetConfig, nil, netlink.Request)
	if err != nil {
		return t, fmt.Errorf("reading ipvs timeouts: %w", err)
	}
	t, err = decodeTimeouts(msgs)
	if err != nil {
		return t, fmt.Errorf("reading ipvs timeouts: %w", err)
	}
	return t, nil
}

func decodeTimeouts(msgs []genetlink.Message) (Timeouts, error) {
	var t Timeouts
	found := false
	for _, m := range msgs {
		ad, err := netlink.NewAttributeDecoder(m.Data)
		if err != nil {
			return t, err
		}
		for ad.Next() {
			sec := func() time.Duration { return time.Duration(ad.Uint32()) * time.Second }
			switch ad.Type() {
			case ipvsCmdAttrTimeoutTCP:
				t.TCP, found = sec(), true
			case ipvsCmdAttrTimeoutTCPFin:
				t.TCPFin, found = sec(), true
			case ipvsCmdAttrTimeoutUDP:
				t.UDP, found = sec(), true
			}
		}
		if err := ad.Err(); err != nil {
			return t, err
		}
	}
	if !found {
		return t, errors.New("the kernel's reply has no timeouts")
	}
	return t, nil
}

// encodeTimeouts is the payload of IPVS_CMD_SET_CONFIG: whole seconds, a
// zero field left out (the kernel leaves it unchanged, and would also for
// a 0 it was sent).
func encodeTimeouts(t Timeouts) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	for _, f := range []struct {
		typ  uint16
		name string
		d    time.Duration
	}{{ipvsCmdAttrTimeoutTCP, "tcp", t.TCP}, {ipvsCmdAttrTimeoutTCPFin, "tcpfin", t.TCPFin}, {ipvsCmdAttrTimeoutUDP, "udp", t.UDP}} {
		switch {
		case f.d == 0:
			continue
		case f.d < time.Second:
			return nil, fmt.Errorf("ipvs %s timeout %v: at least 1s (0 leaves it unchanged)", f.name, f.d)
		case f.d%time.Second != 0:
			return nil, fmt.Errorf("ipvs %s timeout %v: whole seconds only", f.name, f.d)
		case f.d/time.Second > math.MaxUint32:
			return nil, fmt.Errorf("ipvs %s timeout %v: more than %d seconds", f.name, f.d, uint32(math.MaxUint32))
		}
		ae.Uint32(f.typ, uint32(f.d/time.Second))
	}
	return ae.Encode()
}

// SetTimeouts implements Sync with IPVS_CMD_SET_CONFIG.
func (k *Kernel) SetTimeouts(ctx context.Context, t Timeouts) error {
	what := fmt.Sprintf("setting ipvs timeouts (tcp %v, tcpfin %v, udp %v)", t.TCP, t.TCPFin, t.UDP)
	data, err := encodeTimeouts(t)
	if err != nil {
		return err
	}
	if len(data) == 0 {
		return nil
	}
	return k.command(ctx, what, ipvsCmdSetConfig, data)
}

// command sends one acknowledged request on the netlink socket; errors
// are prefixed with what.
func (k *Kernel) command(ctx context.Context, what string, cmd uint8, data []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	c, err := k.netlink()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if _, err := c.execute(ctx, k.timeout, cmd, data, netlink.Request|netlink.Acknowledge); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Connections implements Sync: the lines of /proc/self/net/ip_vs_conn
// (what `ipvsadm -Lnc` prints, templates and synced entries included) less
// its header, counted without holding them. The kernel keeps the count
// (ipvs->conn_count) but exports it nowhere: GET_INFO has only the hash
// table size and /proc/net/ip_vs_stats cumulative counters. The file shows
// the network namespace of the process's main thread.
func (k *Kernel) Connections(ctx context.Context) (int, error) {
	k.mu.Lock()
	closed, path, timeout := k.closed, k.connPath, k.timeout
	k.mu.Unlock()
	if closed {
		return 0, ErrClosed
	}
	if path == "" {
		path = "/proc/self/net/ip_vs_conn"
	}
	n, err := countConns(ctx, path, timeout)
	if err != nil {
		return 0, fmt.Errorf("counting ipvs connections: %w", err)
	}
	return n, nil
}

func countConns(ctx context.Context, path string, timeout time.Duration) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("%w (%v)", ErrUnavailable, err)
		}
		return 0, err
	}
	defer f.Close()
	deadline := time.Now().Add(timeout)
	r := bufio.NewReaderSize(f, 64<<10)
	lines, last := 0, byte('\n')
	buf := make([]byte, 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("reading %s: %w after %v", path, ErrCallTimeout, timeout)
		}
		n, err := r.Read(buf)
		if n > 0 {
			lines += bytes.Count(buf[:n], []byte{'\n'})
			last = buf[n-1]
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("reading %s: %w", path, err)
		}
	}
	if last != '\n' {
		lines++
	}
	if lines == 0 {
		return 0, fmt.Errorf("%s is empty (no header line)", path)
	}
	return lines - 1, nil
}
