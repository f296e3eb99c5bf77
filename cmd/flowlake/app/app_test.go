package app

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"flowlake/internal/testenv"
	"flowlake/pipeline"
	"flowlake/schema"
	"flowlake/stages/parse"
	"flowlake/stages/sink"
	"flowlake/stages/source/kafka"
)

// newTestApp is an App over a pipeline consuming an empty topic: it runs
// until its context ends or a side job fails.
func newTestApp(t *testing.T, group string) *App {
	t.Helper()
	env := testenv.Kafka(t, "flows", 1)
	out, err := sink.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.New(pipeline.Config{
		Source: kafka.Config{Brokers: env.Brokers, Topic: env.Topic, Group: group, SessionTimeout: 6 * time.Second, HeartbeatInterval: time.Second},
		Parse:  parse.Config{Format: schema.DefaultFormat, Region: "us-east-1"},
	}, pipeline.Deps{Sink: out}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &App{Pipeline: p, logger: slog.New(slog.DiscardHandler)}
}

// TestSideJobFailureIsReturned checks that a failed side job (say, the
// inventory refresh) stops the pipeline and makes Run fail, although the
// pipeline itself stops cleanly.
func TestSideJobFailureIsReturned(t *testing.T) {
	app := newTestApp(t, "side")
	app.Go("inventory refresh", func(ctx context.Context) error {
		select {
		case <-time.After(200 * time.Millisecond):
			return errors.New("access denied")
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := app.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "inventory refresh: access denied") {
		t.Fatalf("Run: %v, want the side job's error", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the pipeline ran until the test's deadline: the side job did not stop it")
	}
}

// failingListener accepts one connection, then fails for good (as a
// listener whose socket was closed under it).
type failingListener struct {
	net.Listener
	n atomic.Int32
}

func (l *failingListener) Accept() (net.Conn, error) {
	if l.n.Add(1) > 1 {
		return nil, errors.New("accept: bad file descriptor")
	}
	return l.Listener.Accept()
}

// TestServerFailureFailsTheRun: the metrics endpoint dying mid-run stops
// the pipeline and the run fails with why, instead of running on blind
// (probes unanswered) and exiting 0.
func TestServerFailureFailsTheRun(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &failingListener{Listener: ln}
	srv := serveOn("metrics", fl, NewTelemetry().Handler(), slog.New(slog.DiscardHandler))
	defer srv.Close()
	app := newTestApp(t, "server")
	app.Serve(srv)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	// The first request is served; the next Accept fails and ends the server.
	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	err = <-done
	if err == nil || !strings.Contains(err.Error(), "metrics server") || !strings.Contains(err.Error(), "bad file descriptor") {
		t.Fatalf("Run: %v, want the metrics server's error", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the pipeline ran until the test's deadline: the server's failure did not stop it")
	}
}
