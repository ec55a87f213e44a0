package main

import (
	"reflect"
	"testing"

	"github.com/lvsdirector/director/failover/cluster"
	"github.com/lvsdirector/director/failover/control"
	"github.com/lvsdirector/director/failover/haconf"
)

// cl_status's view follows the node and link states the machine reports:
// ha.cf's nodes then its ping nodes, each with heartbeat's type, status
// and links (a link never heard is dead, and so are our own, as heartbeat's; a ping node's one
// link is named by its address).
func TestHBViewFollowsTheMachinesReports(t *testing.T) {
	d := testDaemon(t)
	d.hb = hbNodesOf(&haconf.HACF{Nodes: []string{"a", "b"}, Ping: []haconf.Ping{{Name: "10.0.0.50"}}}, []string{"eth0", "eth1"})
	d.do([]cluster.Action{
		cluster.NodeState{Node: "b", State: "active"},
		cluster.LinkState{Node: "b", Link: "eth0", Up: true},
		cluster.NodeState{Node: "10.0.0.50", State: "ping"},
	})
	want := []control.HBNode{
		{Name: "a", Type: "normal", Status: "active", Links: []control.HBLink{{Name: "eth0", Status: "dead"}, {Name: "eth1", Status: "dead"}}},
		{Name: "b", Type: "normal", Status: "active", Links: []control.HBLink{{Name: "eth0", Status: "up"}, {Name: "eth1", Status: "dead"}}},
		{Name: "10.0.0.50", Type: "ping", Status: "ping", Links: []control.HBLink{{Name: "10.0.0.50", Status: "up"}}},
	}
	if got := d.status().HB.Nodes; !reflect.DeepEqual(got, want) {
		t.Fatalf("both up, b's eth1 never heard:\n got %+v\nwant %+v", got, want)
	}
	d.do([]cluster.Action{
		cluster.NodeState{Node: "b", State: "dead"},
		cluster.LinkState{Node: "b", Link: "eth0", Up: false},
		cluster.NodeState{Node: "10.0.0.50", State: "dead"},
	})
	want[1].Status, want[1].Links[0].Status = "dead", "dead"
	want[2].Status, want[2].Links[0].Status = "dead", "dead"
	if got := d.status().HB.Nodes; !reflect.DeepEqual(got, want) {
		t.Fatalf("b and the ping node dead:\n got %+v\nwant %+v", got, want)
	}
}
