package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"

	"flowlake/config"
	"flowlake/pipeline"
	"flowlake/pipeline/health"
	"flowlake/stages/deadletter"
	"flowlake/stages/sink"
	"flowlake/stages/source"
	"flowlake/stages/source/kafka"
)

// App is a pipeline with everything it runs beside it: the inventory
// refresher, the HTTP servers and whatever the caller adds (the demo's
// generator).
type App struct {
	Pipeline *pipeline.Pipeline
	logger   *slog.Logger
	sideJobs []SideJob
	closers  []func()
}

// A SideJob runs beside the pipeline until its context ends. Returning
// nil before that means it is done (the demo's generator); an error stops
// the pipeline and fails the run.
type SideJob struct {
	Name string
	Run  func(ctx context.Context) error
}

// Go adds a side job; call it before Run.
func (a *App) Go(name string, run func(ctx context.Context) error) {
	a.sideJobs = append(a.sideJobs, SideJob{Name: name, Run: run})
}

// OnClose adds f to what Close runs (in reverse order).
func (a *App) OnClose(f func()) { a.closers = append(a.closers, f) }

// Serve watches a server started before Build (the metrics endpoint) as
// a side job: its failure fails the run.
func (a *App) Serve(s *Server) { a.Go(s.name+" server", s.Wait) }

// Close releases what Build started.
func (a *App) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

// Build assembles an App that consumes the Kafka topic c names, from a
// validated configuration, registering its metrics and reporting its
// health into tel (nil: a fresh one). It checks the sink, retrying while
// it fails for transient reasons.
func Build(ctx context.Context, c *config.Config, logger *slog.Logger, tel *Telemetry) (*App, error) {
	return build(ctx, c, logger, tel, nil)
}

// sourceFunc builds a source other than Kafka once the sink is open (the
// source may keep state there); locate places its dead letters.
type sourceFunc func(out sink.Sink, reg prometheus.Registerer) (source.Runner, deadletter.Locator, error)

func build(ctx context.Context, c *config.Config, logger *slog.Logger, tel *Telemetry, newSource sourceFunc) (*App, error) {
	if tel == nil {
		tel = NewTelemetry()
	}
	reg := tel.Registry
	app := &App{logger: logger}
	ok := false
	defer func() {
		if !ok {
			app.Close()
		}
	}()
	pcfg, err := PipelineConfig(c)
	if err != nil {
		return nil, err
	}
	out, err := sink.Open(ctx, c.Sink.URL, S3Config(c), logger.With("stage", "sink"), sinkRegisterer(reg, "data"))
	if err != nil {
		tel.Health.Setf(health.Sink, "cannot open %s: %v", c.Sink.URL, err)
		return nil, fmt.Errorf("open sink: %w", err)
	}
	if checker, ok := out.(interface{ Check(context.Context) error }); ok {
		tel.Health.Setf(health.Sink, "checking %s (retrying while it fails; see the logs)", out)
		if err := checker.Check(ctx); err != nil {
			tel.Health.Setf(health.Sink, "%s: %v", out, err)
			return nil, fmt.Errorf("sink %s: %w", out, err)
		}
	}
	tel.Health.Set(health.Sink, "")
	logger.Info("sink checked", "sink", out.String())
	deps := pipeline.Deps{Sink: out, Health: tel.Health}
	var locate deadletter.Locator
	if newSource != nil {
		if deps.Source, locate, err = newSource(out, reg); err != nil {
			return nil, err
		}
		// A finite source ends the run; its command reports progress.
		pcfg.ExitWhenIdle, pcfg.ProgressInterval = 0, 0
		deps.DeadLetters = deadletter.NewSinkWriter(out, "_dead_letters").WithLocator(locate)
	}
	if deps.Source == nil {
		if deps.Source, err = kafka.New(pcfg.Source, logger.With("stage", "source")); err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
	}
	if c.DLQ != "" {
		dlq, closeDLQ, err := openDLQ(ctx, c, logger, reg)
		if err != nil {
			return nil, err
		}
		if sw, ok := dlq.(*deadletter.SinkWriter); ok && locate != nil {
			sw.WithLocator(locate)
		}
		deps.DeadLetters = dlq
		app.OnClose(closeDLQ)
	}
	if c.Enrich.Enabled() {
		enr, run, err := newEnricher(ctx, c, logger, reg)
		if err != nil {
			return nil, err
		}
		deps.Enricher = enr
		pcfg.Parse.Enrichment.Enabled = true
		pcfg.Parse.Enrichment.TagKeys = c.Enrich.TagKeys
		app.Go("inventory refresh", run)
	}
	if c.PprofAddr != "" {
		srv, err := ServePprof(c.PprofAddr, logger)
		if err != nil {
			return nil, err
		}
		app.OnClose(srv.Close)
		app.Serve(srv)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// The budget is the process's: the Go runtime collects sooner as
		// the heap nears it, instead of doubling the live heap.
		debug.SetMemoryLimit(pipeline.GoMemLimit(pcfg.MemoryLimit))
	}
	p, err := pipeline.New(pcfg, deps, logger, reg)
	if err != nil {
		return nil, err
	}
	app.Pipeline = p
	ok = true
	return app, nil
}

// Run runs the side jobs and the pipeline until the pipeline stops. A side
// job that fails (say, the inventory refresh or the metrics server) stops
// the pipeline, and its error is returned even when the pipeline itself
// stopped cleanly: a failed side job never ends in success.
func (a *App) Run(ctx context.Context) error {
	sideCtx, stopSide := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSide()
	errs := make(chan error, len(a.sideJobs))
	for _, job := range a.sideJobs {
		go func() {
			if err := job.Run(sideCtx); err != nil && !errors.Is(err, context.Canceled) {
				errs <- fmt.Errorf("%s: %w", job.Name, err)
			}
		}()
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var sideErr error
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case sideErr = <-errs:
			a.logger.Error("side job failed; stopping", "err", sideErr)
			cancel()
		case <-pctx.Done():
		}
	}()
	err := a.Pipeline.Run(pctx)
	cancel()
	<-watched
	if sideErr != nil {
		return errors.Join(fmt.Errorf("side job: %w", sideErr), err)
	}
	return err
}
