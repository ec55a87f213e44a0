// Command cl_status is heartbeat 3.0.6's cl_status answered by directord;
// installed also as hb_standby and hb_takeover (the same binary: it acts
// by the name it is called by). See failover/clstatus.
//
// The control socket is directord's default; DIRECTORD_SOCKET names
// another (heartbeat's commands have no option for it).
package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/lvsdirector/director/failover/clstatus"
	"github.com/lvsdirector/director/failover/control"
)

func main() {
	sock := os.Getenv("DIRECTORD_SOCKET")
	if sock == "" {
		sock = control.DefaultSocket
	}
	env := clstatus.DefaultEnv()
	send := func(cmd, arg string) error {
		resp, err := control.Call(sock, cmd, arg)
		if err != nil {
			return err
		}
		if !resp.OK {
			return errors.New(resp.Text)
		}
		return nil
	}
	switch filepath.Base(os.Args[0]) {
	case "hb_standby":
		os.Exit(clstatus.HBStandby(self(), os.Args[1:], send, env))
	case "hb_takeover":
		os.Exit(clstatus.HBTakeover(self(), os.Args[1:], send, env))
	}
	os.Exit(clstatus.ClStatus(os.Args[1:], func() (*control.Status, error) {
		resp, err := control.Call(sock, "status", "")
		if err != nil {
			return nil, err
		}
		if !resp.OK || resp.Status == nil || resp.Status.HB == nil {
			return nil, errors.New("directord gave no cluster status: " + resp.Text)
		}
		return resp.Status, nil
	}, env))
}

// self is the program's path as a shell script run the same way sees it
// in $0: found on PATH, the path it was found at.
func self() string {
	a := os.Args[0]
	if !strings.Contains(a, "/") {
		if p, err := exec.LookPath(a); err == nil {
			return p
		}
	}
	return a
}
