package ipvs

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// SyncState is the role of a connection sync daemon
// (IPVS_DAEMON_ATTR_STATE). The kernel runs at most one of each per network
// namespace.
type SyncState uint32

// The daemon roles, as the kernel numbers them.
const (
	SyncMaster SyncState = 1 // sends the local connection table
	SyncBackup SyncState = 2 // receives a peer's table into the local one
)

func (s SyncState) String() string {
	switch s {
	case SyncMaster:
		return "master"
	case SyncBackup:
		return "backup"
	}
	return fmt.Sprintf("state%d", uint32(s))
}

// SyncDaemon is one of the kernel's connection sync daemons. Zero optional
// fields leave the kernel's default (group 224.0.0.81, port 8848, TTL 1,
// message size from the interface MTU).
type SyncDaemon struct {
	State     SyncState
	Interface string // multicast interface (required)
	SyncID    uint8  // 0: a backup accepts every id
	MaxLen    uint16 // optional (Linux >= 4.3)
	Group     netip.Addr
	Port      uint16
	TTL       uint8
}

// Timeouts are the IPVS connection timeouts (ipvsadm --set). They decide
// how long a synced entry lives on the backup. A zero field is left as it is.
type Timeouts struct {
	TCP, TCPFin, UDP time.Duration
}

// Sync is the kernel's connection synchronisation: its daemons, the
// timeouts of synced entries and the size of the connection table.
type Sync interface {
	// StartDaemon starts d; ErrDaemonRunning if one of its role runs.
	StartDaemon(ctx context.Context, d SyncDaemon) error
	// StopDaemon stops the daemon of that role; ErrDaemonNotRunning if none.
	StopDaemon(ctx context.Context, state SyncState) error
	// Daemons lists the running daemons.
	Daemons(ctx context.Context) ([]SyncDaemon, error)
	Timeouts(ctx context.Context) (Timeouts, error)
	SetTimeouts(ctx context.Context, t Timeouts) error
	// Connections counts the entries of the connection table (what
	// `ipvsadm -Lnc` lists), synced ones included.
	Connections(ctx context.Context) (int, error)
}

// Errors of Sync, decoded from the kernel's answers.
var (
	ErrDaemonRunning    = errors.New("ipvs sync daemon already running")    // EEXIST
	ErrDaemonNotRunning = errors.New("ipvs sync daemon not running")        // ESRCH
	ErrSyncUnsupported  = errors.New("kernel has no ipvs sync daemon call") // unknown command or attribute
)
