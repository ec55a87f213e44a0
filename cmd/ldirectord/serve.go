package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lvsdirector/director/director"
	"github.com/lvsdirector/director/internal/ldlog"
	"github.com/lvsdirector/director/internal/metrics"
	"github.com/lvsdirector/director/internal/sdnotify"
	"github.com/lvsdirector/director/internal/settings"
	"github.com/lvsdirector/director/internal/statuspage"
	"github.com/lvsdirector/director/ipvs"
)

// start runs the director: in the foreground with -d or supervised=yes,
// else as a daemon. The parent waits until the daemon has programmed the
// table (or failed), so "start" exits 0 only when the director runs.
func start(inv invocation, cfg *director.Config, stdout, stderr io.Writer) int {
	if pid := runningPID(inv); pid > 0 {
		fmt.Fprintln(stdout, "Exiting from ldirectord start")
		return exitOK
	}
	if inv.debug || cfg.Global.Supervised {
		return serve(inv, cfg, nil, stdout, stderr)
	}
	if sdnotify.Enabled() {
		return serveNotify(inv, cfg)
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "start: %v\n", err)
		return exitFail
	}
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintf(stderr, "start: %v\n", err)
		return exitFail
	}
	cmd := exec.Command(self, inv.config, inv.cmd)
	if inv.cmd != "start" {
		cmd.Args = []string{self, inv.config, "start"}
	}
	cmd.Env = append(os.Environ(), childEnv+"=1")
	if os.Getenv(settings.EnvVar) != "" {
		// Made absolute: the daemon runs in /.
		cmd.Env = append(cmd.Env, settings.EnvVar+"="+inv.settingsPath)
	}
	cmd.Dir = "/"
	cmd.ExtraFiles = []*os.File{w} // fd 3: readiness
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "start: %v\n", err)
		return exitFail
	}
	w.Close()
	msg, _ := io.ReadAll(io.LimitReader(r, 4096))
	r.Close()
	if s := strings.TrimSpace(string(msg)); s != "ok" {
		if s == "" {
			s = "the daemon exited during start; see the log"
		}
		fmt.Fprintf(stderr, "ldirectord: %s\n", s)
		return exitFail
	}
	_ = cmd.Process.Release()
	for _, ex := range cfg.Global.Execute {
		runSelf(ex, "start")
	}
	return exitOK
}

// serveDaemon is the daemon child: pid file, stdio to /dev/null, then serve.
func serveDaemon(inv invocation, cfg *director.Config) int {
	ready := os.NewFile(3, "ready")
	if null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0); err == nil {
		for _, fd := range []int{0, 1, 2} {
			_ = syscall.Dup2(int(null.Fd()), fd)
		}
	}
	// The lock first: of two daemons started at once, the one that does
	// not get it touches nothing.
	lock, err := lockPidFile(pidFile(inv))
	if err != nil {
		var running errRunning
		if errors.As(err, &running) {
			fmt.Fprintf(ready, "ldirectord for %s is %v\n", inv.path, running)
		} else {
			fmt.Fprintf(ready, "cannot write pid file: %v\n", err)
		}
		return exitFail
	}
	defer lock.release()
	return serve(inv, cfg, ready, os.Stdout, os.Stderr)
}

// serve runs the director until a terminating signal; ready (the daemon's
// fd 3) hears "ok" once the table is programmed, or the error.
func serve(inv invocation, cfg *director.Config, ready *os.File, stdout, stderr io.Writer) int {
	log, err := logger(inv, cfg, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		if ready != nil {
			fmt.Fprintln(ready, err)
		}
		return exitFail
	}
	tell := func(msg string) {
		if ready != nil {
			fmt.Fprintln(ready, msg)
			ready.Close()
			ready = nil
		}
	}
	log.Info("Starting Linux Director v1.186-ha (lvsdirector) with pid: " + fmt.Sprint(os.Getpid()))

	// The metrics port is taken before anything else: a daemon asked to
	// export metrics that cannot does not start.
	var metricsLn net.Listener
	if inv.settings != nil && inv.settings.Metrics.Enabled() {
		m := inv.settings.Metrics
		if metricsLn, err = metrics.Listen(m.Listen); err != nil {
			log.Error(err.Error())
			tell(err.Error())
			return exitFail
		}
		defer metricsLn.Close() // if we never get to serve it
	}

	table, err := ipvs.NewKernel(ipvs.KernelOptions{Logger: log})
	if err != nil {
		log.Error(err.Error())
		tell(err.Error())
		return exitFail
	}
	defer table.Close()

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGPIPE)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reload := make(chan struct{}, 1)
	var stopSig os.Signal
	go func() {
		for s := range sigs {
			switch s {
			case syscall.SIGHUP:
				_ = sdnotify.Reloading()
				select {
				case reload <- struct{}{}:
				default:
				}
			case syscall.SIGPIPE:
			default:
				stopSig = s
				_ = sdnotify.Stopping("stopping on " + sigName(s))
				cancel()
				return
			}
		}
	}()

	in := &director.Instance{
		Path:    inv.path,
		Parse:   parseOptions,
		Table:   table,
		Log:     log,
		Reload:  reload,
		Options: director.Options{Ready: func() { tell("ok"); _ = sdnotify.Ready("table programmed") }},
		Reloaded: func(err error) {
			_ = sdnotify.Ready("") // the reload is over, taken or not
			if err == nil {
				for _, ex := range cfg.Global.Execute {
					runSelf(ex, "reload")
				}
			}
		},
	}
	if metricsLn != nil {
		m := inv.settings.Metrics
		dirs := func() []metrics.Director { return []metrics.Director{in} }
		reg := metrics.NewRegistry(metrics.Sources{Log: log, Directors: dirs})
		page := statuspage.Handler(statuspage.Sources{Daemon: "ldirectord", Directors: dirs, Log: log})
		mctx, stopMetrics := context.WithCancel(context.Background())
		served := make(chan struct{})
		go func() {
			defer close(served)
			if err := metrics.ServeListener(mctx, metricsLn, m.Path, reg, page); err != nil {
				log.Error(err.Error())
			}
		}()
		defer func() { stopMetrics(); <-served }()
		log.Info(fmt.Sprintf("Serving metrics on http://%s%s and the status page on http://%s/", m.Listen, m.Path, m.Listen))
	}
	sdctx, stopNotify := context.WithCancel(ctx)
	notified := make(chan struct{})
	go func() { defer close(notified); notifySystemd(sdctx, in, log) }()
	err = in.Run(ctx, cfg)
	stopNotify()
	<-notified
	if err != nil {
		log.Error(err.Error())
		tell(err.Error())
		return exitFail
	}
	for _, ex := range cfg.Global.Execute {
		runSelf(ex, "stop")
	}
	if stopSig != nil {
		log.Info("Linux Director Daemon terminated on signal: " + sigName(stopSig))
	}
	return exitOK
}

func sigName(s os.Signal) string {
	switch s {
	case syscall.SIGTERM:
		return "TERM"
	case syscall.SIGINT:
		return "INT"
	case syscall.SIGQUIT:
		return "QUIT"
	}
	return s.String()
}

func logger(inv invocation, cfg *director.Config, stdout, stderr io.Writer) (*slog.Logger, error) {
	t := ldlog.Target{Name: inv.cfgName, Level: slog.LevelInfo}
	switch lf := cfg.Global.Logfile; {
	case inv.debug:
		t.W, t.Level = stderr, slog.LevelDebug
	case cfg.Global.Supervised:
		t.W, t.Supervised = stdout, true
	case strings.HasPrefix(lf, "/"):
		t.File = lf
	case lf == "":
		t.File = "/var/log/ldirectord.log"
	default:
		t.Facility = lf
	}
	h, err := ldlog.New(t)
	if err != nil {
		return nil, err
	}
	return slog.New(h), nil
}

// runSelf runs "ldirectord CONFIG CMD" for an execute= line.
func runSelf(config, cmd string) {
	self, err := os.Executable()
	if err != nil {
		return
	}
	c := exec.Command(self, config, cmd)
	c.Stdout, c.Stderr = os.Stdout, os.Stderr
	depth, _ := strconv.Atoi(os.Getenv(executeDepthEnv))
	c.Env = append(os.Environ(), executeDepthEnv+"="+strconv.Itoa(depth+1))
	done := make(chan struct{})
	go func() { _ = c.Run(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
	}
}
