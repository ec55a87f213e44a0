// Command directorctl talks to a running directord: status (nodes, links,
// who holds which group, the IPVS table with each real's health), standby
// and takeover (heartbeat's hb_standby and hb_takeover).
//
//	directorctl [--socket PATH] status [--json | --stats | --rate]
//	directorctl [--socket PATH] drain [--wait [--timeout D]] ADDR:PORT
//	directorctl [--socket PATH] undrain ADDR:PORT
//	directorctl [--socket PATH] standby [all|local|foreign|failback]
//	directorctl [--socket PATH] takeover [all|local|foreign|failback]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"time"

	"github.com/lvsdirector/director/failover/control"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("directorctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sock := fs.String("socket", control.DefaultSocket, "directord's control socket")
	asJSON := fs.Bool("json", false, "status as JSON")
	stats := fs.Bool("stats", false, "status: the kernel's counters of the held virtuals and their reals, as ipvsadm -Ln --stats --exact")
	rate := fs.Bool("rate", false, "status: the kernel's rates of the held virtuals and their reals, as ipvsadm -Ln --rate --exact")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	wait := fs.Bool("wait", false, "drain: wait until the real has no active connection left")
	timeout := fs.Duration("timeout", 5*time.Minute, "drain --wait: give up after this long (exit 1)")
	rest := fs.Args()
	if len(rest) > 0 && (rest[0] == "status" || rest[0] == "drain") {
		// allow "status --json", "drain --wait REAL"
		if err := fs.Parse(rest[1:]); err != nil {
			return 2
		}
		rest = append([]string{rest[0]}, fs.Args()...)
		if len(rest) > 2 && rest[0] == "drain" { // "drain REAL --wait"
			fs.Parse(rest[2:])
			rest = rest[:2]
		}
	}
	if len(rest) == 0 {
		fmt.Fprintln(stderr, "usage: directorctl [--socket PATH] status [--json | --stats | --rate] | drain [--wait [--timeout D]] ADDR:PORT | undrain ADDR:PORT | standby [all|local|foreign|failback] | takeover [...]")
		return 2
	}
	cmd, arg := rest[0], ""
	if len(rest) > 1 {
		arg = rest[1]
	}
	switch cmd {
	case "status", "standby", "takeover":
		switch arg {
		case "", "all", "local", "foreign", "failback":
		default:
			fmt.Fprintf(stderr, "directorctl: %s takes all, local, foreign or failback, not %s\n", cmd, arg)
			return 2
		}
	case "drain", "undrain":
		if _, err := netip.ParseAddrPort(arg); err != nil {
			fmt.Fprintf(stderr, "directorctl: %s takes a real server as ADDR:PORT (10.0.1.11:80), not %q\n", cmd, arg)
			return 2
		}
	default:
		fmt.Fprintf(stderr, "directorctl: unknown command %s\n", cmd)
		return 2
	}
	if cmd == "status" && (*stats || *rate) {
		if *stats && *rate || *asJSON {
			fmt.Fprintln(stderr, "directorctl: status takes one of --json, --stats and --rate")
			return 2
		}
		cmd = "stats"
	}
	resp, rc := ask(*sock, cmd, arg, stderr)
	if resp == nil {
		return rc
	}
	if cmd == "stats" {
		printCounters(stdout, resp.Counters, *rate)
		return 0
	}
	if cmd == "drain" && *wait {
		fmt.Fprintln(stdout, resp.Text)
		return waitDrained(*sock, arg, *timeout, time.Second, stdout, stderr)
	}
	if cmd != "status" {
		fmt.Fprintln(stdout, resp.Text)
		return 0
	}
	if *asJSON {
		e := json.NewEncoder(stdout)
		e.SetIndent("", "  ")
		e.Encode(resp.Status)
		return 0
	}
	printStatus(stdout, resp.Status)
	return 0
}

func printStatus(w io.Writer, s *control.Status) {
	comm := "up"
	if !s.CommUp {
		comm = "starting"
	}
	fmt.Fprintf(w, "node %s: communication %s, holding %s\n", s.Node, comm, s.Resources)
	fmt.Fprintln(w, "nodes:")
	for _, n := range s.Nodes {
		fmt.Fprintf(w, "  %-20s %s", n.Name, n.State)
		links := make([]string, 0, len(n.Links))
		for l := range n.Links {
			links = append(links, l)
		}
		sort.Strings(links)
		for _, l := range links {
			fmt.Fprintf(w, "  link %s %s", l, n.Links[l])
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "resource groups:")
	for _, g := range s.Groups {
		holder := "released"
		if g.Held {
			holder = "held here"
		}
		fmt.Fprintf(w, "  %-20s %-10s %v\n", g.Key, holder, g.Resources)
		if g.StopFailures > 0 {
			fmt.Fprintf(w, "    STOP FAILED %d times in a row since %s, still held, retrying: %s\n",
				g.StopFailures, g.StopSince.Format("15:04:05"), g.StopError)
		}
	}
	if y := s.Sync; y != nil {
		settle := "settled"
		if !y.Settled {
			settle = "settling (no failback yet)"
		}
		fmt.Fprintf(w, "connection sync: %s syncid %d, %d connections, %s\n", y.Interface, y.SyncID, y.Connections, settle)
		if len(y.Daemons) == 0 {
			fmt.Fprintln(w, "  no sync daemon running")
		}
		for _, d := range y.Daemons {
			fmt.Fprintf(w, "  %-7s running  interface %s syncid %d", d.State, d.Interface, d.SyncID)
			if d.Group != "" {
				fmt.Fprintf(w, " group %s", d.Group)
			}
			fmt.Fprintln(w)
		}
		if y.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", y.Error)
		}
	}
	if len(s.Virtuals) > 0 {
		fmt.Fprintln(w, "IPVS:")
		for _, v := range s.Virtuals {
			fmt.Fprintf(w, "  %s %s\n", v.ID, v.Scheduler)
			for _, r := range v.Reals {
				health := "up"
				if !r.Up {
					health = "down"
				}
				if r.Fallback {
					health = "fallback"
				}
				weight := fmt.Sprint(r.Weight)
				if r.Weight < 0 {
					weight = "absent"
				}
				if r.Drained {
					health += ", drained"
				}
				fmt.Fprintf(w, "    -> %-24s weight %-6s %s", r.Addr, weight, health)
				if r.LastErr != "" && !r.Up {
					fmt.Fprintf(w, "  (%s)", r.LastErr)
				}
				fmt.Fprintln(w)
			}
		}
	}
}

// ask sends one command to directord; a nil answer comes with the exit
// code: 3 when directord cannot be asked, 1 when it refused.
func ask(sock, cmd, arg string, stderr io.Writer) (*control.Response, int) {
	resp, err := control.Call(sock, cmd, arg)
	if err != nil {
		fmt.Fprintf(stderr, "directorctl: is directord running? %v\n", err)
		return nil, 3
	}
	if !resp.OK {
		fmt.Fprintln(stderr, "directorctl:", resp.Text)
		return nil, 1
	}
	return resp, 0
}
