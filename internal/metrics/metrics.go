// Package metrics exports the appliance's state to Prometheus. Nothing is
// kept here: at every scrape the collector asks its sources — the running
// directors and the failover daemon — through small interfaces, so the
// daemons plug in whatever they run without this package knowing them.
package metrics

import (
	"context"
	"log/slog"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/lvsdirector/director/director"
	"github.com/lvsdirector/director/failover/control"
	"github.com/lvsdirector/director/healthcheck"
	"github.com/lvsdirector/director/ipvs"
)

// Director is a running director: director.Instance, or the in-process
// ldirectord:: resource of directord.
type Director interface {
	Snapshot() []director.VirtualStatus
	CheckStats() healthcheck.Stats
	// Counters reads the virtuals' kernel counters now.
	Counters(ctx context.Context) ([]director.VirtualCounters, error)
}

// Failover reports the failover daemon's cluster status.
type Failover interface {
	FailoverStatus(ctx context.Context) (*control.Status, error)
}

// FailoverFunc adapts a function to Failover.
type FailoverFunc func(ctx context.Context) (*control.Status, error)

// FailoverStatus calls f.
func (f FailoverFunc) FailoverStatus(ctx context.Context) (*control.Status, error) { return f(ctx) }

// Sources are what a daemon plugs in; any may be nil.
type Sources struct {
	// Directors lists the directors running now (asked at every scrape).
	Directors func() []Director
	// Failover reports the cluster status.
	Failover Failover
	// Timeout bounds one Failover call (default 5 s).
	Timeout time.Duration
	// Log hears about failed Failover calls (default slog.Default()).
	Log *slog.Logger
}

// NodeStates are heartbeat's node statuses: lvs_ha_node_state has a series
// for each, 1 for the node's current one. A status not in this list (none
// is known) gets its own series while it is current.
var NodeStates = []string{"init", "up", "active", "dead", "ping"}

// ResourceStates are the values of heartbeat's "resources held" (cl_status
// rscstatus), one lvs_ha_resources series each.
var ResourceStates = []string{"none", "local", "foreign", "all", "transition"}

// LatenessQuantiles are the quantiles of lvs_check_lateness_seconds.
var LatenessQuantiles = []float64{0.5, 0.99}

var (
	descRealUp = prometheus.NewDesc("lvs_real_up",
		"Health of a real server as the director judges it: 1 up, 0 down (the fallback server is not a real).",
		[]string{"virtual", "real"}, nil)
	descRealWeight = prometheus.NewDesc("lvs_real_weight",
		"Weight of a real server in the kernel IPVS table (0 = quiesced); no series while the real is not in the table.",
		[]string{"virtual", "real"}, nil)
	descRealDrained = prometheus.NewDesc("lvs_real_drained",
		"1 while an operator drains the real server (directorctl drain: weight 0, its connections go on), else 0.",
		[]string{"virtual", "real"}, nil)
	descVirtualReals = prometheus.NewDesc("lvs_virtual_reals",
		"Real servers configured for a virtual service.",
		[]string{"virtual"}, nil)
	descVirtualRealsUp = prometheus.NewDesc("lvs_virtual_reals_up",
		"Real servers of a virtual service that are up.",
		[]string{"virtual"}, nil)
	descFallback = prometheus.NewDesc("lvs_virtual_fallback_active",
		"1 while the virtual service's fallback server is in the kernel table (no real is up), else 0.",
		[]string{"virtual"}, nil)
	descChecks = prometheus.NewDesc("lvs_checks_total",
		"Health checks run since the director started.",
		nil, nil)
	descLateness = prometheus.NewDesc("lvs_check_lateness_seconds",
		"How late checks started against their schedule: quantiles over the most recent check starts (up to 4096 per director).",
		[]string{"quantile"}, nil)
	// The kernel's counters, named as node_exporter's IPVS collector names
	// them (node_ipvs_*), per virtual service and per backend.
	ipvsServiceLabels  = []string{"local_address", "local_port", "local_mark", "proto"}
	ipvsBackendLabels  = []string{"local_address", "local_port", "remote_address", "remote_port", "proto", "local_mark"}
	descIPVSConns      = prometheus.NewDesc("lvs_ipvs_connections_total", "Connections scheduled by the virtual service (ipvsadm --stats Conns).", ipvsServiceLabels, nil)
	descIPVSInPkts     = prometheus.NewDesc("lvs_ipvs_incoming_packets_total", "Packets in to the virtual service (ipvsadm --stats InPkts).", ipvsServiceLabels, nil)
	descIPVSOutPkts    = prometheus.NewDesc("lvs_ipvs_outgoing_packets_total", "Packets out of the virtual service (ipvsadm --stats OutPkts).", ipvsServiceLabels, nil)
	descIPVSInBytes    = prometheus.NewDesc("lvs_ipvs_incoming_bytes_total", "Bytes in to the virtual service (ipvsadm --stats InBytes).", ipvsServiceLabels, nil)
	descIPVSOutBytes   = prometheus.NewDesc("lvs_ipvs_outgoing_bytes_total", "Bytes out of the virtual service (ipvsadm --stats OutBytes).", ipvsServiceLabels, nil)
	descIPVSActive     = prometheus.NewDesc("lvs_ipvs_backend_connections_active", "Active connections to the real server (ipvsadm ActiveConn).", ipvsBackendLabels, nil)
	descIPVSInactive   = prometheus.NewDesc("lvs_ipvs_backend_connections_inactive", "Inactive connections to the real server (ipvsadm InActConn).", ipvsBackendLabels, nil)
	descIPVSWeight     = prometheus.NewDesc("lvs_ipvs_backend_weight", "Weight of the real server in the kernel.", ipvsBackendLabels, nil)
	descIPVSBackConns  = prometheus.NewDesc("lvs_ipvs_backend_connections_total", "Connections scheduled to the real server (ipvsadm --stats Conns of the real).", ipvsBackendLabels, nil)
	descIPVSBackBytesO = prometheus.NewDesc("lvs_ipvs_backend_outgoing_bytes_total", "Bytes out of the real server through the director (ipvsadm --stats OutBytes of the real).", ipvsBackendLabels, nil)
	descCommUp         = prometheus.NewDesc("lvs_ha_comm_up",
		"1 once cluster communication has started (heartbeat's initdead is over), else 0.",
		nil, nil)
	descNodeState = prometheus.NewDesc("lvs_ha_node_state",
		"Status of a cluster or ping node as this node sees it: 1 for the current status, 0 for the others.",
		[]string{"node", "state"}, nil)
	descLinkUp = prometheus.NewDesc("lvs_ha_link_up",
		"Heartbeat link (medium) to a node: 1 up, 0 dead.",
		[]string{"node", "link"}, nil)
	descGroupHeld = prometheus.NewDesc("lvs_ha_group_held",
		"1 while this node holds the haresources group (named by its first resource), else 0.",
		[]string{"group"}, nil)
	descStopFailures = prometheus.NewDesc("lvs_ha_group_stop_failures",
		"Failed stops in a row of the haresources group: while above 0 the group stays held here and its stop is retried; 0 once a stop or start succeeds.",
		[]string{"group"}, nil)
	descResources = prometheus.NewDesc("lvs_ha_resources",
		"Which resources this node holds (none, local, foreign, all, transition): 1 for the current value.",
		[]string{"state"}, nil)
	descSyncDaemon = prometheus.NewDesc("lvs_sync_daemon",
		"IPVS connection sync daemon (ipvsadm -L --daemon): 1 running, 0 not running (with the configured interface and id).",
		[]string{"state", "interface", "syncid"}, nil)
	descConnections = prometheus.NewDesc("lvs_connections",
		"Entries in the IPVS connection table (ipvsadm -Lnc), synced ones included; only with connection sync on.",
		nil, nil)
	descSyncSettled = prometheus.NewDesc("lvs_sync_settled",
		"1 once the backup sync daemon has had the peer's connections long enough for a failback, else 0.",
		nil, nil)
)

// SyncStates are the sync daemon roles: lvs_sync_daemon has a series for
// each.
var SyncStates = []string{"master", "backup"}

// Collector is a prometheus.Collector over Sources.
type Collector struct {
	src Sources
}

// NewCollector returns a collector reading src at every scrape.
func NewCollector(src Sources) *Collector {
	if src.Timeout <= 0 {
		src.Timeout = 5 * time.Second
	}
	if src.Log == nil {
		src.Log = slog.Default()
	}
	return &Collector{src: src}
}

// NewRegistry returns a registry with the collector over src and the
// standard Go runtime and process collectors.
func NewRegistry(src Sources) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), NewCollector(src))
	return reg
}

// Describe sends every descriptor the collector may use.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRealUp, descRealDrained, descRealWeight, descVirtualReals, descVirtualRealsUp, descFallback,
		descChecks, descLateness, descIPVSConns, descIPVSInPkts, descIPVSOutPkts, descIPVSInBytes, descIPVSOutBytes,
		descIPVSActive, descIPVSInactive, descIPVSWeight, descIPVSBackConns, descIPVSBackBytesO, descCommUp, descNodeState, descLinkUp, descGroupHeld, descStopFailures, descResources,
		descSyncDaemon, descConnections, descSyncSettled} {
		ch <- d
	}
}

// Collect reads the sources and sends their metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	if c.src.Directors != nil {
		c.collectDirectors(ch, c.src.Directors())
	}
	if c.src.Failover != nil {
		c.collectFailover(ch)
	}
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *Collector) collectDirectors(ch chan<- prometheus.Metric, ds []Director) {
	if len(ds) == 0 {
		return
	}
	var runs uint64
	var late []time.Duration
	seen := map[string]bool{} // a virtual in two directors is reported once
	for _, d := range ds {
		st := d.CheckStats()
		runs += st.Runs
		late = append(late, st.Lateness...)
		for _, v := range d.Snapshot() {
			if seen[v.ID] {
				continue
			}
			seen[v.ID] = true
			reals, up, fallback := 0, 0, false
			realSeen := map[string]bool{}
			for _, r := range v.Reals {
				if r.Fallback {
					fallback = fallback || r.Weight >= 0
					continue
				}
				if realSeen[r.Addr] {
					continue
				}
				realSeen[r.Addr] = true
				reals++
				if r.Up {
					up++
				}
				gauge(ch, descRealUp, b2f(r.Up), v.ID, r.Addr)
				gauge(ch, descRealDrained, b2f(r.Drained), v.ID, r.Addr)
				if r.Weight >= 0 {
					gauge(ch, descRealWeight, float64(r.Weight), v.ID, r.Addr)
				}
			}
			gauge(ch, descVirtualReals, float64(reals), v.ID)
			gauge(ch, descVirtualRealsUp, float64(up), v.ID)
			gauge(ch, descFallback, b2f(fallback), v.ID)
		}
	}
	ch <- prometheus.MustNewConstMetric(descChecks, prometheus.CounterValue, float64(runs))
	c.collectCounters(ch, ds)
	if len(late) > 0 {
		for _, q := range LatenessQuantiles {
			gauge(ch, descLateness, Quantile(late, q).Seconds(), formatQ(q))
		}
	}
}

// collectCounters reads the kernel's counters of every director's
// virtuals at scrape time; a failed read is logged and leaves them out.
func (c *Collector) collectCounters(ch chan<- prometheus.Metric, ds []Director) {
	ctx, cancel := context.WithTimeout(context.Background(), c.src.Timeout)
	defer cancel()
	seen := map[ipvs.ServiceKey]bool{}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, d := range ds {
		vcs, err := d.Counters(ctx)
		if err != nil {
			c.src.Log.Warn("metrics: reading the kernel's counters", "err", err)
			continue
		}
		for _, vc := range vcs {
			k := vc.Service.ServiceKey
			if seen[k] {
				continue
			}
			seen[k] = true
			addr, port, mark, proto := serviceLabels(k)
			st := vc.Service.Stats
			counter(descIPVSConns, st.Connections, addr, port, mark, proto)
			counter(descIPVSInPkts, st.PacketsIn, addr, port, mark, proto)
			counter(descIPVSOutPkts, st.PacketsOut, addr, port, mark, proto)
			counter(descIPVSInBytes, st.BytesIn, addr, port, mark, proto)
			counter(descIPVSOutBytes, st.BytesOut, addr, port, mark, proto)
			for _, dst := range vc.Dests {
				l := []string{addr, port, dst.Addr.String(), strconv.Itoa(int(dst.Port)), proto, mark}
				gauge(ch, descIPVSActive, float64(dst.ActiveConns), l...)
				gauge(ch, descIPVSInactive, float64(dst.InactiveConns), l...)
				gauge(ch, descIPVSWeight, float64(dst.Weight), l...)
				counter(descIPVSBackConns, dst.Stats.Connections, l...)
				counter(descIPVSBackBytesO, dst.Stats.BytesOut, l...)
			}
		}
	}
}

// serviceLabels are node_exporter's labels of a service: address, port,
// mark ("" without one) and protocol (TCP, UDP, SCTP; FWM for a fwmark).
func serviceLabels(k ipvs.ServiceKey) (addr, port, mark, proto string) {
	if k.FWMark != 0 {
		return "", "0", strconv.FormatUint(uint64(k.FWMark), 10), "FWM"
	}
	return k.Addr.String(), strconv.Itoa(int(k.Port)), "", strings.ToUpper(k.Protocol.String())
}

func formatQ(q float64) string { return strconv.FormatFloat(q, 'g', -1, 64) }

// Quantile is the nearest-rank q-quantile of samples (0 for none).
func Quantile(samples []time.Duration, q float64) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	// The smallest sample with at least q of them at or below it (the
	// epsilon keeps 0.99*100 from rounding up to 100).
	i := int(math.Ceil(q*float64(len(s))-1e-9)) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func (c *Collector) collectFailover(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.src.Timeout)
	defer cancel()
	st, err := c.src.Failover.FailoverStatus(ctx)
	if err != nil || st == nil {
		if err != nil {
			c.src.Log.Warn("metrics: no failover status", "err", err)
		}
		return
	}
	gauge(ch, descCommUp, b2f(st.CommUp))
	states := ResourceStates
	if !slices.Contains(states, st.Resources) && st.Resources != "" {
		states = append(slices.Clone(states), st.Resources)
	}
	for _, s := range states {
		gauge(ch, descResources, b2f(s == st.Resources), s)
	}
	seenNode := map[string]bool{}
	for _, n := range st.Nodes {
		if seenNode[n.Name] {
			continue
		}
		seenNode[n.Name] = true
		states := NodeStates
		if !slices.Contains(states, n.State) && n.State != "" {
			states = append(slices.Clone(states), n.State)
		}
		for _, s := range states {
			gauge(ch, descNodeState, b2f(s == n.State), n.Name, s)
		}
		links := make([]string, 0, len(n.Links))
		for l := range n.Links {
			links = append(links, l)
		}
		sort.Strings(links)
		for _, l := range links {
			gauge(ch, descLinkUp, b2f(n.Links[l] == "up"), n.Name, l)
		}
	}
	seenGroup := map[string]bool{}
	for _, g := range st.Groups {
		if seenGroup[g.Key] {
			continue
		}
		seenGroup[g.Key] = true
		gauge(ch, descGroupHeld, b2f(g.Held), g.Key)
		gauge(ch, descStopFailures, float64(g.StopFailures), g.Key)
	}
	if y := st.Sync; y != nil {
		for _, state := range SyncStates {
			running := false
			for _, d := range y.Daemons {
				if d.State == state {
					gauge(ch, descSyncDaemon, 1, state, d.Interface, strconv.Itoa(d.SyncID))
					running = true
					break
				}
			}
			if !running {
				gauge(ch, descSyncDaemon, 0, state, y.Interface, strconv.Itoa(y.SyncID))
			}
		}
		gauge(ch, descConnections, float64(y.Connections))
		gauge(ch, descSyncSettled, b2f(y.Settled))
	}
}
