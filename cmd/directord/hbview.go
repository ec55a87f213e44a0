package main

import (
	"github.com/lvsdirector/director/failover/control"
	"github.com/lvsdirector/director/failover/haconf"
)

// hbNodes is ha.cf's node list as heartbeat's API walks it (cluster nodes,
// then ping nodes), for cl_status.
type hbNodes struct {
	names []string
	ping  map[string]bool
	links []string // our heartbeat links, in ha.cf order
}

func hbNodesOf(ha *haconf.HACF, links []string) hbNodes {
	h := hbNodes{names: append([]string(nil), ha.Nodes...), ping: map[string]bool{}, links: links}
	for _, p := range ha.Ping {
		h.names = append(h.names, p.Name)
		h.ping[p.Name] = true
	}
	return h
}

// hbView is the cluster in heartbeat's words (cl_status's view). Called
// with d.mu held.
func (d *daemon) hbView() *control.HBView {
	v := &control.HBView{Nodes: []control.HBNode{}}
	for _, n := range d.hb.names {
		hn := control.HBNode{Name: n, Type: "normal", Links: []control.HBLink{}}
		switch {
		case d.hb.ping[n]:
			// A ping node has one link, named by its address, up while it
			// answers.
			hn.Type = "ping"
			hn.Status = orStr(d.nodes[n], "init")
			hn.Links = append(hn.Links, control.HBLink{Name: n, Status: upDead(hn.Status == "ping")})
		case n == d.node:
			// heartbeat calls itself active once it runs; it never hears
			// itself on a ucast link, so its own links are dead (3.0.6).
			hn.Status = "active"
			for _, l := range d.hb.links {
				hn.Links = append(hn.Links, control.HBLink{Name: l, Status: "dead"})
			}
		default:
			hn.Status = orStr(d.nodes[n], "init")
			for _, l := range d.hb.links {
				hn.Links = append(hn.Links, control.HBLink{Name: l, Status: upDead(d.links[n][l])})
			}
		}
		v.Nodes = append(v.Nodes, hn)
	}
	return v
}

func upDead(up bool) string {
	if up {
		return "up"
	}
	return "dead"
}

func orStr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
