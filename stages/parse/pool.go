package parse

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"flowlake/schema"
)

// Enricher fills fields a record lacks from outside knowledge (the ENI
// inventory). It must not allocate per record and must be safe for
// concurrent use. Values it sets must stay valid while the record is used.
type Enricher interface {
	Enrich(r *schema.Record)
}

// Config configures a Pool.
type Config struct {
	// Workers is the number of parsing goroutines; <= 0 means GOMAXPROCS.
	Workers int
	// Format is the format of topics without their own entry in Formats.
	Format *schema.Format
	// Formats maps a topic to its format.
	Formats map[string]*schema.Format
	// AllowNewerFields lets header lines name fields newer than v8.
	AllowNewerFields bool
	// Region places records whose format and interface give no region.
	Region string
	// Account places records whose format and envelope give no account.
	Account string
	// MaxLineBytes caps a line; longer lines are dead letters.
	MaxLineBytes int
	// MaxMessageBytes caps a message after decompression.
	MaxMessageBytes int64
	// Enrichment says which enrichment columns files gain.
	Enrichment schema.Enrichment
	// JSONFields names the field of a log shipper's JSON event that holds
	// the flow log line (dots descend into objects); the first one present
	// is used. Empty means DefaultJSONFields.
	JSONFields []string
	// FreeBlockBytes bounds the emptied chunk blocks kept for reuse;
	// default 16 MiB.
	FreeBlockBytes int64
	// MaxDeadPerMessage is how many dead letters one message keeps one by
	// one; the rest become one summary dead letter holding the whole raw
	// message (see DeadLetter.Records). <= 0 means DefaultMaxDeadPerMessage.
	MaxDeadPerMessage int
	// MaxAhead and MaxBehind bound a record's time around the processing
	// time; records outside are dead letters (time_out_of_range). <= 0
	// means DefaultMaxAhead and DefaultMaxBehind.
	MaxAhead, MaxBehind time.Duration
	// Now is the processing clock (tests); nil means time.Now.
	Now func() time.Time
}

// Defaults for the hostile-input limits.
const (
	DefaultMaxDeadPerMessage = 100
	DefaultMaxAhead          = 7 * 24 * time.Hour
	DefaultMaxBehind         = 10 * 365 * 24 * time.Hour
)

// Memory bounds of dead letters, checked while a chunk parses. A message
// keeps dead letters one by one until either limit of the message or the
// chunk is reached; the rest of it becomes one summary.
const (
	// maxDeadBytesPerMessage bounds the dead letters one message keeps
	// one by one (raw bytes and details).
	maxDeadBytesPerMessage = 1 << 20
	// maxDeadBytesPerChunk bounds the dead letters a chunk keeps one by
	// one; past it every message with rejects gets only its summary, so a
	// chunk's dead letters stay within this plus its own input.
	maxDeadBytesPerChunk = 4 << 20
)

// The shared types of the data path live in schema; these names keep
// the parse stage's API.
type (
	Message    = schema.Message
	DeadLetter = schema.DeadLetter
	GroupKey   = schema.GroupKey
	SkipKey    = schema.SkipKey
)

// SkipKeyOf returns the restart-stable form of k.
func SkipKeyOf(k GroupKey) SkipKey { return schema.SkipKeyOf(k) }

// Group is the rows of a chunk that share a key.
type Group struct {
	Key   GroupKey
	Block *schema.Block
}

// Stats counts what a chunk held.
type Stats struct {
	Messages int64
	Bytes    int64
	// Records counts every record seen: rows plus dead letters.
	Records int64
	Rows    int64
	// Dead counts rejected records (a summary dead letter counts for the
	// records it stands for), not dead-letter entries.
	Dead int64
	// DeadBytes is the memory the chunk's dead letters hold.
	DeadBytes int64
	// Empty counts blank lines and empty CloudWatch events: they hold no
	// record and are neither rows nor dead letters.
	Empty int64
	// Skipped counts records dropped because a file written before a
	// restart already holds them.
	Skipped int64
	// Control counts CloudWatch control messages, which hold no record.
	Control int64
	// MaxTime is the largest record time of the chunk (Unix seconds).
	MaxTime int64
}

// Add sums s and o.
func (s *Stats) Add(o Stats) {
	s.Messages += o.Messages
	s.Bytes += o.Bytes
	s.Records += o.Records
	s.Rows += o.Rows
	s.Dead += o.Dead
	s.Skipped += o.Skipped
	s.Control += o.Control
	s.DeadBytes += o.DeadBytes
	s.Empty += o.Empty
	s.MaxTime = max(s.MaxTime, o.MaxTime)
}

// Skip lists what is already durable past the commit position after a
// restart: rows of a key at or before its position, and dead letters at or
// before Dead. A Skip is read-only once handed to chunks.
type Skip struct {
	Groups  map[SkipKey]schema.Pos
	Dead    schema.Pos
	HasDead bool
}

// Chunk is consecutive messages of one partition and, once done, their rows.
type Chunk struct {
	Topic     string
	Partition int
	Msgs      []Message
	// Skip, when set, drops records that are already durable.
	Skip *Skip
	// Account and Region, when set, place records that carry none (in
	// place of Config.Account and Config.Region): a source that knows them,
	// like an archive object's path, sets them.
	Account, Region string

	Groups []Group
	Dead   []DeadLetter
	Stats  Stats
	err    error
	done   chan struct{}
}

// NewChunk returns an empty chunk for a partition.
func NewChunk(topic string, partition int, msgs []Message) *Chunk {
	return &Chunk{Topic: topic, Partition: partition, Msgs: msgs, done: make(chan struct{})}
}

// Wait blocks until the chunk is parsed or ctx ends.
func (c *Chunk) Wait(ctx context.Context) error {
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Pool parses chunks on a fixed number of goroutines.
type Pool struct {
	cfg      Config
	enricher Enricher
	logger   *slog.Logger
	jobs     chan *Chunk
	layouts  sync.Map // *schema.Format -> *schema.Layout
	headers  sync.Map // header string -> *schema.Format

	formatsMu   sync.Mutex
	formats     map[string]*schema.Format // canonical format text -> format
	headerCount int
	// free keeps the blocks of merged chunks for the next chunks.
	free *schema.BlockPool
	wg   sync.WaitGroup
	// headerBytes is the header text the shared cache holds.
	headerBytes int
	// decodeBytes is the memory of every worker's decode buffers
	// (gunzip and base64), at most one large buffer per worker.
	decodeBytes atomic.Int64
}

// CheckJSONField reports whether f can name a shipper event's field.
func CheckJSONField(f string) error {
	if f == "" || strings.HasPrefix(f, ".") || strings.HasSuffix(f, ".") || strings.Contains(f, "..") {
		return fmt.Errorf("JSON field %q: want a name or a dotted path", f)
	}
	return nil
}

// DecodeBufferBytes is the memory the workers' decode buffers hold now:
// a memory budget counts it.
func (p *Pool) DecodeBufferBytes() int64 { return p.decodeBytes.Load() }

// FreeBlockBytes is the memory the emptied chunk blocks kept for reuse
// hold now (at most Config.FreeBlockBytes).
func (p *Pool) FreeBlockBytes() int64 { return p.free.Bytes() }

// maxLine is the line limit, header lines included.
func (p *Pool) maxLine() int {
	if p.cfg.MaxLineBytes <= 0 {
		return schema.DefaultMaxLineBytes
	}
	return p.cfg.MaxLineBytes
}

// maxSharedHeaderBytes bounds the header text the shared cache keeps.
const maxSharedHeaderBytes = 1 << 20

// NewPool validates cfg and returns a pool; Run starts its workers.
func NewPool(cfg Config, enricher Enricher, logger *slog.Logger) (*Pool, error) {
	if cfg.Format == nil {
		cfg.Format = schema.DefaultFormat
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if !schema.ValidRegion([]byte(cfg.Region)) {
		return nil, fmt.Errorf("region %q is not a region name", cfg.Region)
	}
	if cfg.FreeBlockBytes <= 0 {
		cfg.FreeBlockBytes = 16 << 20
	}
	if cfg.MaxDeadPerMessage <= 0 {
		cfg.MaxDeadPerMessage = DefaultMaxDeadPerMessage
	}
	if cfg.MaxAhead <= 0 {
		cfg.MaxAhead = DefaultMaxAhead
	}
	if cfg.MaxBehind <= 0 {
		cfg.MaxBehind = DefaultMaxBehind
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Account == "" {
		cfg.Account = "unknown"
	}
	if len(cfg.JSONFields) == 0 {
		cfg.JSONFields = DefaultJSONFields
	}
	for _, f := range cfg.JSONFields {
		if err := CheckJSONField(f); err != nil {
			return nil, err
		}
	}
	if !schema.ValidAccount([]byte(cfg.Account)) {
		return nil, fmt.Errorf("account %q is not a 12-digit account id", cfg.Account)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Pool{cfg: cfg, enricher: enricher, logger: logger, jobs: make(chan *Chunk, cfg.Workers*2), formats: make(map[string]*schema.Format), free: schema.NewBlockPool(cfg.FreeBlockBytes)}
	// Configured formats are canonical: a header naming the same fields
	// maps to the same *Format, hence the same layout and batches.
	p.formats[cfg.Format.String()] = cfg.Format
	p.cfg.Formats = make(map[string]*schema.Format, len(cfg.Formats))
	for topic, f := range cfg.Formats {
		if canon, ok := p.formats[f.String()]; ok {
			f = canon
		}
		p.formats[f.String()] = f
		p.cfg.Formats[topic] = f
	}
	return p, nil
}

// Run runs the workers until ctx ends.
func (p *Pool) Run(ctx context.Context) error {
	for i := 0; i < p.cfg.Workers; i++ {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			w := p.newWorker()
			for {
				select {
				case <-ctx.Done():
					return
				case c := <-p.jobs:
					w.process(c)
					close(c.done)
				}
			}
		}()
	}
	<-ctx.Done()
	p.wg.Wait()
	return nil
}

// Submit queues c for parsing. It blocks while every worker is busy.
func (p *Pool) Submit(ctx context.Context, c *Chunk) error {
	select {
	case p.jobs <- c:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Release returns a chunk's blocks for reuse once they were merged.
func (p *Pool) Release(c *Chunk) {
	for _, g := range c.Groups {
		p.putBlock(g.Block)
	}
	c.Groups = nil
}

func (p *Pool) getBlock(l *schema.Layout) *schema.Block { return p.free.Get(l) }

func (p *Pool) putBlock(b *schema.Block) { p.free.Put(b) }

// Layout returns the output layout of records of format f.
func (p *Pool) Layout(f *schema.Format) *schema.Layout {
	if l, ok := p.layouts.Load(f); ok {
		return l.(*schema.Layout)
	}
	l, _ := p.layouts.LoadOrStore(f, schema.NewLayout(f, p.cfg.Enrichment))
	return l.(*schema.Layout)
}

func (p *Pool) topicFormat(topic string) *schema.Format {
	if f, ok := p.cfg.Formats[topic]; ok {
		return f
	}
	return p.cfg.Format
}

func (p *Pool) headerFormat(line []byte) (*schema.Format, error) {
	if f, ok := p.headers.Load(string(line)); ok {
		return f.(*schema.Format), nil
	}
	f, err := schema.ParseHeader(line)
	if err != nil {
		return nil, err
	}
	for _, id := range f.Fields() {
		if schema.Fields[id].Newer && !p.cfg.AllowNewerFields {
			return nil, fmt.Errorf("%w: header field %q is newer than version 8; enable newer fields to use it", schema.ErrFormat, schema.Fields[id].Token)
		}
	}
	// One *Format per distinct field list, however the header was spaced,
	// so that records of one format share one layout and one batch per key.
	p.formatsMu.Lock()
	defer p.formatsMu.Unlock()
	canon, ok := p.formats[f.String()]
	if !ok {
		if len(p.formats) >= maxHeaderFormats {
			return nil, fmt.Errorf("%w: more than %d distinct header formats", schema.ErrFormat, maxHeaderFormats)
		}
		canon = f
		p.formats[f.String()] = f
	}
	if p.headerCount < maxHeaderFormats*4 && p.headerBytes+len(line) <= maxSharedHeaderBytes {
		p.headerCount++
		p.headerBytes += len(line)
		p.headers.Store(string(line), canon)
	}
	return canon, nil
}

// maxHeaderFormats bounds the formats header lines can introduce: each one
// is a layout with batches of its own.
const maxHeaderFormats = 256
