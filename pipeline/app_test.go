package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"flowlake/config"
	"flowlake/internal/testenv"
	"flowlake/schema"
	"flowlake/stages/parse"
	"flowlake/stages/sink"
	"flowlake/stages/source"
)

// TestSideJobFailureIsReturned checks that a failed side job (say, the
// inventory refresh) stops the pipeline and makes Run fail, although the
// pipeline itself stops cleanly.
func TestSideJobFailureIsReturned(t *testing.T) {
	env := testenv.Kafka(t, "flows", 1)
	out, err := sink.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{
		Source: source.Config{Brokers: env.Brokers, Topic: env.Topic, Group: "side", SessionTimeout: 6 * time.Second, HeartbeatInterval: time.Second},
		Parse:  parse.Config{Format: schema.DefaultFormat, Region: "us-east-1"},
	}, Deps{Sink: out}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	app := &App{Pipeline: p, cfg: &config.Config{}, logger: slog.New(slog.DiscardHandler),
		sideJobs: []func(context.Context) error{func(ctx context.Context) error {
			select {
			case <-time.After(200 * time.Millisecond):
				return errors.New("inventory refresh: access denied")
			case <-ctx.Done():
				return ctx.Err()
			}
		}}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = app.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "access denied") {
		t.Fatalf("Run: %v, want the side job's error", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the pipeline ran until the test's deadline: the side job did not stop it")
	}
}
