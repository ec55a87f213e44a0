package clstatus

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lvsdirector/director/failover/control"
)

// The texts and exit codes of heartbeat 3.0.6's tools/cl_status.c (read
// from its source; order and log format as it ran in the VM: the API walks
// the last configured node and link first), on a pair where b is dead
// and the ping node answers.
func TestFromHeartbeatsSource(t *testing.T) {
	st := &control.Status{Node: "a", Resources: "all", HB: &control.HBView{Nodes: []control.HBNode{
		{Name: "a", Type: "normal", Status: "active", Links: []control.HBLink{{Name: "eth0", Status: "up"}, {Name: "eth1", Status: "up"}}},
		{Name: "b", Type: "normal", Status: "dead", Links: []control.HBLink{{Name: "eth0", Status: "dead"}, {Name: "eth1", Status: "dead"}}},
		{Name: "10.0.0.50", Type: "ping", Status: "ping", Links: []control.HBLink{{Name: "10.0.0.50", Status: "up"}}},
	}}}
	const logp = "Jan 01 00:00:00 a cl_status: [7]: ERROR: "
	for _, tc := range []struct {
		args           string
		down           bool
		stdout, stderr string
		rc             int
	}{
		{args: "hbstatus", stdout: "Heartbeat is running on this machine.\n"},
		{args: "hbstatus", down: true, stdout: "Heartbeat is stopped on this machine.\n", rc: 1},
		{args: "listnodes", stdout: "10.0.0.50\nb\na\n"},
		{args: "listnodes -p", stdout: "10.0.0.50\n"},
		{args: "listnodes -n -m", stdout: "The nodes are as follow:\nb\na\n"},
		{args: "listnodes -p -n", stdout: "10.0.0.50\nb\na\n"},
		{args: "nodestatus b", stdout: "dead\n", rc: 1},
		{args: "nodestatus 10.0.0.50", stdout: "ping\n"},
		{args: "nodestatus -m a", stdout: "The cluster node a is active\n"},
		{args: "nodestatus nosuch", stderr: "Error. May be due to incorrect node name\n", rc: 11},
		{args: "nodestatus", stderr: "Not enough parameters.\n", rc: 11},
		{args: "nodestatus", down: true, stderr: logp + "Cannot signon with heartbeat\n" + logp + "REASON: " + signonReason + "\n", rc: 1},
		{args: "nodetype 10.0.0.50", stdout: "ping\n"},
		{args: "nodetype -m b", stdout: "The node b's type: normal\n"},
		{args: "listhblinks -v b", stdout: "\teth1\tdead\n\teth0\tdead\n"},
		{args: "listhblinks -m a", stdout: "\tthis node has the following heartbeat links:\n\teth1\n\teth0\n"},
		{args: "hblinkstatus a eth1", stdout: "up\n"},
		{args: "hblinkstatus b eth0", stdout: "dead\n", rc: 1},
		{args: "hblinkstatus -m b eth0", stdout: "The node b's heartbeat link eth0 is dead\n", rc: 1},
		{args: "hblinkstatus b", stderr: "No enough parameter.\n", rc: 11},
		{args: "rscstatus", stdout: "all\n"},
		{args: "rscstatus -m", stdout: "This node is holding all resources.\n"},
		{args: "nodestatus -x b", stderr: "nodestatus: invalid option -- 'x'\n" + logp + "Error: getopt returnedcharacter ?.\n", rc: 11},
		{args: "bogus", stderr: logp + "bogus: invalid sub-command.\n", rc: 11},
	} {
		var so, se strings.Builder
		env := &Env{Stdout: &so, Stderr: &se, Pid: 7, Host: "a", Now: func() time.Time { return time.Unix(0, 0).UTC() }}
		rc := ClStatus(strings.Fields(tc.args), func() (*control.Status, error) {
			if tc.down {
				return nil, errors.New("connect: no such file or directory")
			}
			return st, nil
		}, env)
		if rc != tc.rc || so.String() != tc.stdout || se.String() != tc.stderr {
			t.Errorf("cl_status %s (down %v): exit %d stdout %q stderr %q\n  want exit %d stdout %q stderr %q", tc.args, tc.down, rc, so.String(), se.String(), tc.rc, tc.stdout, tc.stderr)
		}
	}
}
