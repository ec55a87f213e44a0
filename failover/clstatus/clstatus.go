// Package clstatus answers heartbeat 3.0.6's cl_status, hb_standby and
// hb_takeover from directord's control socket, with heartbeat's output
// text and exit codes, so that the scripts and runbooks written for
// heartbeat keep working. The texts were recorded from Debian's heartbeat
// 3.0.6 in the same states (testdata/heartbeat-3.0.6.txt).
package clstatus

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/lvsdirector/director/failover/control"
)

// cl_status's exit codes (heartbeat's tools/cl_status.c).
const (
	exitOK         = 0
	exitFail       = 1 // a "normal" failure: node or link dead, not signed on
	exitParam      = 11
	exitUnknownErr = 13
)

// Fetcher asks directord for its status: heartbeat's signon and query in
// one. An error is a failed signon (directord not running).
type Fetcher func() (*control.Status, error)

// Env is what a command writes to and how it logs (cl_log's stderr lines
// carry a time, the host name and a pid).
type Env struct {
	Stdout, Stderr io.Writer
	Pid            int
	Host           string
	Now            func() time.Time
}

func (e *Env) now() time.Time {
	if e.Now == nil {
		return time.Now()
	}
	return e.Now()
}

// logErr writes a line as heartbeat's cl_log does when logging to stderr
// ("Dec 03 17:18:20 a cl_status: [1204]: ERROR: ...").
func (e *Env) logErr(format string, args ...any) {
	fmt.Fprintf(e.Stderr, "%s %s cl_status: [%d]: ERROR: %s\n", e.now().Format("Jan 02 15:04:05"), e.Host, e.Pid, fmt.Sprintf(format, args...))
}

type subcommand struct {
	name      string
	letters   string
	needSign  bool
	run       func(c *call) int
	supported bool
}

// call is one cl_status run: its arguments (args[0] is the sub-command),
// the status (nil when directord did not answer) and the error.
type call struct {
	*Env
	args  []string
	st    *control.Status
	err   error
	human bool // -m
}

var subcommands = []subcommand{
	{"hbstatus", "mv", false, hbstatus, true},
	{"listnodes", "mpnv", true, listnodes, true},
	{"nodestatus", "m", true, nodestatus, true},
	{"nodeweight", "m", true, nil, false},
	{"nodesite", "m", true, nil, false},
	{"nodetype", "m", true, nodetype, true},
	{"listhblinks", "mv", true, listhblinks, true},
	{"hblinkstatus", "m", true, hblinkstatus, true},
	{"clientstatus", "m", true, nil, false},
	{"rscstatus", "m", true, rscstatus, true},
	{"hbparameter", "mp:", true, nil, false},
	{"test", "", true, nil, false},
}

// ClStatus runs cl_status with args (without the program name).
func ClStatus(args []string, fetch Fetcher, env *Env) int {
	if len(args) == 0 || (len(args) == 1 && args[0] == "-h") {
		fmt.Fprint(env.Stdout, helpScreen)
		return exitOK
	}
	for _, sc := range subcommands {
		// heartbeat compares the first 16 bytes only.
		if !sameCmd(args[0], sc.name) {
			continue
		}
		c := &call{Env: env, args: args}
		c.st, c.err = fetch()
		if c.err != nil && sc.needSign {
			env.logErr("Cannot signon with heartbeat")
			env.logErr("REASON: %s", signonReason)
			return exitFail
		}
		if !sc.supported {
			fmt.Fprintf(env.Stderr, "cl_status: %s is not answered by directord\n", sc.name)
			return exitUnknownErr
		}
		return sc.run(c)
	}
	env.logErr("%s: invalid sub-command.", args[0])
	return exitParam
}

// signonReason is heartbeat's API error text for a failed signon.
const signonReason = "hb_api_signon: Can't initiate connection to heartbeat"

func sameCmd(arg, name string) bool {
	const max = 16
	if len(arg) > max {
		arg = arg[:max]
	}
	return arg == name
}

// simpleOpts is general_simple_opt_deal: -m only.
func (c *call) simpleOpts() (operands []string, ok bool) {
	opts, operands, bad := getopt(c.args, "m", true, c.Stderr)
	c.human = c.human || opts['m']
	if bad {
		c.logErr("Error: getopt returnedcharacter ?.")
		return nil, false
	}
	return operands, true
}

func (c *call) node(name string) *control.HBNode {
	if c.st == nil || c.st.HB == nil {
		return nil
	}
	for i := range c.st.HB.Nodes {
		if c.st.HB.Nodes[i].Name == name {
			return &c.st.HB.Nodes[i]
		}
	}
	return nil
}

func hbstatus(c *call) int {
	opts, _, _ := getopt(c.args, "mv", false, c.Stderr)
	c.human = opts['m']
	verbose := opts['v']
	if c.err != nil {
		fmt.Fprintln(c.Stdout, "Heartbeat is stopped on this machine.")
		if verbose {
			fmt.Fprintf(c.Stdout, "(%s)\n", signonReason)
		}
		return exitFail
	}
	if !verbose {
		fmt.Fprintln(c.Stdout, "Heartbeat is running on this machine.")
		return exitOK
	}
	if c.human {
		fmt.Fprintf(c.Stdout, "Heartbeat version %s\n", Version)
		fmt.Fprintln(c.Stdout, `Resources controlled by "haresources"`)
	} else {
		fmt.Fprintf(c.Stdout, "version:\t%s\n", Version)
		fmt.Fprintln(c.Stdout, "managed by:\t\"haresources\"")
	}
	c.listNodes(false, false, true)
	return exitOK
}

// Version is the heartbeat version hbstatus -v reports: Debian's 3.0.6,
// whose protocol and behaviour directord follows, as it prints itself.
const Version = "3.0.6 (node: 958e11be8686759f1b99204c17812f2c2633b169)"

func listnodes(c *call) int {
	opts, _, bad := getopt(c.args, "mpnv", true, c.Stderr)
	c.human = c.human || opts['m']
	if bad {
		c.logErr("Error: getopt returnedcharacter code ?.")
		return exitParam
	}
	return c.listNodes(opts['n'], opts['p'], opts['v'])
}

func (c *call) listNodes(normalOnly, pingOnly, verbose bool) int {
	if normalOnly && pingOnly {
		normalOnly, pingOnly = false, false
	}
	if c.human {
		fmt.Fprintln(c.Stdout, "The nodes are as follow:")
	}
	for _, n := range walk(c.st.HB.Nodes) {
		if normalOnly && n.Type != "normal" || pingOnly && n.Type != "ping" {
			continue
		}
		if verbose {
			fmt.Fprintf(c.Stdout, "\n%s\t%s\t(nodetype: %s)\n", n.Name, n.Status, n.Type)
			c.listLinks(&n, true)
		} else {
			fmt.Fprintln(c.Stdout, n.Name)
		}
	}
	return exitOK
}

// walk is the order heartbeat's API walks nodes and links in: the last
// configured first (its lists are built by prepending).
func walk[T any](s []T) []T {
	out := make([]T, len(s))
	for i, x := range s {
		out[len(s)-1-i] = x
	}
	return out
}

// nodeArg reads the NODE operand of nodestatus and nodetype, with
// cl_status's own messages (each subcommand words "not enough" its way).
func (c *call) nodeArg(notEnough string) (name string, n *control.HBNode, ok bool) {
	ops, ok := c.simpleOpts()
	if !ok {
		return "", nil, false
	}
	if len(ops) < 1 {
		fmt.Fprintln(c.Stderr, notEnough)
		return "", nil, false
	}
	if n = c.node(ops[0]); n == nil {
		fmt.Fprintln(c.Stderr, "Error. May be due to incorrect node name")
		return "", nil, false
	}
	return ops[0], n, true
}

func nodestatus(c *call) int {
	name, n, ok := c.nodeArg("Not enough parameters.")
	if !ok {
		return exitParam
	}
	if c.human {
		fmt.Fprintf(c.Stdout, "The cluster node %s is %s\n", name, n.Status)
	} else {
		fmt.Fprintln(c.Stdout, n.Status)
	}
	switch n.Status {
	case "active", "up", "ping":
		return exitOK
	}
	return exitFail
}

func nodetype(c *call) int {
	name, n, ok := c.nodeArg("No enough parameter.")
	if !ok {
		return exitParam
	}
	if c.human {
		fmt.Fprintf(c.Stdout, "The node %s's type: %s\n", name, n.Type)
	} else {
		fmt.Fprintln(c.Stdout, n.Type)
	}
	return exitOK
}

func listhblinks(c *call) int {
	opts, ops, bad := getopt(c.args, "mv", true, c.Stderr)
	c.human = c.human || opts['m']
	if bad {
		c.logErr("Error: getopt returnedcharacter code ?.")
		return exitParam
	}
	if len(ops) < 1 {
		fmt.Fprintln(c.Stderr, "No enough parameter.")
		return exitParam
	}
	n := c.node(ops[0])
	if n == nil {
		c.logErr("Cannot start heartbeat link interface walk.")
		c.logErr("REASON: EINVAL")
		return exitUnknownErr
	}
	return c.listLinks(n, opts['v'])
}

func (c *call) listLinks(n *control.HBNode, verbose bool) int {
	if c.human {
		fmt.Fprintln(c.Stdout, "\tthis node has the following heartbeat links:")
	}
	for _, l := range walk(n.Links) {
		if verbose {
			fmt.Fprintf(c.Stdout, "\t%s\t%s\n", l.Name, l.Status)
		} else {
			fmt.Fprintf(c.Stdout, "\t%s\n", l.Name)
		}
	}
	return exitOK
}

func hblinkstatus(c *call) int {
	ops, ok := c.simpleOpts()
	if !ok {
		return exitParam
	}
	if len(ops) < 2 {
		fmt.Fprintln(c.Stderr, "No enough parameter.")
		return exitParam
	}
	var link *control.HBLink
	if n := c.node(ops[0]); n != nil {
		for i := range n.Links {
			if n.Links[i].Name == ops[1] {
				link = &n.Links[i]
			}
		}
	}
	if link == nil {
		c.logErr("Cannot get heartbeat link status")
		c.logErr("REASON: ")
		return exitUnknownErr
	}
	if c.human {
		fmt.Fprintf(c.Stdout, "The node %s's heartbeat link %s is %s\n", ops[0], ops[1], link.Status)
	} else {
		fmt.Fprintln(c.Stdout, link.Status)
	}
	if link.Status == "up" {
		return exitOK
	}
	return exitFail
}

func rscstatus(c *call) int {
	if _, ok := c.simpleOpts(); !ok {
		return exitParam
	}
	if c.human {
		fmt.Fprintf(c.Stdout, "This node is holding %s resources.\n", c.st.Resources)
	} else {
		fmt.Fprintln(c.Stdout, c.st.Resources)
	}
	return exitOK
}

// DefaultEnv writes to the process's stdout and stderr.
func DefaultEnv() *Env {
	host, _ := os.Hostname()
	return &Env{Stdout: os.Stdout, Stderr: os.Stderr, Pid: os.Getpid(), Host: host}
}

const helpScreen = `Usage: cl_status <sub-command> [<options>] [<parameters>]

Sub-commands:
clientstatus <node-name> <client-id> [<timeout>]
	Show the status of heartbeat clients.
hblinkstatus <node-name> <link-name>
	Show the status of a heartbeat link
hbstatus
	Indicate if heartbeat is running on the local system.
	Options:
		-v	verbose: also add "listnodes -v" output
listnodes [<option>]
	List the nodes in the cluster.
	Options:
		-p	list only 'ping' type nodes
		-n	list only 'normal' type nodes
		-v	verbose: also list type and status,
			then add "listhblinks -v" output
listhblinks <node-name>
	List the network interfaces used as hearbeat links.
	Options:
		-v	verbose: list link status as well
nodestatus <node-name>
	List the node status.
nodeweight <node-name>
	List the node weight.
nodesite <node-name>
	List the node site.
nodetype <node-name>
	List the nodes of a given type.
rscstatus
	Show the status of cluster resources.
hbparameter -p <parameter-name>
	Retrieve the value of a cluster parameter.
	As for the valid parameter names, please refer to the man page.
`
