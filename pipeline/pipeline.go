package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"flowlake/pipeline/health"
	"flowlake/schema"
	"flowlake/stages/batch"
	"flowlake/stages/deadletter"
	"flowlake/stages/encode"
	"flowlake/stages/output"
	"flowlake/stages/parse"
	"flowlake/stages/seal"
	"flowlake/stages/sink"
	"flowlake/stages/source"
	"flowlake/stages/source/kafka"
)

// Config is everything the pipeline needs besides its dependencies.
type Config struct {
	Source kafka.Config
	Parse  parse.Config
	Batch  batch.Config
	Encode encode.Config
	// FlowLogID goes into every file name (`fl-...`).
	FlowLogID string
	// MemoryLimit is the process's memory budget (see memory). The pipeline
	// counts what it holds against the part of it that the rest of the
	// process (runtime, inventory, garbage not yet collected) leaves.
	MemoryLimit int64
	// MemoryBytes optionally lowers the bytes open and flushing batches may
	// hold (0: what the budget leaves). Past it, partitions flush everything
	// they hold, and stop reading while their flushes are still running.
	MemoryBytes int64
	// FetchBufferBytes optionally sets the bytes fetched messages waiting to
	// be parsed and merged may hold (0: a quarter of the budget). Fetches
	// are made smaller so that every assigned partition fits.
	FetchBufferBytes int64
	// ChunkBytes is the size of the unit of parallel parsing (default 1
	// MiB of messages). A chunk parses into a block per account and hour,
	// each merged into its batch: at 256 KiB, 5M records at 1 per message
	// parsed into 31,488 blocks of 159 rows on average, and their
	// per-block costs (growing from empty, dictionaries, merging) took 10%
	// more CPU than 1 MiB chunks (bench-e2e, alternating).
	ChunkBytes int
	// PendingChunks is how many chunks a partition may have in flight.
	PendingChunks int
	// FlushConcurrency bounds parallel file writes within a round.
	FlushConcurrency int
	// TickInterval is how often age and hour limits are checked.
	TickInterval time.Duration
	// StopTimeout bounds the work after a revoke or a soft stop (waiting for
	// the running flush, then the final flush). It is capped at two thirds
	// of the session timeout: past that another member may own the
	// partition.
	StopTimeout time.Duration
	// ExitWhenIdle makes the run a batch job: it ends once no record was
	// merged for this long, no flush is running and the group has made
	// every partition of the topic durable up to its high watermark
	// (0 = never: a service).
	ExitWhenIdle time.Duration
	// DrainTimeout bounds how long a batch run waits, counted from the last
	// record merged, rebalance or flush, for the group to drain the topic
	// before it fails with ErrNotDrained. Zero means ExitWhenIdle plus the
	// session and rebalance timeouts.
	DrainTimeout time.Duration
	// LagInterval is how often the brokers are asked for the topic's
	// offsets (the lag gauges).
	LagInterval time.Duration
	// FlushStuckAfter is how long a flush round may run (the sink keeps
	// failing) before the instance reports itself not ready.
	FlushStuckAfter time.Duration
	// WedgedAfter is how long a partition loop may make no progress before
	// /healthz fails.
	WedgedAfter time.Duration
	// ProgressInterval is how often progress is logged (0 = never).
	ProgressInterval time.Duration
	// Seal, when set, seals hours and writes their manifests (see
	// stages/seal); the sink must be a sink.Store.
	Seal *seal.Config
	// OnOffsetReset is what a partition whose position is outside its log
	// does: kafka.ResetFail (default) or kafka.ResetEarliest.
	OnOffsetReset string
	// AllowSharedSink lets a second consumer group write the topic into
	// the same sink prefix (see claimSink).
	AllowSharedSink bool
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	c.Source.Defaults()
	c.Batch.FillDefaults()
	if c.FlowLogID == "" {
		c.FlowLogID = "fl-flowlake"
	}
	if c.MemoryLimit <= 0 {
		c.MemoryLimit = DefaultMemoryLimit
	}
	if c.ChunkBytes <= 0 {
		c.ChunkBytes = 1 << 20
	}
	if c.PendingChunks <= 0 {
		c.PendingChunks = 4
	}
	if c.FlushConcurrency <= 0 {
		c.FlushConcurrency = 8
	}
	if c.TickInterval <= 0 {
		c.TickInterval = time.Second
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = 60 * time.Second
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = c.ExitWhenIdle + c.Source.SessionTimeout + c.Source.RebalanceTimeout
	}
	if c.LagInterval <= 0 {
		c.LagInterval = 5 * time.Second
	}
	if c.FlushStuckAfter <= 0 {
		c.FlushStuckAfter = 2 * time.Minute
	}
	if c.WedgedAfter <= 0 {
		c.WedgedAfter = 2*time.Minute + c.StopTimeout
	}
}

// Deps are the pipeline's collaborators.
type Deps struct {
	// Sink receives Parquet files and checkpoints.
	Sink sink.Sink
	// DeadLetters receives dead letters; nil means JSON Lines under
	// `_dead_letters/` in Sink.
	DeadLetters deadletter.Writer
	// Enricher adds ENI metadata; nil means none.
	Enricher parse.Enricher
	// Source supplies the streams; nil means the Kafka consumer that
	// Config.Source describes. A *kafka.Source (the consumer group) also
	// gets the connection probe, lag and drain watching, the sink owner
	// record and sealing; Config.Source must describe it.
	Source source.Runner
	// Health receives readiness and liveness; nil means a private one.
	Health *health.Health
}

// Pipeline is one flowlake consumer.
type Pipeline struct {
	cfg     Config
	logger  *slog.Logger
	metrics *metrics
	observe *observed
	source  source.Runner
	// kafka is the source when it is the Kafka consumer (connection probe,
	// lag and drain watching); nil for other sources.
	kafka *kafka.Source
	// streams numbers the streams of other sources for the owned set.
	streams atomic.Int64
	pool    *parse.Pool
	output  *output.Parquet
	sink    sink.Sink
	dlq     deadletter.Writer
	sealer  *seal.Sealer
	// planner decides the sealer's passes for a backfill (nil: Kafka).
	planner *backfillPlanner
	reg     prometheus.Registerer

	mem *memory
	// blocks keeps the blocks of flushed batches for new ones.
	blocks *schema.BlockPool
	arrays *arrayPool
	// blockShare is the budget's share for emptied segments of their own.
	blockShare int64
	// assignedParts counts partitions running, to share the fetch buffer.
	assignedParts atomic.Int64
	// parseRatio is parseFactor's state (see fetch.go).
	parseRatio atomic.Int64
	// lastData is when the idle clock last restarted: a record merged, an
	// assignment or a revoke (UnixNano). lastBusy is the last time a flush
	// ran or fetched chunks waited to be merged.
	lastData atomic.Int64
	lastBusy atomic.Int64
	// unmerged counts fetched chunks not merged yet.
	unmerged atomic.Int64
	// flushAll asks every partition to flush what it holds (a batch run
	// that went idle makes its positions durable so the group drains);
	// flushNow tells the partitions at once when it is set.
	flushAll atomic.Bool
	flushNow broadcast
	// wake asks the offsets watcher of a batch run to look again now: a
	// round ended, or every fetched chunk was merged.
	wake chan struct{}
	// joined is set once the instance got its first assignment.
	joined atomic.Bool
	owned  *ownedSet
	health *health.Health
	// outcome is how a batch run ended, set by the offsets watcher.
	outcome atomic.Pointer[outcome]
	// rounds counts flush rounds running; a pipeline with one is not idle.
	rounds atomic.Int64
	// stopping is set once the pipeline itself stops (not a revoke), and
	// incomplete counts partitions whose final flush it had to abandon.
	stopping   atomic.Bool
	incomplete atomic.Int64

	hardCtx   context.Context
	hardStop  context.CancelFunc
	startTime time.Time
}

// New builds a pipeline. reg may be nil.
func New(cfg Config, deps Deps, logger *slog.Logger, reg prometheus.Registerer) (*Pipeline, error) {
	cfg.Defaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if deps.Sink == nil {
		return nil, errors.New("pipeline: no sink")
	}
	src := deps.Source
	kafkaSrc, _ := src.(*kafka.Source)
	if src == nil {
		var err error
		if kafkaSrc, err = kafka.New(cfg.Source, logger.With("stage", "source")); err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
		src = kafkaSrc
	}
	mem := newMemoryBudget(&cfg)
	// The pooled share of the budget: a quarter for fetch message arrays,
	// a quarter for the parse workers' emptied chunk blocks, an eighth for
	// the file buffers of finished writes, the rest for emptied batch
	// segments, which may also keep what the batches leave unused of
	// theirs (see resizePool).
	pooled := poolShare(mem.limit)
	arrays := newArrayPool(pooled / 4)
	cfg.Parse.FreeBlockBytes = max(pooled/4, 1)
	blockShare := pooled - pooled/4 - pooled/4 - pooled/8
	pool, err := parse.NewPool(cfg.Parse, deps.Enricher, logger.With("stage", "parse"))
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	enc, err := encode.New(cfg.Encode)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	dlq := deps.DeadLetters
	if dlq == nil {
		dlq = deadletter.NewSinkWriter(deps.Sink, "_dead_letters")
	}
	hardCtx, hardStop := context.WithCancel(context.Background())
	p := &Pipeline{
		cfg: cfg, logger: logger, source: src, pool: pool, output: output.NewParquet(enc, deps.Sink, cfg.FlowLogID),
		sink: deps.Sink, dlq: dlq, mem: mem,
		hardCtx: hardCtx, hardStop: hardStop,
		owned: newOwnedSet(), health: deps.Health, kafka: kafkaSrc,
		wake: make(chan struct{}, 1),
	}
	if p.health == nil {
		p.health = NewHealth()
		p.health.Set(health.Sink, "") // the caller checked it, or it needs none
	}
	p.arrays, p.blockShare, p.blocks = arrays, blockShare, schema.NewBlockPool(blockShare)
	p.output.Mem = p.mem.addEncoding
	p.output.SetMaxIdle(pooled / 8)
	// Writers kept for reuse between files hold their buffers: at most a
	// 32nd of the budget's worth is kept, and counted for the whole run.
	enc.SetMaxIdle(int(min(int64(runtime.GOMAXPROCS(0)), p.mem.limit/32/encode.IdleWriterBytes)))
	p.mem.addEncoding(enc.IdleBytes())
	p.metrics = newMetrics(reg, pool, p.mem.batchBytes)
	logger.Info("memory budget", "memory_limit", cfg.MemoryLimit, "counted", p.mem.limit, "fetch", p.mem.fetchLimit, "batches", p.mem.batchLimit)
	p.observe = newObserved(reg, p)
	if kafkaSrc != nil {
		kafkaSrc.SetHooks(kafka.Hooks{Assigned: p.assignedHook, JoinFailed: p.joinFailedHook})
	}
	p.reg = reg
	if kafkaSrc != nil { // sealing decides from the group's checkpoints and the topic's end offsets
		if err := p.newSealer(deps.Sink, deps.DeadLetters == nil); err != nil {
			return nil, fmt.Errorf("seal: %w", err)
		}
	}
	return p, nil
}

// Abort turns a running soft stop into a hard one, or stops a Run that had
// none yet: flushes in progress are abandoned, their records are re-read
// after a restart, and Run returns ErrIncomplete if any partition held
// unflushed records. The stop is marked as the pipeline's own before the
// rounds are cancelled, so a cancelled round never reads as a failing sink.
func (p *Pipeline) Abort() {
	p.stopping.Store(true)
	p.hardStop()
}

// Stats is a snapshot of the pipeline's counters.
type Stats struct {
	Records, Rows, DeadLetters, Skipped, Control, Messages, Bytes int64
	Files, FileBytes, Rounds                                      int64
	DeadByReason                                                  map[string]int64
}

// Stats returns the counters. Records = Rows + DeadLetters + Skipped once
// every batch is flushed.
func (p *Pipeline) Stats() Stats {
	m := p.metrics
	return Stats{Records: m.parse.Records(), Rows: m.output.Rows(), DeadLetters: m.dead.Records(), Skipped: m.parse.Skipped(),
		Control: m.parse.Control(), Messages: m.source.Messages(), Bytes: m.source.Bytes(), Files: m.output.Files(),
		FileBytes: m.output.FileBytes(), Rounds: m.rounds.Load(), DeadByReason: m.dead.ByReason()}
}

// Run consumes until ctx ends (a soft stop: flush, commit, return nil), a
// permanent error occurs, or, with ExitWhenIdle, the group has drained the
// topic (nil) or cannot within DrainTimeout (ErrNotDrained,
// kafka.ErrUnreachable).
func (p *Pipeline) Run(ctx context.Context) error {
	defer p.hardStop()
	if p.kafka != nil { // the owner record ties a topic to a consumer group
		p.health.Setf(health.Sink, "checking the owner record %s in %s (retrying while it fails; see the logs)", ownerKey(p.cfg.Source.Topic), p.sink)
		if err := p.claimSink(ctx); err != nil {
			p.health.Setf(health.Sink, "%v", err)
			return err
		}
		p.health.Set(health.Sink, "")
		p.logger.Info("sink owner checked", "topic", p.cfg.Source.Topic, "group", p.cfg.Source.Group, "record", ownerKey(p.cfg.Source.Topic))
	}
	p.startTime = time.Now()
	p.lastData.Store(p.startTime.UnixNano())
	p.observe.lastDurable.Store(p.startTime.UnixNano())
	if p.kafka != nil { // the broker connections' read buffers, at most
		p.mem.addEncoding(kafka.ReadBufferBytes)
		defer p.mem.addEncoding(-kafka.ReadBufferBytes)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopOnAbort := context.AfterFunc(p.hardCtx, cancel) // a hard stop is a stop
	defer stopOnAbort()
	if p.kafka == nil {
		p.health.Set(health.Kafka, "") // another source: no broker to wait for
	} else if err := p.connect(runCtx); err != nil {
		if ctx.Err() != nil {
			p.logSummary(outcomeStopped())
			return nil
		}
		o := outcomeFailed(err)
		p.logSummary(o)
		return err
	}
	poolCtx, stopPool := context.WithCancel(context.Background())
	g := new(errgroup.Group)
	g.Go(func() error { return p.pool.Run(poolCtx) })
	watchCtx, stopWatch := context.WithCancel(runCtx)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		if p.kafka != nil { // lag and drain watching are the consumer group's
			p.watchOffsets(watchCtx, cancel)
		}
	}()
	if p.cfg.ProgressInterval > 0 {
		go p.progressLoop(runCtx)
	}
	sealCtx, stopSeal := context.WithCancel(runCtx)
	sealDone := make(chan struct{})
	if p.sealer != nil {
		go func() { defer close(sealDone); p.sealer.Run(sealCtx) }()
	} else {
		close(sealDone)
	}
	stopAfter := context.AfterFunc(runCtx, func() { p.stopping.Store(true) })
	defer stopAfter()
	err := p.source.RunStreams(runCtx, p.handle)
	stopWatch()
	<-watchDone
	stopPool()
	_ = g.Wait()
	if n := p.incomplete.Load(); err == nil && n > 0 {
		err = fmt.Errorf("%w: %d partitions could not flush before the stop deadline; their records will be re-read on the next start", ErrIncomplete, n)
	}
	o := p.outcome.Load()
	switch {
	case err != nil:
		o = outcomeFailed(err)
	case o == nil:
		o = outcomeStopped()
	case o.err != nil:
		err = o.err
	}
	stopSeal() // the final pass runs alone
	<-sealDone
	if err == nil {
		// Before the summary, which stays the last line.
		if err = p.finalSeal(ctx); err != nil {
			o = outcomeFailed(err)
		}
	}
	p.logSummary(o)
	return err
}

// ErrIncomplete is returned by Run when the final flush of some partition
// did not finish (the sink was failing): nothing is lost, but the output is
// not complete and the next start re-reads those records.
var ErrIncomplete = errors.New("stopped with unflushed records")

// stopTimeout is how long a partition may work after its generation ended.
func (p *Pipeline) stopTimeout() time.Duration {
	if f := p.source.Fence(); f > 0 {
		return min(p.cfg.StopTimeout, f)
	}
	return p.cfg.StopTimeout
}

// overBudget reports that batches must flush: the memory budget counts
// the parse workers' decode buffers with the batches.
func (p *Pipeline) overBudget() bool { return p.mem.over(p.pool.DecodeBufferBytes()) }

// MemoryBudget is the bytes the pipeline lets what it holds take (the
// memory limit less what the rest of the process takes).
func (p *Pipeline) MemoryBudget() int64 { return p.mem.limit }

// MemoryUsed is the bytes counted against MemoryBudget now: fetched,
// batched and encoding. Emptied blocks and message arrays kept for reuse
// (MemoryPooled) have a share of the budget of their own.
func (p *Pipeline) MemoryUsed() int64 { return p.mem.used() }

// MemoryPooled is the bytes of emptied blocks (batch segments and chunk
// blocks), fetch message arrays and file buffers kept for reuse.
func (p *Pipeline) MemoryPooled() int64 {
	return p.blocks.Bytes() + p.arrays.Bytes() + p.pool.FreeBlockBytes() + p.output.IdleBytes()
}

// Stalled reports that reading waits for memory to be freed by flushes: the
// pipeline is busy, not idle.
func (p *Pipeline) Stalled() bool { return p.mem.stalled() }

func (p *Pipeline) progressLoop(ctx context.Context) {
	t := time.NewTicker(p.cfg.ProgressInterval)
	defer t.Stop()
	last, lastT := int64(0), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s := p.Stats()
			rate := float64(s.Records-last) / now.Sub(lastT).Seconds()
			last, lastT = s.Records, now
			p.logger.Info("progress", "records_in", s.Records, "rows_written", s.Rows, "dead_letters", s.DeadLetters,
				"skipped_durable", s.Skipped, "files", s.Files, "records_per_sec", int64(rate), "buffered_bytes", p.mem.batchBytes())
		}
	}
}

// logSummary logs the run's last line: its outcome and counts.
func (p *Pipeline) logSummary(o *outcome) {
	s := p.Stats()
	secs := time.Since(p.startTime).Seconds()
	args := []any{"outcome", o.name, "records_in", s.Records, "rows_written", s.Rows, "dead_letters", s.DeadLetters,
		"skipped_durable", s.Skipped, "control_messages", s.Control, "files", s.Files, "file_bytes", s.FileBytes,
		"messages", s.Messages, "seconds", fmt.Sprintf("%.2f", secs), "records_per_sec", int64(float64(s.Records) / max(secs, 1e-9))}
	for r, n := range s.DeadByReason {
		args = append(args, "dead_"+r, n)
	}
	if o.detail != "" {
		args = append(args, "detail", o.detail)
	}
	level := slog.LevelInfo
	if o.err != nil {
		level = slog.LevelError
	}
	p.logger.Log(context.Background(), level, "run finished", args...)
}
