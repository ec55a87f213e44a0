package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Listen opens the metrics address, so that a daemon can refuse to start
// when it is taken instead of finding out later.
func Listen(listen string) (net.Listener, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("metrics: cannot listen on %s: %w", listen, err)
	}
	return ln, nil
}

// Serve serves g at path on listen until ctx is done, then shuts the
// server down (scrapes in flight get 5 s to finish) and returns nil. An
// address it cannot listen on is returned as an error at once.
func Serve(ctx context.Context, listen, path string, g prometheus.Gatherer) error {
	ln, err := Listen(listen)
	if err != nil {
		return err
	}
	return ServeListener(ctx, ln, path, g, nil)
}

// ServeListener is Serve on a listener already open; it closes ln. A
// non-nil page is served at "/" beside the metrics (the status page),
// unless the metrics themselves are at "/".
func ServeListener(ctx context.Context, ln net.Listener, path string, g prometheus.Gatherer, page http.Handler) error {
	mux := http.NewServeMux()
	if page != nil && path != "/" {
		mux.Handle("/", page)
	}
	mux.Handle(path, promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             20 * time.Second,
	}))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("metrics: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}
