package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/lvsdirector/director/failover/control"
	"github.com/lvsdirector/director/failover/resource"
	"github.com/lvsdirector/director/internal/metrics"
	"github.com/lvsdirector/director/internal/settings"
	"github.com/lvsdirector/director/internal/statuspage"
)

// loadSettings reads the settings file: one named by --settings must
// exist, the default one may be missing (metrics off).
func loadSettings(path string, explicit bool) (*settings.Settings, error) {
	if explicit {
		return settings.Load(path)
	}
	return settings.LoadDefault(path)
}

// failoverStatus asks the daemon's goroutine for its status, as directorctl
// does through the control socket: the state machine is only read there.
func (d *daemon) failoverStatus(ctx context.Context) (*control.Status, error) {
	req := control.Request{Cmd: "status", Reply: make(chan control.Response, 1)}
	select {
	case d.control <- req:
	case <-ctx.Done():
		return nil, fmt.Errorf("the daemon did not take the status request: %w", ctx.Err())
	}
	select {
	case resp := <-req.Reply:
		if resp.Status == nil {
			return nil, errors.New("status: " + resp.Text)
		}
		return resp.Status, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("the daemon did not answer the status request: %w", ctx.Err())
	}
}

// directors are the in-process directors (ldirectord:: resources) of the
// groups this node holds.
func (d *daemon) directors() []metrics.Director {
	d.mu.Lock()
	var held []string
	for _, k := range d.order {
		if d.held[k] {
			held = append(held, k)
		}
	}
	d.mu.Unlock()
	var out []metrics.Director
	for _, k := range held {
		for _, a := range d.groups[k].Agents {
			if r, ok := a.(*resource.Director); ok {
				out = append(out, r)
			}
		}
	}
	return out
}

// serveMetrics serves the metrics on ln until ctx is done; the returned
// channel is closed once the server has stopped.
func (d *daemon) serveMetrics(ctx context.Context, ln net.Listener, path string, log *slog.Logger) <-chan struct{} {
	reg := metrics.NewRegistry(metrics.Sources{Log: log, Directors: d.directors, Failover: metrics.FailoverFunc(d.failoverStatus)})
	page := statuspage.Handler(statuspage.Sources{Daemon: "directord", Directors: d.directors, Failover: metrics.FailoverFunc(d.failoverStatus), Log: log})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := metrics.ServeListener(ctx, ln, path, reg, page); err != nil {
			log.Error(err.Error())
		}
	}()
	return done
}
