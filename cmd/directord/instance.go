package main

import (
	"fmt"
	"net"
	"time"

	"github.com/lvsdirector/director/internal/lockfile"
)

// claimInstance makes this directord the node's only one before anything
// is bound or written: it takes the lock at lockPath (default: the control
// socket's path + ".lock") and refuses a control socket that a live daemon
// still answers on, which control.Serve would otherwise remove and
// replace (a lock path given differently must not let that happen). A
// socket file left by a dead daemon is fine.
func claimInstance(lockPath, sock string) (release func(), err error) {
	if lockPath == "" {
		lockPath = sock + ".lock"
	}
	lk, err := lockfile.Acquire(lockPath)
	if err != nil {
		return nil, err
	}
	if c, err := net.DialTimeout("unix", sock, time.Second); err == nil {
		c.Close()
		lk.Release()
		return nil, fmt.Errorf("control socket %s is in use: another directord is running", sock)
	}
	return func() { lk.Release() }, nil
}
