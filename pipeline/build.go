package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"flowlake/config"
	"flowlake/pipeline/health"
	"flowlake/stages/deadletter"
	"flowlake/stages/parse"
	"flowlake/stages/sink"
	"flowlake/stages/source"
)

// NewLogger returns a slog logger writing text or JSON at level, with
// repeated warnings sampled (LimitHandler). Call FlushLogger before
// exiting so counts of suppressed messages are written.
func NewLogger(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(NewLimitHandler(h, LogBurst, LogWindow))
}

// FlushLogger writes the counts of suppressed messages of a logger made by
// NewLogger (or any logger over a LimitHandler); others are left alone.
func FlushLogger(l *slog.Logger) {
	if h, ok := l.Handler().(*LimitHandler); ok {
		h.Flush()
	}
}

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
	return &Telemetry{Registry: reg, Health: NewHealth()}
}

// Handler serves /metrics, /healthz and /readyz.
func (t *Telemetry) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(t.Registry, promhttp.HandlerOpts{}))
	t.Health.Routes(mux)
	return mux
}

// App is a pipeline with everything it runs beside it: the inventory
// refresher and, for the demo, an in-process broker fed by the generator.
type App struct {
	Pipeline *Pipeline
	Registry *prometheus.Registry
	cfg      *config.Config
	logger   *slog.Logger
	sideJobs []func(ctx context.Context) error
	closers  []func()
}

// Close releases what Build started.
func (a *App) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

// PipelineConfig maps the configuration onto the pipeline's.
func PipelineConfig(c *config.Config) (Config, error) {
	format, err := c.ParsedFormat()
	if err != nil {
		return Config{}, err
	}
	formats, err := c.ParsedFormats()
	if err != nil {
		return Config{}, err
	}
	return Config{
		Source: c.Kafka,
		Parse: parse.Config{Format: format, Formats: formats, AllowNewerFields: c.AllowNewerFields, Region: c.Region, Account: c.Account, JSONFields: c.JSONFields,
			MaxLineBytes: c.Input.MaxLineBytes, MaxDeadPerMessage: c.Input.MaxDeadLettersPerMessage,
			MaxAhead: c.Input.MaxRecordAhead, MaxBehind: c.Input.MaxRecordBehind},
		OnOffsetReset:    c.Input.OnOffsetReset,
		AllowSharedSink:  c.Input.AllowSharedSink,
		Batch:            c.Batch,
		Encode:           c.Parquet,
		FlowLogID:        c.FlowLogID,
		MemoryLimit:      int64(c.Memory.Limit),
		MemoryBytes:      int64(c.Memory.MaxBufferedBytes),
		FetchBufferBytes: int64(c.Memory.FetchBufferBytes),
		ExitWhenIdle:     c.ExitWhenIdle,
		DrainTimeout:     c.DrainTimeout,
		ProgressInterval: c.ProgressInterval,
		Seal:             sealConfig(c),
	}, nil
}

// S3Config maps the configuration onto the S3 sink's.
func S3Config(c *config.Config) sink.S3Config {
	s := c.Sink.S3
	return sink.S3Config{Region: s.Region, Endpoint: s.Endpoint, PathStyle: s.PathStyle || s.Endpoint != "", SSE: s.SSE,
		KMSKeyID: s.KMSKeyID, Checksum: s.Checksum, ObjectLockMode: s.ObjectLockMode, ObjectLockDays: s.ObjectLockDays,
		MultipartThreshold: s.MultipartThreshold, PartSize: s.PartSize, RequestTimeout: s.RequestTimeout}
}

// Build assembles an App from a validated configuration, registering its
// metrics and reporting its health into tel (nil: a fresh one). It checks
// the sink, retrying while it fails for transient reasons.
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
	app := &App{Registry: reg, cfg: c, logger: logger}
	ok := false
	defer func() {
		if !ok {
			app.Close()
		}
	}()
	if c.Embedded {
		if err := app.startEmbedded(ctx); err != nil {
			return nil, err
		}
	}
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
	deps := Deps{Sink: out, Health: tel.Health}
	var locate deadletter.Locator
	if newSource != nil {
		if deps.Source, locate, err = newSource(out, reg); err != nil {
			return nil, err
		}
		// A finite source ends the run; its command reports progress.
		pcfg.ExitWhenIdle, pcfg.ProgressInterval = 0, 0
		deps.DeadLetters = deadletter.NewSinkWriter(out, "_dead_letters").WithLocator(locate)
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
		app.closers = append(app.closers, closeDLQ)
	}
	if c.Enrich.Enabled() {
		enr, run, err := newEnricher(ctx, c, logger, reg)
		if err != nil {
			return nil, err
		}
		deps.Enricher = enr
		pcfg.Parse.Enrichment.Enabled = true
		pcfg.Parse.Enrichment.TagKeys = c.Enrich.TagKeys
		app.sideJobs = append(app.sideJobs, run)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// The budget is the process's: the Go runtime collects sooner as
		// the heap nears it, instead of doubling the live heap.
		debug.SetMemoryLimit(GoMemLimit(pcfg.MemoryLimit))
	}
	p, err := New(pcfg, deps, logger, reg)
	if err != nil {
		return nil, err
	}
	app.Pipeline = p
	ok = true
	return app, nil
}

func openDLQ(ctx context.Context, c *config.Config, logger *slog.Logger, reg prometheus.Registerer) (deadletter.Writer, func(), error) {
	d, err := config.ParseDLQ(c.DLQ)
	if err != nil {
		return nil, nil, err
	}
	if d.Topic != "" {
		tr, err := c.Kafka.Auth.Transport(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("dead-letter producer: %w", err)
		}
		w := deadletter.NewKafkaWriter(c.Kafka.Brokers, d.Topic, logger.With("stage", "deadletter"), deadletter.WithTransport(tr))
		return w, func() { _ = w.Close() }, nil
	}
	s, err := sink.Open(ctx, d.SinkURL, S3Config(c), logger.With("stage", "deadletter"), sinkRegisterer(reg, "dlq"))
	if err != nil {
		return nil, nil, fmt.Errorf("open dead-letter sink: %w", err)
	}
	return deadletter.NewSinkWriter(s, ""), func() {}, nil
}

// sinkRegisterer labels a sink's metrics (flowlake_sink_s3_*) with which
// sink they are about: "data" for the Parquet files and checkpoints, "dlq"
// for a separate dead-letter sink.
func sinkRegisterer(reg prometheus.Registerer, name string) prometheus.Registerer {
	return prometheus.WrapRegistererWith(prometheus.Labels{"sink": name}, reg)
}

// Run runs the side jobs and the pipeline until the pipeline stops. A side
// job that fails (say, the inventory refresh) stops the pipeline, and its
// error is returned even when the pipeline itself stopped cleanly: a failed
// side job never ends in success.
func (a *App) Run(ctx context.Context) error {
	sideCtx, stopSide := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSide()
	if a.cfg.PprofAddr != "" {
		ln, err := net.Listen("tcp", a.cfg.PprofAddr)
		if err != nil {
			return fmt.Errorf("pprof listener: %w", err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		a.logger.Info("serving Go profiles", "addr", ln.Addr().String())
	}
	errs := make(chan error, len(a.sideJobs))
	for _, job := range a.sideJobs {
		go func() {
			if err := job(sideCtx); err != nil && !errors.Is(err, context.Canceled) {
				errs <- err
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
