// Package statuspage serves the read-only status page on the metrics
// listener ("/"): the pair (who holds what, links, last heartbeat, sync),
// every virtual with its reals (health, weight, last check and why it
// failed, connections) and the fallback. Server-rendered with
// html/template, refreshing itself, no script, readable on a phone.
package statuspage

import (
	"bytes"
	"context"
	_ "embed"
	"html/template"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/lvsdirector/director/director"
	"github.com/lvsdirector/director/failover/control"
	"github.com/lvsdirector/director/internal/metrics"
)

// Refresh is how often the page reloads itself, in seconds.
const Refresh = 5

// Sources are what the page shows; the same a daemon gives its metrics.
type Sources struct {
	Daemon    string                    // "directord" or "ldirectord", in the title
	Directors func() []metrics.Director // nil: none
	Failover  metrics.Failover          // nil: no pair (ldirectord)
	Timeout   time.Duration             // bounds each source call (default 3 s)
	Log       *slog.Logger
	Now       func() time.Time // for tests (default time.Now)
}

//go:embed page.html
var pageHTML string

var tmpl = template.Must(template.New("page").Parse(pageHTML))

// Handler serves the page at "/" (GET and HEAD only; other paths 404).
func Handler(src Sources) http.Handler {
	if src.Timeout <= 0 {
		src.Timeout = 3 * time.Second
	}
	if src.Log == nil {
		src.Log = slog.Default()
	}
	if src.Now == nil {
		src.Now = time.Now
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "read-only page", http.StatusMethodNotAllowed)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), src.Timeout)
		defer cancel()
		var b bytes.Buffer
		if err := tmpl.Execute(&b, build(ctx, src)); err != nil {
			src.Log.Error("status page", "err", err)
			http.Error(w, "status page: "+err.Error(), http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		h.Set("Referrer-Policy", "no-referrer")
		w.Write(b.Bytes())
	})
}

type page struct {
	Title, Host, Now string
	Refresh          int
	Pair             *pair
	PairErr          string
	Virtuals         []virtual
	CountersErr      string
	NoDirector       bool
}

type pair struct {
	Node, Comm, Holding string
	Nodes               []node
	Groups              []group
	Sync                *control.SyncStatus
}

type node struct {
	Name, State, Class, LastHeard string
	Links                         []link
}

type link struct{ Name, State, Class string }

type group struct {
	Key, Resources, StopError, StopSince string
	Held                                 bool
	StopFailures                         int
}

type virtual struct {
	ID, Scheduler string
	Up, Total     int
	Fallback      bool
	Reals         []realRow
}

type realRow struct {
	Addr, Health, Class, Weight, LastCheck, LastErr string
	Drained                                         bool
	Active, Inactive                                string
}

func build(ctx context.Context, src Sources) page {
	now := src.Now()
	host, _ := os.Hostname()
	p := page{Title: src.Daemon + " on " + host, Host: host, Now: now.Format("2006-01-02 15:04:05 MST"), Refresh: Refresh}
	if src.Failover != nil {
		st, err := src.Failover.FailoverStatus(ctx)
		if err != nil {
			p.PairErr = err.Error()
		} else {
			p.Pair = pairOf(st, now)
		}
	}
	var ds []metrics.Director
	if src.Directors != nil {
		ds = src.Directors()
	}
	p.NoDirector = len(ds) == 0
	conns := map[string][2]uint32{} // "virtual id|real" → active, inactive
	seen := map[string]bool{}
	for _, d := range ds {
		vcs, err := d.Counters(ctx)
		if err != nil {
			p.CountersErr = err.Error()
		}
		for _, vc := range vcs {
			for _, dst := range vc.Dests {
				conns[vc.Service.ServiceKey.String()+"|"+dst.DestKey.String()] = [2]uint32{dst.ActiveConns, dst.InactiveConns}
			}
		}
		for _, v := range d.Snapshot() {
			if seen[v.ID] {
				continue
			}
			seen[v.ID] = true
			p.Virtuals = append(p.Virtuals, virtualOf(v, conns, now, p.CountersErr == ""))
		}
	}
	return p
}

func pairOf(st *control.Status, now time.Time) *pair {
	comm := "up"
	if !st.CommUp {
		comm = "starting"
	}
	pr := &pair{Node: st.Node, Comm: comm, Holding: st.Resources, Sync: st.Sync}
	for _, n := range st.Nodes {
		nv := node{Name: n.Name, State: n.State, Class: stateClass(n.State), LastHeard: ago(n.LastHeard, now)}
		names := make([]string, 0, len(n.Links))
		for l := range n.Links {
			names = append(names, l)
		}
		sort.Strings(names)
		for _, l := range names {
			cls := "bad"
			if n.Links[l] == "up" {
				cls = "ok"
			}
			nv.Links = append(nv.Links, link{Name: l, State: n.Links[l], Class: cls})
		}
		pr.Nodes = append(pr.Nodes, nv)
	}
	for _, g := range st.Groups {
		gv := group{Key: g.Key, Held: g.Held, StopFailures: g.StopFailures, StopError: g.StopError}
		for i, r := range g.Resources {
			if i > 0 {
				gv.Resources += " "
			}
			gv.Resources += r
		}
		if !g.StopSince.IsZero() {
			gv.StopSince = g.StopSince.Format("15:04:05")
		}
		pr.Groups = append(pr.Groups, gv)
	}
	return pr
}

func virtualOf(v director.VirtualStatus, conns map[string][2]uint32, now time.Time, haveConns bool) virtual {
	vv := virtual{ID: v.ID, Scheduler: v.Scheduler}
	for _, r := range v.Reals {
		rv := realRow{Addr: r.Addr, Weight: strconv.Itoa(int(r.Weight)), Drained: r.Drained, LastErr: r.LastErr, LastCheck: ago(r.LastCheck, now),
			Active: "–", Inactive: "–"}
		if r.Weight < 0 {
			rv.Weight = "not in table"
		}
		switch {
		case r.Fallback:
			rv.Health, rv.Class = "fallback", "warn"
			vv.Fallback = vv.Fallback || r.Weight >= 0
		case r.Up && r.Drained:
			rv.Health, rv.Class = "up, drained", "warn"
		case r.Up:
			rv.Health, rv.Class = "up", "ok"
		default:
			rv.Health, rv.Class = "down", "bad"
		}
		if !r.Fallback {
			vv.Total++
			if r.Up {
				vv.Up++
			}
		}
		// Snapshot ids are the kernel keys' String (tcp:10.0.0.100:80).
		if c, ok := conns[v.ID+"|"+r.Addr]; ok {
			rv.Active, rv.Inactive = strconv.Itoa(int(c[0])), strconv.Itoa(int(c[1]))
		} else if haveConns && r.Weight >= 0 {
			rv.Active, rv.Inactive = "0", "0"
		}
		vv.Reals = append(vv.Reals, rv)
	}
	return vv
}

// ago is "3.2 s ago" (or "never").
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s ago"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " min ago"
	}
	return t.Format("2006-01-02 15:04:05")
}

func stateClass(s string) string {
	switch s {
	case "active", "up", "ping":
		return "ok"
	case "init":
		return "warn"
	}
	return "bad"
}
