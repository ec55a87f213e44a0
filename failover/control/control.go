// Package control is the local command socket between directord and
// directorctl: one JSON request per connection, one JSON answer.
package control

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lvsdirector/director/director"
)

// DefaultSocket is where directord listens.
const DefaultSocket = "/run/directord.sock"

// Request is a command: status, stats, standby [all|local|foreign|failback],
// takeover [...]. Reply is set by the server side.
type Request struct {
	Cmd   string        `json:"cmd"`
	Arg   string        `json:"arg,omitempty"`
	Reply chan Response `json:"-"`
}

// Response answers a Request.
type Response struct {
	OK     bool    `json:"ok"`
	Text   string  `json:"text,omitempty"`
	Status *Status `json:"status,omitempty"`
	// Counters answers "stats": the kernel's counters of the virtuals this
	// node's directors hold, read at call time.
	Counters []director.VirtualCounters `json:"counters,omitempty"`
}

// Status is what directorctl status shows.
type Status struct {
	Node      string                   `json:"node"`
	CommUp    bool                     `json:"comm_up"`
	Resources string                   `json:"resources"` // none, local, foreign, all, transition
	Nodes     []Node                   `json:"nodes"`
	Groups    []Group                  `json:"groups"`
	Virtuals  []director.VirtualStatus `json:"virtuals,omitempty"`
	Sync      *SyncStatus              `json:"sync,omitempty"` // nil: connection sync off

	// HB is the cluster as heartbeat's API shows it to cl_status.
	HB *HBView `json:"hb,omitempty"`
}

// HBView is what heartbeat's cl_status reads from heartbeat's API, in
// heartbeat's words: the nodes in ha.cf order (cluster nodes and ping
// nodes), each with its type, status and heartbeat links.
type HBView struct {
	Nodes []HBNode `json:"nodes"`
}

// HBNode is one node: Type "normal" or "ping"; Status "active", "up",
// "init", "dead" or, for a reachable ping node, "ping".
type HBNode struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	Status string   `json:"status"`
	Links  []HBLink `json:"links"`
}

// HBLink is a heartbeat link to a node, named as heartbeat names it (the
// interface, or a ping node's address): Status "up" or "dead".
type HBLink struct {
	Name   string `json:"name"`
	Status string `json:"status"`
}

// SyncStatus is the IPVS connection sync: the daemons running in the
// kernel, the size of the connection table and the failback settle wait.
type SyncStatus struct {
	Interface   string       `json:"interface"` // configured
	SyncID      int          `json:"sync_id"`   // configured
	Daemons     []SyncDaemon `json:"daemons"`   // running, as the kernel reports them
	Connections int          `json:"connections"`
	Settled     bool         `json:"settled"`
	Error       string       `json:"error,omitempty"` // last failed kernel read
}

// SyncDaemon is one running sync daemon (ipvsadm -L --daemon).
type SyncDaemon struct {
	State     string `json:"state"` // master, backup
	Interface string `json:"interface"`
	SyncID    int    `json:"sync_id"`
	Group     string `json:"group,omitempty"` // multicast group:port, when the kernel reports it
}

// Node is a cluster or ping node with its links.
type Node struct {
	Name  string            `json:"name"`
	State string            `json:"state"`
	Links map[string]string `json:"links,omitempty"`
	// LastHeard is when its last packet arrived (zero: never; ping nodes
	// have none).
	LastHeard time.Time `json:"last_heard,omitzero"`
}

// Group is a haresources group and whether this node holds it.
type Group struct {
	Key       string   `json:"key"`
	Held      bool     `json:"held"`
	Resources []string `json:"resources"`
	// A stop that failed: the group stays held and is retried. Zero once
	// a stop or start of the group succeeds.
	StopFailures int       `json:"stop_failures,omitempty"`
	StopError    string    `json:"stop_error,omitempty"`
	StopSince    time.Time `json:"stop_since,omitzero"`
}

// connTimeout bounds a connection, the owner's answer included.
const connTimeout = 10 * time.Second

// maxRequest bounds one request: a command and its argument are a few
// bytes.
const maxRequest = 64 << 10

// Accept failures (out of file descriptors, ...) are retried after a
// pause that doubles from acceptMinDelay up to acceptMaxDelay.
const (
	acceptMinDelay = 5 * time.Millisecond
	acceptMaxDelay = time.Second
)

// Serve accepts requests on a unix socket and hands them to the owner
// through requests. It returns when ctx is done, once the socket file is
// removed and every connection is closed: a caller that waits for it
// leaves nothing behind.
func Serve(ctx context.Context, path string, requests chan<- Request) error {
	ln, err := listen(path)
	if err != nil {
		return err
	}
	return serve(ctx, ln, requests, slog.Default())
}

// umaskMu serialises the umask changes of listen (the umask is the
// process's, not the goroutine's).
var umaskMu sync.Mutex

// listen creates the socket at path with mode 0600 from the start: it is
// bound under umask 0177, so there is no moment where another user could
// connect before a chmod. A socket left by an earlier run is replaced.
func listen(path string) (net.Listener, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	umaskMu.Lock()
	old := unix.Umask(0o177)
	ln, err := net.Listen("unix", path)
	unix.Umask(old)
	umaskMu.Unlock()
	return ln, err
}

func serve(ctx context.Context, ln net.Listener, requests chan<- Request, log *slog.Logger) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer ln.Close() // a listener made by net.Listen removes its socket file
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			delay = min(max(2*delay, acceptMinDelay), acceptMaxDelay)
			log.Warn("control socket: accept failed", "err", err, "retry_in", delay)
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			continue
		}
		delay = 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			handle(ctx, c, requests)
		}()
	}
}

// handle answers one connection; it is closed when ctx is done.
func handle(ctx context.Context, c net.Conn, requests chan<- Request) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	deadline := time.Now().Add(connTimeout)
	c.SetDeadline(deadline)
	var req Request
	if err := json.NewDecoder(io.LimitReader(c, maxRequest)).Decode(&req); err != nil {
		return
	}
	req.Reply = make(chan Response, 1)
	select {
	case requests <- req:
	case <-ctx.Done():
		return
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case resp := <-req.Reply:
		json.NewEncoder(c).Encode(resp)
	case <-t.C: // the owner did not answer in time
	case <-ctx.Done():
	}
}

// Call sends one request and returns the answer.
func Call(path, cmd, arg string) (*Response, error) {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := json.NewEncoder(c).Encode(Request{Cmd: cmd, Arg: arg}); err != nil {
		return nil, err
	}
	var resp Response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return nil, err
	}
	return &resp, nil
}
