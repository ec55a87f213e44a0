// Package ipvs is the kernel's IPVS table behind a small interface.
//
// Two implementations exist: Kernel (generic netlink, through libipvs for
// reads and single writes, batched netlink for bulk writes) and Memory (for
// unit tests). Everything above this package speaks only Table, Service,
// Destination and Op.
package ipvs

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
)

// Protocol is the IP protocol number of a service (0 for fwmark services).
type Protocol uint16

// Protocols IPVS services use.
const (
	TCP  Protocol = 6
	UDP  Protocol = 17
	SCTP Protocol = 132
)

func (p Protocol) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	case SCTP:
		return "sctp"
	case 0:
		return "fwm"
	}
	return "proto" + strconv.Itoa(int(p))
}

// Family is an address family (AF_INET or AF_INET6).
type Family uint16

// Address families, with the kernel's values.
const (
	INET  Family = 2
	INET6 Family = 10
)

// Fwd is a destination's forwarding method, with the kernel's values.
type Fwd uint32

// Forwarding methods.
const (
	Masq   Fwd = 0 // NAT: ldirectord "masq", ipvsadm -m
	Local  Fwd = 1
	Tunnel Fwd = 2 // ldirectord "ipip", ipvsadm -i
	Route  Fwd = 3 // direct routing: ldirectord "gate", ipvsadm -g
)

func (f Fwd) String() string {
	switch f {
	case Masq:
		return "masq"
	case Local:
		return "local"
	case Tunnel:
		return "ipip"
	case Route:
		return "gate"
	}
	return "fwd" + strconv.Itoa(int(f))
}

// ParseFwd accepts ldirectord's names (gate, masq, ipip).
func ParseFwd(s string) (Fwd, error) {
	switch s {
	case "gate":
		return Route, nil
	case "masq":
		return Masq, nil
	case "ipip":
		return Tunnel, nil
	}
	return 0, fmt.Errorf("forwarding method %q is not gate, masq or ipip", s)
}

// Service flags (include/uapi/linux/ip_vs.h).
const (
	FlagPersistent uint32 = 0x0001
	FlagHashed     uint32 = 0x0002 // set by the kernel; never compared
	FlagOnePacket  uint32 = 0x0004
	FlagSched1     uint32 = 0x0008
	FlagSched2     uint32 = 0x0010
	FlagSched3     uint32 = 0x0020
)

// ServiceKey identifies a virtual service: by protocol, address and port,
// or by firewall mark (Protocol 0, Addr invalid, Port 0).
type ServiceKey struct {
	Family   Family
	Protocol Protocol
	Addr     netip.Addr
	Port     uint16
	FWMark   uint32
}

// String is ldirectord's virtual id: tcp:1.2.3.4:80, udp:[::1]:53, fwm:5, fwm6:5.
func (k ServiceKey) String() string {
	if k.FWMark != 0 {
		if k.Family == INET6 {
			return "fwm6:" + strconv.FormatUint(uint64(k.FWMark), 10)
		}
		return "fwm:" + strconv.FormatUint(uint64(k.FWMark), 10)
	}
	return k.Protocol.String() + ":" + netip.AddrPortFrom(k.Addr, k.Port).String()
}

// Validate reports what the kernel (or libipvs, which panics) would choke on.
func (k ServiceKey) Validate() error {
	if k.Family != INET && k.Family != INET6 {
		return fmt.Errorf("service %v: address family %d is not inet or inet6", k, k.Family)
	}
	if k.FWMark != 0 {
		if k.Addr.IsValid() || k.Port != 0 || k.Protocol != 0 {
			return fmt.Errorf("service %v: a fwmark service has no address, port or protocol", k)
		}
		return nil
	}
	if k.Protocol != TCP && k.Protocol != UDP && k.Protocol != SCTP {
		return fmt.Errorf("service %v: protocol %d is not tcp, udp or sctp", k, k.Protocol)
	}
	if !k.Addr.IsValid() {
		return fmt.Errorf("service %v: no address", k)
	}
	if (k.Family == INET) != k.Addr.Is4() {
		return fmt.Errorf("service %v: address does not match family %d", k, k.Family)
	}
	return nil
}

// Service is a virtual service with its settings.
type Service struct {
	ServiceKey
	Scheduler string // rr, wrr, wlc, ... (kernel module ip_vs_<name>)
	Flags     uint32 // FlagPersistent, FlagOnePacket, FlagSched*; never FlagHashed
	Timeout   uint32 // persistence timeout in seconds (with FlagPersistent)
	// Netmask is the persistence granularity: for IPv4 a mask in network
	// order read as a big-endian number (0xffffffff = /32), for IPv6 a
	// prefix length (128).
	Netmask uint32
	Stats   Stats // read only
}

// SameSettings reports whether two services need no update to match.
func (s Service) SameSettings(o Service) bool {
	return s.Scheduler == o.Scheduler && s.Flags&^FlagHashed == o.Flags&^FlagHashed &&
		s.Timeout == o.Timeout && s.Netmask == o.Netmask
}

// DestKey identifies a destination (real server) within a service.
type DestKey struct {
	Addr netip.Addr
	Port uint16
}

func (k DestKey) String() string { return netip.AddrPortFrom(k.Addr, k.Port).String() }

// Destination is a real server of a service.
type Destination struct {
	DestKey
	Fwd        Fwd
	Weight     int32
	UThreshold uint32 // upper connection threshold (ipvsadm -x), 0 = none
	LThreshold uint32 // lower connection threshold (ipvsadm -y)
	// Read only:
	ActiveConns   uint32
	InactiveConns uint32
	Stats         Stats
}

// SameSettings reports whether two destinations need no update to match.
// The kernel turns any method into Local for an address of the director
// itself, so Local matches every method.
func (d Destination) SameSettings(o Destination) bool {
	sameFwd := d.Fwd == o.Fwd || d.Fwd == Local || o.Fwd == Local
	return sameFwd && d.Weight == o.Weight && d.UThreshold == o.UThreshold && d.LThreshold == o.LThreshold
}

// Stats are the kernel's counters for a service or destination.
type Stats struct {
	Connections, PacketsIn, PacketsOut uint64
	BytesIn, BytesOut                  uint64
	CPS, PPSIn, PPSOut, BPSIn, BPSOut  uint64
}

// OpKind is what an Op does.
type OpKind uint8

// Operation kinds, in the order a reconcile emits them.
const (
	AddService OpKind = iota + 1
	UpdateService
	DeleteService
	AddDest
	UpdateDest
	DeleteDest
)

func (k OpKind) String() string {
	return [...]string{"?", "add-service", "update-service", "delete-service", "add-dest", "update-dest", "delete-dest"}[k]
}

// Op is one change to the table. Service carries the key (and, for add and
// update, the settings); Dest is used by the destination kinds.
type Op struct {
	Kind    OpKind
	Service Service
	Dest    Destination
}

func (o Op) String() string {
	switch o.Kind {
	case AddDest, UpdateDest:
		return fmt.Sprintf("%v %v %v %v w=%d", o.Kind, o.Service.ServiceKey, o.Dest.DestKey, o.Dest.Fwd, o.Dest.Weight)
	case DeleteDest:
		return fmt.Sprintf("%v %v %v", o.Kind, o.Service.ServiceKey, o.Dest.DestKey)
	}
	return fmt.Sprintf("%v %v", o.Kind, o.Service.ServiceKey)
}

// Validate checks an op before it reaches the kernel.
func (o Op) Validate() error {
	if err := o.Service.ServiceKey.Validate(); err != nil {
		return err
	}
	switch o.Kind {
	case AddService, UpdateService:
		if o.Service.Scheduler == "" {
			return fmt.Errorf("service %v: no scheduler", o.Service.ServiceKey)
		}
	case AddDest, UpdateDest, DeleteDest:
		if !o.Dest.Addr.IsValid() {
			return fmt.Errorf("service %v: destination without address", o.Service.ServiceKey)
		}
		if o.Service.FWMark == 0 && o.Dest.Addr.Is4() != o.Service.Addr.Is4() {
			return fmt.Errorf("service %v: destination %v of another family", o.Service.ServiceKey, o.Dest.DestKey)
		}
		if o.Dest.Weight < 0 {
			return fmt.Errorf("service %v: destination %v: negative weight", o.Service.ServiceKey, o.Dest.DestKey)
		}
	case DeleteService:
	default:
		return fmt.Errorf("unknown op kind %d", o.Kind)
	}
	return nil
}

// Table is the IPVS table. Implementations are safe for use by one goroutine
// at a time; the director owns its Table and is its only writer.
type Table interface {
	// Services lists every virtual service in the table, managed or not.
	Services(ctx context.Context) ([]Service, error)
	// Destinations lists one service's destinations.
	Destinations(ctx context.Context, svc ServiceKey) ([]Destination, error)
	// Apply performs ops in order. Every op is attempted; the error (an
	// *ApplyError) names each op that failed.
	Apply(ctx context.Context, ops []Op) error
	Close() error
}

// OpError is one failed op.
type OpError struct {
	Op  Op
	Err error
}

func (e OpError) Error() string { return e.Op.String() + ": " + e.Err.Error() }

// ApplyError lists the ops of an Apply that failed.
type ApplyError struct {
	Failed []OpError
	Total  int
}

func (e *ApplyError) Error() string {
	if len(e.Failed) == 1 {
		return e.Failed[0].Error()
	}
	return fmt.Sprintf("%d of %d ipvs ops failed; first: %v", len(e.Failed), e.Total, e.Failed[0])
}

// Unwrap lets errors.Is see the underlying causes.
func (e *ApplyError) Unwrap() []error {
	errs := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		errs[i] = f.Err
	}
	return errs
}
