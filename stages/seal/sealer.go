package seal

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"flowlake/schema"
	"flowlake/stages/sink"
)

// Config configures sealing.
type Config struct {
	// Lateness is how long after an hour's end, by the partitions'
	// watermarks, records of the hour are still expected.
	Lateness time.Duration
	// Interval is how often a pass runs when no round asks for one.
	Interval time.Duration
	// MinGap is the least time between two passes.
	MinGap time.Duration
	// DeadLetterPrefix is where dead letters are stored in the same store
	// ("" when they go elsewhere, e.g. a Kafka topic).
	DeadLetterPrefix string
	// DeadLetterAttribution says in manifests how dead letters are
	// attributed to an hour (default: by Kafka message time).
	DeadLetterAttribution string
	// Concurrency bounds hours sealed in parallel.
	Concurrency int
	// ReadBuffer is the size of the buffer each hour sealed at once
	// hashes files with (default 8 MiB); on S3 each read is one ranged
	// GET. See Sealer.BufferBytes.
	ReadBuffer int
}

// Defaults are the default settings.
var Defaults = Config{Lateness: 15 * time.Minute, Interval: time.Minute, MinGap: 5 * time.Second, Concurrency: 4}

// StateFunc returns the state of every partition of the topic, read from
// the checkpoints in the store and Kafka's end offsets, in that order.
type StateFunc func(ctx context.Context) ([]PartitionState, error)

// Planner decides for a finite input (a backfill), which knows every
// object it reads, instead of the partitions' watermarks.
type Planner interface {
	// Decide returns the decision of a pass: the streams' states (their
	// checkpoints, read from the store) and Decision.Ready.
	Decide(ctx context.Context, now time.Time) (Decision, error)
	// Passed is told what a pass made of a decision.
	Passed(ctx context.Context, d Decision, r Result)
}

// Sealer seals hours of a lake.
type Sealer struct {
	cfg    Config
	store  sink.Store
	decide func(ctx context.Context) (Decision, error)
	passed func(ctx context.Context, d Decision, r Result)
	// foreign reads other writers' progress records (see SetForeign).
	foreign ForeignReader
	logger  *slog.Logger
	m       *metrics
	// Now is the clock (tests replace it).
	Now  func() time.Time
	who  string
	bufs *bufferPool
	kick chan struct{}
	// now asks for a pass without waiting out MinGap (see KickNow).
	now chan struct{}

	sealedTotal, revisedTotal atomic.Int64
	mu                        sync.Mutex
	last                      Result
}

// New returns a sealer that decides from the partitions' states. A nil
// logger discards logs; reg may be nil.
func New(cfg Config, store sink.Store, states StateFunc, logger *slog.Logger, reg prometheus.Registerer) (*Sealer, error) {
	s, err := newSealer(cfg, store, logger, reg)
	if err != nil {
		return nil, err
	}
	s.decide = func(ctx context.Context) (Decision, error) {
		st, err := states(ctx)
		if err != nil {
			return Decision{}, fmt.Errorf("read partition states: %w", err)
		}
		return Decide(st, int64(s.cfg.Lateness/time.Second), s.Now().Unix()), nil
	}
	return s, nil
}

// NewPlanned returns a sealer that decides with p (backfill).
func NewPlanned(cfg Config, store sink.Store, p Planner, logger *slog.Logger, reg prometheus.Registerer) (*Sealer, error) {
	s, err := newSealer(cfg, store, logger, reg)
	if err != nil {
		return nil, err
	}
	s.decide = func(ctx context.Context) (Decision, error) { return p.Decide(ctx, s.Now()) }
	s.passed = p.Passed
	return s, nil
}

func newSealer(cfg Config, store sink.Store, logger *slog.Logger, reg prometheus.Registerer) (*Sealer, error) {
	if cfg.Lateness < 0 {
		return nil, errors.New("seal lateness must not be negative")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = Defaults.Interval
	}
	if cfg.MinGap <= 0 {
		cfg.MinGap = Defaults.MinGap
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = Defaults.Concurrency
	}
	if cfg.ReadBuffer <= 0 {
		cfg.ReadBuffer = hashBuffer
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	if cfg.DeadLetterAttribution == "" {
		cfg.DeadLetterAttribution = "Kafka message time of the hour, all accounts (a dead letter has no trusted account)"
	}
	host, _ := os.Hostname()
	return &Sealer{cfg: cfg, store: store, logger: logger, m: m, Now: time.Now,
		who: host + "/" + strconv.Itoa(os.Getpid()), bufs: newBufferPool(cfg.ReadBuffer), kick: make(chan struct{}, 1), now: make(chan struct{}, 1)}, nil
}

// BufferBytes is the most memory passes hold in read buffers at once (one
// per hour sealed at once), for a memory budget to count.
func (s *Sealer) BufferBytes() int64 { return int64(s.cfg.Concurrency) * int64(s.cfg.ReadBuffer) }

// Kick asks for a pass soon (after a flush round); it never blocks.
func (s *Sealer) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// KickNow asks for a pass as soon as the one running (if any) ends,
// without waiting out MinGap. It is for the moments that complete hours
// at once, such as every partition of the topic becoming durable up to its
// end, which happen rarely; a flush round uses Kick. It never blocks.
func (s *Sealer) KickNow() {
	select {
	case s.now <- struct{}{}:
	default:
	}
}

// Run runs passes when kicked or every Interval until ctx ends, at most
// one per MinGap unless KickNow asks. A failed pass is logged and retried
// later: sealing never stops ingestion.
func (s *Sealer) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	urgent := false
	for {
		if !urgent {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-s.kick:
			case <-s.now:
			}
		}
		if _, err := s.Pass(ctx); err != nil && ctx.Err() == nil {
			s.logger.Warn("seal pass failed; retrying later", "err", err)
		}
		gap := time.NewTimer(s.cfg.MinGap)
		select {
		case <-ctx.Done():
			gap.Stop()
			return
		case <-gap.C:
			urgent = false
		case <-s.now:
			gap.Stop()
			urgent = true
		}
	}
}

// Result sums up a pass.
type Result struct {
	// Sealed counts hours this pass sealed (revision 1), Revised later
	// revisions it wrote, Postponed sealable hours it had to leave for
	// later (files not final yet, or a listed file missing).
	Sealed, Revised, Postponed int
	// Open is the number of marked hours not sealable yet, OpenBy the
	// same by why (Decision.Ready's reasons, or "watermark").
	Open   int
	OpenBy map[string]int
	// Current are the hours whose latest manifest lists every file of
	// their folder after the pass (sealed, revised or already current).
	Current []schema.PartitionKey
}

// Done is what a sealer did since it started.
type Done struct {
	// Sealed counts revisions 1 it wrote, Revised later revisions.
	Sealed, Revised int64
	// Last is the last pass's result.
	Last Result
}

// Done returns what the sealer did so far.
func (s *Sealer) Done() Done {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Done{Sealed: s.sealedTotal.Load(), Revised: s.revisedTotal.Load(), Last: s.last}
}

// Pass decides from the current states and seals every sealable hour.
func (s *Sealer) Pass(ctx context.Context) (Result, error) {
	d, err := s.decide(ctx)
	if err != nil {
		return Result{}, err
	}
	d = d.indexed()
	keys, openBy := d.candidates()
	open := 0
	for _, n := range openBy {
		open += n
	}
	var (
		res  = Result{Open: open, OpenBy: openBy}
		errs = make([]error, len(keys))
		outs = make([]outcome, len(keys))
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.Concurrency)
	var load ForeignFunc
	if s.foreign != nil {
		load = s.foreign()
	}
	fs := newForeignStates(load)
	for i, k := range keys {
		g.Go(func() error {
			outs[i], errs[i] = s.sealHour(gctx, k, d, fs)
			return nil
		})
	}
	_ = g.Wait()
	for i, o := range outs {
		switch {
		case o == outcomeSealed:
			res.Sealed++
		case o == outcomeRevised:
			res.Revised++
		case o == outcomePostponed:
			res.Postponed++
		}
		if o != outcomePostponed && errs[i] == nil {
			res.Current = append(res.Current, keys[i])
		}
	}
	s.m.open.Set(float64(open + res.Postponed))
	s.sealedTotal.Add(int64(res.Sealed))
	s.revisedTotal.Add(int64(res.Revised))
	s.mu.Lock()
	s.last = res
	s.mu.Unlock()
	if res.Sealed+res.Revised > 0 {
		s.logger.Info("seal pass", "sealed", res.Sealed, "revised", res.Revised, "postponed", res.Postponed, "open", open)
	}
	if s.passed != nil {
		s.passed(ctx, d, res)
	}
	return res, errors.Join(errs...)
}

type outcome int

const (
	outcomeCurrent outcome = iota
	outcomeSealed
	outcomeRevised
	outcomePostponed
)

// sealHour writes the next revision of k's manifest if the folder holds
// final files that the latest revision does not list. A file is final once
// its stream's progress record covers it: the decision's state, or for
// another writer's stream its own record, read through fs.
func (s *Sealer) sealHour(ctx context.Context, k schema.PartitionKey, d Decision, fs *foreignStates) (outcome, error) {
	folder := HourFolder(k)
	log := s.logger.With("hour", folder)
	for range 3 {
		latest, err := Latest(ctx, s.store, folder)
		if err != nil {
			return outcomePostponed, err
		}
		objs, err := s.store.List(ctx, folder+"/")
		if err != nil {
			return outcomePostponed, fmt.Errorf("list %s: %w", folder, err)
		}
		listed := map[string]bool{}
		if latest != nil {
			for _, f := range latest.Files {
				listed[f.Name] = true
			}
		}
		present := map[string]bool{}
		var added []Described
		for _, o := range objs {
			dir, name := SplitKey(o.Key)
			if dir != folder || IsControlName(name) {
				continue
			}
			present[name] = true
			if listed[name] {
				continue
			}
			buf := s.bufs.get()
			desc, err := describe(ctx, s.store, o.Key, *buf)
			s.bufs.put(buf)
			if err != nil {
				return outcomePostponed, err
			}
			src, ok := source(desc.Meta)
			if !ok {
				log.Warn("file without flowlake metadata in an hour folder; it is not listed in the manifest", "file", name)
				continue
			}
			// Written but not covered by its stream's progress record yet:
			// a replay may rewrite it. The decision holds this writer's
			// streams; another writer's stream (a backfill's folder in an
			// hour `run` writes, or the reverse) has its own record.
			own := d.State(src.Topic, src.Partition)
			final := own != nil && own.Covers(k, src.LastOffset)
			if own == nil {
				final, err = fs.covers(ctx, src.Topic, src.Partition, k, src.LastOffset)
				if err != nil {
					return outcomePostponed, fmt.Errorf("read the progress of %s partition %d, which wrote %s/%s: %w", src.Topic, src.Partition, folder, name, err)
				}
			}
			if !final {
				log.Debug("file not final yet; seal postponed", "file", name, "topic", src.Topic, "partition", src.Partition, "other_writer", own == nil)
				return outcomePostponed, nil
			}
			src.objects(desc.Meta)
			desc.File.Source = src
			added = append(added, desc)
		}
		if latest != nil {
			for name := range listed {
				if !present[name] {
					log.Error("a file the manifest lists is missing; not revising the manifest (run flowlake verify)", "file", name, "revision", latest.Revision)
					return outcomePostponed, nil
				}
			}
		}
		if len(added) == 0 {
			if latest != nil {
				// Finish what a writer that stopped after the revision
				// left undone: its ledger copy and the pointer.
				return outcomeCurrent, Finish(ctx, s.store, folder, latest)
			}
			return outcomeCurrent, nil
		}
		m, err := s.build(ctx, k, latest, added, d)
		if err != nil {
			return outcomePostponed, err
		}
		created, err := Publish(ctx, s.store, folder, m)
		if errors.Is(err, sink.ErrExists) {
			continue // another instance wrote this revision: look again
		}
		if !created {
			return outcomePostponed, fmt.Errorf("publish manifest of %s: %w", folder, err)
		}
		if err != nil {
			err = fmt.Errorf("manifest of %s revision %d written; its ledger copy or pointer is left for the next pass: %w", folder, m.Revision, err)
		}
		if m.Revision == 1 {
			s.m.sealed.Inc()
			s.m.delay.Observe(max(0, float64(s.Now().Unix()-(k.Hour+3600))))
			log.Info("hour sealed", "rows", m.Rows, "files", len(m.Files))
			return outcomeSealed, err
		}
		s.m.late.Add(float64(m.AddedRows))
		log.Info("late records: manifest revised", "revision", m.Revision, "late_rows", m.AddedRows, "files", len(m.Added))
		return outcomeRevised, err
	}
	return outcomePostponed, nil
}

func (s *Sealer) build(ctx context.Context, k schema.PartitionKey, prev *Manifest, added []Described, d Decision) (*Manifest, error) {
	now := s.Now().UTC().Format(time.RFC3339Nano)
	m := &Manifest{Version: 1, Kind: KindLake, Revision: 1, AccountID: k.Account, Region: k.Region,
		Hour: HourString(k.Hour), Folder: HourFolder(k), SealedAt: now, FirstSealedAt: now, SealedBy: s.who}
	if prev != nil {
		m.Revision = prev.Revision + 1
		m.FirstSealedAt = prev.FirstSealedAt
		m.Files = append(m.Files, prev.Files...)
		m.Totals.LateRows = prev.Totals.LateRows
		b, err := prev.Encode()
		if err != nil {
			return nil, err
		}
		m.Previous = &RevisionRef{Revision: prev.Revision, SHA256: SHA256(b)}
	}
	sort.Slice(added, func(i, j int) bool { return added[i].File.Name < added[j].File.Name })
	for _, a := range added {
		f := a.File
		f.Revision = m.Revision
		m.Files = append(m.Files, f)
		m.Added = append(m.Added, f.Name)
		m.AddedRows += f.Rows
	}
	if m.Revision > 1 {
		m.Totals.LateRows += m.AddedRows
	}
	sources := map[[2]any]*Source{}
	for _, f := range m.Files {
		m.Totals.Files++
		m.Totals.Rows += f.Rows
		m.Totals.Bytes += f.Bytes
		if f.Source == nil {
			continue
		}
		key := [2]any{f.Source.Topic, f.Source.Partition}
		src, ok := sources[key]
		if !ok {
			src = &Source{Topic: f.Source.Topic, Partition: f.Source.Partition, FirstOffset: f.Source.FirstOffset, LastOffset: f.Source.LastOffset}
			src.Objects = f.Source.Objects
			sources[key] = src
		}
		src.widen(f.Source)
		src.Files++
		src.Rows += f.Rows
	}
	m.Rows = m.Totals.Rows
	for _, src := range sources {
		m.Sources = append(m.Sources, *src)
	}
	sort.Slice(m.Sources, func(i, j int) bool {
		if m.Sources[i].Topic != m.Sources[j].Topic {
			return m.Sources[i].Topic < m.Sources[j].Topic
		}
		return m.Sources[i].Partition < m.Sources[j].Partition
	})
	if d.Mark != nil {
		m.Watermark = d.Mark(k)
	} else {
		m.Watermark = &Watermark{LatenessSeconds: d.Lateness}
		for _, st := range d.States {
			pm := PartitionMark{Topic: st.Topic, Partition: st.Partition, NextOffset: st.Next, EndOffset: st.End, CaughtUp: st.CaughtUp()}
			if st.Watermark > 0 {
				pm.Watermark = time.Unix(st.Watermark, 0).UTC().Format(time.RFC3339)
			}
			m.Watermark.Partitions = append(m.Watermark.Partitions, pm)
		}
	}
	if s.cfg.DeadLetterPrefix != "" {
		dl, err := s.deadLetters(ctx, k.Hour)
		if err != nil {
			return nil, err
		}
		m.DeadLetters = dl
	}
	return m, nil
}

// deadLetters counts the dead letters stored for the hour (JSON Lines
// objects under the dead-letter prefix, by Kafka message time, or for a
// backfill by the time in the archive object's name).
func (s *Sealer) deadLetters(ctx context.Context, hour int64) (*DeadLetters, error) {
	t := time.Unix(hour, 0).UTC()
	dir := fmt.Sprintf("%s/year=%04d/month=%02d/day=%02d/hour=%02d/", s.cfg.DeadLetterPrefix, t.Year(), int(t.Month()), t.Day(), t.Hour())
	objs, err := s.store.List(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("list dead letters %s: %w", dir, err)
	}
	dl := &DeadLetters{Attribution: s.cfg.DeadLetterAttribution, Objects: []string{}}
	for _, o := range objs {
		b, err := s.store.Get(ctx, o.Key)
		if err != nil {
			return nil, fmt.Errorf("read dead letters %s: %w", o.Key, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 64<<10), len(b)+1)
		for sc.Scan() {
			if len(bytes.TrimSpace(sc.Bytes())) > 0 {
				dl.Count++
			}
		}
		dl.Objects = append(dl.Objects, o.Key)
	}
	return dl, nil
}

type metrics struct {
	sealed prometheus.Counter
	delay  prometheus.Histogram
	open   prometheus.Gauge
	late   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		sealed: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowlake_sealed_hours_total",
			Help: "Hours (account, region, hour) this process sealed: it wrote manifest revision 1."}),
		delay: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "flowlake_seal_delay_seconds",
			Help:    "Time from an hour's end to its seal, by the clock.",
			Buckets: []float64{300, 600, 900, 1200, 1800, 2700, 3600, 7200, 14400, 43200, 86400, 604800}}),
		open: prometheus.NewGauge(prometheus.GaugeOpts{Name: "flowlake_open_hours",
			Help: "Hours written that are not sealed yet, at the last seal pass."}),
		late: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowlake_late_records_total",
			Help: "Rows that arrived after their hour was sealed (listed by a later manifest revision)."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.sealed, m.delay, m.open, m.late} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register seal metrics: %w", err)
		}
	}
	return m, nil
}
