package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"flowlake/pipeline"
	"flowlake/pipeline/health"
)

// Telemetry is what the HTTP endpoint serves: metrics and health. It exists
// before anything connects, so probes answer (503, with the reason) while
// flowlake still waits for its sink or its brokers.
type Telemetry struct {
	Registry *prometheus.Registry
	Health   *health.Health
}

// NewTelemetry returns a registry with the Go and process collectors and a
// health state that is not ready yet.
func NewTelemetry() *Telemetry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Telemetry{Registry: reg, Health: pipeline.NewHealth()}
}

// Handler serves /metrics, /healthz and /readyz.
func (t *Telemetry) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(t.Registry, promhttp.HandlerOpts{}))
	t.Health.Routes(mux)
	return mux
}

// Server is an HTTP server started by Serve. Its failure after the start
// (the listener closed under it) is an error of the run: Wait returns it.
type Server struct {
	name string
	srv  *http.Server
	done chan struct{}
	err  error // set before done closes
}

// Serve listens on addr and serves h until Close. name says what the
// server is in errors and logs ("metrics", "pprof"); attrs follow the
// address in the "serving <name>" line.
func Serve(name, addr string, h http.Handler, logger *slog.Logger, attrs ...any) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s listener: %w", name, err)
	}
	return serveOn(name, ln, h, logger, attrs...), nil
}

func serveOn(name string, ln net.Listener, h http.Handler, logger *slog.Logger, attrs ...any) *Server {
	s := &Server{name: name, srv: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.err = fmt.Errorf("%s server on %s: %w", name, ln.Addr(), err)
		}
	}()
	logger.Info("serving "+name, append([]any{"addr", ln.Addr().String()}, attrs...)...)
	return s
}

// ServeTelemetry serves tel (/metrics, /healthz, /readyz) on addr.
func ServeTelemetry(addr string, tel *Telemetry, logger *slog.Logger) (*Server, error) {
	return Serve("metrics", addr, tel.Handler(), logger, "paths", "/metrics /healthz /readyz")
}

// ServePprof serves Go profiles (/debug/pprof/) on addr.
func ServePprof(addr string, logger *slog.Logger) (*Server, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return Serve("pprof", addr, mux, logger)
}

// Wait blocks until the server stops or ctx ends. A server that stopped
// by itself is an error, never a clean end: it returns why.
func (s *Server) Wait(ctx context.Context) error {
	select {
	case <-s.done:
		if s.err != nil {
			return s.err
		}
		return fmt.Errorf("%s server stopped", s.name)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the server.
func (s *Server) Close() {
	_ = s.srv.Close()
	<-s.done
}
