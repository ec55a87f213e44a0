package clstatus

import (
	"bufio"
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lvsdirector/director/failover/control"
)

// record is one command run against Debian's heartbeat 3.0.6, as
// test/e2e/t_72_hb_commands.sh prints it (E2E_HB_RECORD=1).
type record struct {
	line           int
	state, node    string
	args           []string // the command's name, then its arguments
	stdout, stderr string
	rc             int
}

func readRecords(t *testing.T, path string) []record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []record
	var state string
	var cur *record
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "### "):
			state = l[4:]
		case strings.HasPrefix(l, "$ "):
			f := strings.Fields(l[2:])
			recs = append(recs, record{line: n, state: state, node: f[0], args: f[1:]})
			cur = &recs[len(recs)-1]
		case cur == nil:
			t.Fatalf("%s:%d: outside a record: %q", path, n, l)
		case strings.HasPrefix(l, ">"):
			cur.stdout += strings.TrimPrefix(strings.TrimPrefix(l, ">"), " ") + "\n"
		case strings.HasPrefix(l, "!"):
			cur.stderr += strings.TrimPrefix(strings.TrimPrefix(l, "!"), " ") + "\n"
		case strings.HasPrefix(l, "= "):
			if cur.rc, err = strconv.Atoi(l[2:]); err != nil {
				t.Fatalf("%s:%d: %v", path, n, err)
			}
		default:
			t.Fatalf("%s:%d: not a record line: %q", path, n, l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return recs
}

const ping = "10.0.0.50"

// view is the cluster seen from node, with peer's status and links and
// the ping node's status, as directord reports it.
func view(node, peer, peerStatus string, peerLinks map[string]string, pingStatus string) *control.HBView {
	n := func(name, status string, links map[string]string) control.HBNode {
		hn := control.HBNode{Name: name, Type: "normal", Status: status}
		for _, l := range []string{"eth0", "eth1"} {
			hn.Links = append(hn.Links, control.HBLink{Name: l, Status: links[l]})
		}
		return hn
	}
	// heartbeat never hears itself over ucast: its own links are dead.
	own := map[string]string{"eth0": "dead", "eth1": "dead"}
	nodes := map[string]control.HBNode{node: n(node, "active", own), peer: n(peer, peerStatus, peerLinks)}
	pl := "up"
	if pingStatus != "ping" {
		pl = "dead"
	}
	return &control.HBView{Nodes: []control.HBNode{nodes["a"], nodes["b"],
		{Name: ping, Type: "ping", Status: pingStatus, Links: []control.HBLink{{Name: ping, Status: pl}}}}}
}

// states are the recorded states as directord's status describes them:
// per state and node, the status (nil: directord not running).
func stateStatus(state, node string) *control.Status {
	peer := map[string]string{"a": "b", "b": "a"}[node]
	up := map[string]string{"eth0": "up", "eth1": "up"}
	rsc := map[string]map[string]string{
		"both_up":             {"a": "local", "b": "local"},
		"link_down":           {"a": "local", "b": "local"},
		"standby_b_all":       {"a": "all", "b": "none"},
		"transition":          {"a": "transition", "b": "transition"},
		"after_standby_b_all": {"a": "all", "b": "none"},
		"standby_a_local":     {"a": "foreign", "b": "foreign"},
		"takeover_a_all":      {"a": "all", "b": "none"},
		"standby_a_failback":  {"a": "local", "b": "local"},
		"takeover_b_foreign":  {"a": "none", "b": "all"},
		"takeover_a_failback": {"a": "all", "b": "none"}, // heartbeat gave all (see t_72)
		"peer_dead":           {"a": "all"},
		"ping_dead":           {"a": "all"},
	}
	st := &control.Status{Node: node, CommUp: true, Resources: rsc[state][node]}
	switch state {
	case "not_running":
		return nil
	case "link_down":
		st.HB = view(node, peer, "active", map[string]string{"eth0": "up", "eth1": "dead"}, "ping")
	case "peer_dead":
		st.HB = view(node, peer, "dead", map[string]string{"eth0": "dead", "eth1": "dead"}, "ping")
	case "ping_dead":
		st.HB = view(node, peer, "dead", map[string]string{"eth0": "dead", "eth1": "dead"}, "dead")
	default:
		st.HB = view(node, peer, "active", up, "ping")
	}
	return st
}

// Log lines on stderr carry a time (and cl_log's the host and a pid):
// made fixed here.
var (
	logPrefix  = regexp.MustCompile(`^[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \S+ cl_status: \[\d+\]: `)
	timePrefix = regexp.MustCompile(`^[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d `)
)

func normLog(s string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		l = logPrefix.ReplaceAllString(l, "TIME HOST cl_status: [PID]: ")
		lines[i] = timePrefix.ReplaceAllString(l, "TIME ")
	}
	return strings.Join(lines, "")
}

// Every command recorded from heartbeat 3.0.6 gives heartbeat's stdout,
// stderr and exit code here, from the status directord reports in that
// state. Some states' rscstatus was taken twice (before and after a
// request): the record's own rscstatus word is the state's then.
func TestAsHeartbeat306(t *testing.T) {
	recs := readRecords(t, "testdata/heartbeat-3.0.6.txt")
	if len(recs) < 100 {
		t.Fatalf("only %d records", len(recs))
	}
	for _, r := range recs {
		st := stateStatus(r.state, r.node)
		var sent []string
		send := func(cmd, arg string) error {
			if st == nil {
				return errors.New("dial unix /run/directord.sock: connect: no such file or directory")
			}
			sent = append(sent, cmd+" "+arg)
			return nil
		}
		var so, se strings.Builder
		env := &Env{Stdout: &so, Stderr: &se, Pid: 4242, Host: "x", Now: func() time.Time { return time.Unix(0, 0) }}
		var rc int
		switch r.args[0] {
		case "cl_status":
			rc = ClStatus(r.args[1:], func() (*control.Status, error) {
				if st == nil {
					return nil, errors.New("no directord")
				}
				return st, nil
			}, env)
		case "hb_standby":
			rc = HBStandby("/usr/share/heartbeat/hb_standby", r.args[1:], send, env)
		case "hb_takeover":
			rc = HBTakeover("/usr/share/heartbeat/hb_takeover", r.args[1:], send, env)
		default:
			t.Fatalf("line %d: unknown command %s", r.line, r.args[0])
		}
		if knownDifference(r) {
			continue
		}
		if so.String() != r.stdout || normLog(se.String()) != normLog(r.stderr) || rc != r.rc {
			t.Errorf("line %d (%s, on %s): %s\n got stdout %q stderr %q exit %d\nwant stdout %q stderr %q exit %d",
				r.line, r.state, r.node, strings.Join(r.args, " "), so.String(), se.String(), rc, r.stdout, r.stderr, r.rc)
		}
	}
}

// knownDifference: heartbeat's scripts write to heartbeat's FIFO when it
// is not running, and hang there (nobody reads it): ours say so and fail.
// With the peer dead, heartbeat's hb_standby left its groups in
// transition; directord refuses a standby nobody can take (its groups stay
// held), so that record's state is not the one modelled here.
func knownDifference(r record) bool {
	return r.state == "not_running" && r.args[0] != "cl_status" ||
		r.state == "peer_dead" && strings.Join(r.args, " ") == "cl_status rscstatus" && r.stdout == "transition\n"
}
