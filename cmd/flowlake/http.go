package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"flowlake/pipeline"
)

// serveTelemetry starts the HTTP endpoint (/metrics, /healthz, /readyz)
// before anything else, so probes answer while flowlake waits for its sink
// or its brokers. It returns a function that stops the server.
func serveTelemetry(addr string, tel *pipeline.Telemetry, logger *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	srv := &http.Server{Handler: tel.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	logger.Info("serving metrics", "addr", ln.Addr().String(), "paths", "/metrics /healthz /readyz")
	return func() { _ = srv.Close() }, nil
}
