// Command directord replaces heartbeat 3.0.6 (v1, haresources mode) and
// ldirectord on a director: it reads /etc/ha.d/{ha.cf,authkeys,haresources},
// speaks heartbeat's protocol with the peer (wire-compatible), and holds the
// resource groups — service addresses with gratuitous ARP, the director
// in-process for ldirectord::CFG, scripts — on exactly one node.
//
//	directord [--node NAME] [--hadir /etc/ha.d] [--statedir /var/lib/heartbeat] [--socket PATH] [--lock PATH] [--settings PATH] [-d]
//
// --settings names the appliance's settings file (default
// /etc/lvsdirector/settings.toml, which may be missing): its [metrics]
// table turns on the Prometheus endpoint, with the cluster's state and the
// in-process director's.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/lvsdirector/director/failover/cluster"
	"github.com/lvsdirector/director/failover/control"
	"github.com/lvsdirector/director/failover/haconf"
	"github.com/lvsdirector/director/failover/ipaddr"
	"github.com/lvsdirector/director/failover/media"
	"github.com/lvsdirector/director/failover/resource"
	"github.com/lvsdirector/director/failover/respawn"
	"github.com/lvsdirector/director/internal/metrics"
	"github.com/lvsdirector/director/internal/settings"
)

func main() { os.Exit(run()) }

func run() int {
	// SIGHUP re-reads the configuration (as heartbeat's). Caught from the
	// start: Go's default for it is to exit, leaving the VIP configured.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	node := flag.String("node", "", "this node's name (default: uname -n, lowercased)")
	haDir := flag.String("hadir", haconf.DefaultDir, "directory of ha.cf, authkeys, haresources")
	stateDir := flag.String("statedir", "/var/lib/heartbeat", "where the generation number is kept")
	sock := flag.String("socket", control.DefaultSocket, "control socket for directorctl")
	debug := flag.Bool("d", false, "debug logging")
	settingsPath := flag.String("settings", settings.DefaultPath, "the appliance's settings (metrics); the default file may be missing")
	lockPath := flag.String("lock", "", "single-instance lock file (default: the control socket's path + .lock)")
	test := flag.Bool("t", false, "config test: check every file start would read, start nothing; exit 0 clean, 3 would not start, 4 warnings")
	flag.BoolVar(test, "config-test", false, "the same as -t")
	flag.Parse()
	settingsGiven, nodeGiven := false, *node != ""
	flag.Visit(func(f *flag.Flag) { settingsGiven = settingsGiven || f.Name == "settings" })
	if *node == "" {
		var u syscall.Utsname
		if err := syscall.Uname(&u); err == nil {
			*node = utsString(u.Nodename[:])
		}
	}
	*node = strings.ToLower(*node)
	if *test {
		return configTest(startOptions{node: *node, nodeGiven: nodeGiven, haDir: *haDir,
			settingsPath: *settingsPath, settingsGiven: settingsGiven}, os.Stdout, os.Stderr)
	}

	cfg, err := haconf.Load(*haDir, *node)
	if err != nil {
		fmt.Fprintln(os.Stderr, "directord:", err)
		return 2
	}
	st, err := loadSettings(*settingsPath, settingsGiven)
	if err != nil {
		fmt.Fprintln(os.Stderr, "directord:", err)
		return 2
	}
	// One directord per node: a second would share the heartbeat port and
	// take over the control socket.
	release, err := claimInstance(*lockPath, *sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, "directord: not starting:", err)
		return 1
	}
	defer release()
	logs, log := newLogSwitch(cfg.HA, *debug)
	defer logs.Close()
	for _, w := range cfg.Warnings {
		log.Warn(w.Error())
	}
	acceptAnyAuthIndex(cfg, st, *haDir, log)
	gen, err := nextGeneration(*stateDir)
	if err != nil {
		log.Error("generation: " + err.Error())
		return 1
	}
	specs, err := mediaSpecs(cfg.HA)
	if err != nil {
		log.Error(err.Error())
		return 2
	}
	ipm, err := ipaddr.New(ipaddr.Options{Log: log})
	if err != nil {
		log.Error(err.Error())
		return 1
	}
	defer ipm.Close()
	gs, err := groups(cfg, *haDir, ipm, st.Heartbeat.ScriptTimeout.D(), log)
	if err != nil {
		log.Error(err.Error())
		return 2
	}
	var cs *connSync
	if st.Sync.Enabled || cfg.Resources.SyncRoles() {
		k, table, err := openKernelSync(log)
		if err != nil {
			log.Error(err.Error())
			return 1
		}
		defer table.Close()
		if cs, err = newConnSync(st, cfg.Resources, k, table, log); err == nil {
			err = cs.attach(gs)
		}
		if err != nil {
			log.Error(err.Error())
			return 2
		}
	}
	ccfg := cluster.Config{Node: *node, Nodes: cfg.HA.Nodes, Keepalive: cfg.HA.Keepalive, Deadtime: cfg.HA.Deadtime,
		Warntime: cfg.HA.Warntime, Initdead: cfg.HA.Initdead, Deadping: cfg.HA.Deadping, Generation: gen,
		AutoFailback: failback(cfg.HA.AutoFailback), IPFail: cfg.HA.IPFail, SyncSettle: cs != nil}
	for _, p := range cfg.HA.Ping {
		ccfg.PingNodes = append(ccfg.PingNodes, p.Name)
	}
	d := &daemon{log: log, node: *node, keys: cfg.Keys, groups: map[string]*resource.Group{},
		ttl: 1 + len(cfg.HA.Nodes), jobs: make(chan job, 4), done: make(chan jobResult, 4),
		control: make(chan control.Request), pings: make(chan pingReport), reloads: make(chan reloadReq), nodes: map[string]string{}, links: map[string]map[string]bool{}, held: map[string]bool{}}
	for i, g := range gs {
		hg := cfg.Resources.Groups[i]
		ccfg.Groups = append(ccfg.Groups, cluster.Group{Key: hg.Key, Node: hg.Node})
		d.groups[hg.Key] = g
		d.order = append(d.order, hg.Key)
	}
	for _, s := range specs {
		ccfg.Links = append(ccfg.Links, s.Label)
	}
	d.hb = hbNodesOf(cfg.HA, ccfg.Links)
	if d.m, err = cluster.New(ccfg); err != nil {
		log.Error(err.Error())
		return 2
	}
	if d.media, err = media.OpenAll(specs, log); err != nil {
		log.Error(err.Error())
		return 1
	}
	defer d.media.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	cctx, stopControl := context.WithCancel(context.Background())
	controlDone := make(chan struct{})
	go func() {
		defer close(controlDone)
		if err := control.Serve(cctx, *sock, d.control); err != nil {
			log.Error("control socket: " + err.Error())
		}
	}()
	// Serve removes the socket file before it returns: wait for it, or
	// the process may exit first and leave the file.
	defer func() { stopControl(); <-controlDone }()
	if len(cfg.HA.Respawn) > 0 {
		defer background(func(ctx context.Context) { respawn.Run(ctx, cfg.HA.Respawn, cfg.HA.Env, log) })()
	}
	if len(cfg.HA.Ping) > 0 {
		defer background(func(ctx context.Context) { pingNodes(ctx, cfg.HA.Ping, cfg.HA.Keepalive, d.pings, log) })()
	}
	if m := st.Metrics; m.Enabled() {
		ln, err := metrics.Listen(m.Listen)
		if err != nil {
			log.Error(err.Error())
			return 1
		}
		mctx, stopMetrics := context.WithCancel(context.Background())
		served := d.serveMetrics(mctx, ln, m.Path, log)
		defer func() { stopMetrics(); <-served }()
		log.Info("serving metrics", "url", "http://"+m.Listen+m.Path)
	}
	defer background(func(ctx context.Context) { d.watchdog(log).Run(ctx) })()
	rl := &reloader{dir: *haDir, node: *node, cfg: cfg, logs: logs, log: log, d: d}
	defer background(func(ctx context.Context) { rl.run(ctx, hup) })()
	log.Info("directord starting", "node", *node, "generation", gen, "media", len(specs), "groups", len(gs))
	if cs != nil {
		// The backup runs before any group is taken; stopped (with the
		// master) once run has released everything.
		d.sync, d.syncSettled = cs, make(chan struct{}, 1)
		backupOK := cs.start(ctx) == nil
		defer background(func(ctx context.Context) { cs.watch(ctx, backupOK, d.syncSettled) })()
	}
	if err := d.run(ctx); err != nil {
		log.Error(err.Error())
		return 1
	}
	if cs != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cs.stop(sctx)
		cancel()
	}
	log.Info("directord stopped")
	return 0
}

// background runs fn on its own goroutine; the returned stop cancels its
// context and waits for it to return, so nothing outlives the daemon.
func background(fn func(ctx context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); fn(ctx) }()
	return func() { cancel(); <-done }
}

func failback(f haconf.AutoFailback) cluster.FailbackMode {
	switch f {
	case haconf.FailbackOn:
		return cluster.FailbackOn
	case haconf.FailbackOff:
		return cluster.FailbackOff
	}
	return cluster.FailbackLegacy
}

func utsString(b []int8) string {
	var s strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		s.WriteByte(byte(c))
	}
	return s.String()
}
