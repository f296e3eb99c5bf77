package batch

import (
	"sort"
	"time"

	"flowlake/schema"
	"flowlake/stages/parse"
)

// Config holds the flush limits. Every limit is per batch, that is per
// partition, account, region, hour and layout.
type Config struct {
	// MaxRows flushes a batch when it holds this many rows: it bounds the
	// rows per file.
	MaxRows int `yaml:"max_rows"`
	// MaxBytes flushes a batch when its rows use this many bytes in memory;
	// the file is several times smaller.
	MaxBytes int `yaml:"max_bytes"`
	// MaxAge flushes a batch this long after its first row arrived, so quiet
	// accounts still reach the lake.
	MaxAge time.Duration `yaml:"max_age"`
	// Grace keeps an hour's batch open this long after the hour ended, by
	// record time, to catch late records before the file is cut.
	Grace time.Duration `yaml:"grace"`
	// MaxDeadLetters flushes dead letters when this many are waiting.
	MaxDeadLetters int `yaml:"max_dead_letters"`
	// MaxDeadBytes flushes dead letters when they hold this much memory.
	MaxDeadBytes int `yaml:"max_dead_bytes"`
	// MaxRoundBatches bounds the files of one flush round, so that a stop
	// deadline cuts at most one round's work short and every round is
	// checkpointed: a final flush of a quarter of a million small batches
	// proceeds in durable steps instead of one that can never finish.
	MaxRoundBatches int `yaml:"max_round_files"`
	// WatermarkSupport is how many records must reach a time before the
	// batch clock (which closes hours) moves to it: one outlier never does.
	WatermarkSupport int `yaml:"watermark_support"`
}

// Defaults are the default limits: the one place they are set.
var Defaults = Config{MaxRows: 1_000_000, MaxBytes: 128 << 20, MaxAge: 5 * time.Minute, Grace: 10 * time.Minute, MaxDeadLetters: 10_000,
	MaxDeadBytes: 16 << 20, MaxRoundBatches: 1000, WatermarkSupport: DefaultWatermarkSupport}

// FillDefaults sets unset limits to Defaults.
func (c *Config) FillDefaults() {
	if c.MaxRows <= 0 {
		c.MaxRows = Defaults.MaxRows
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = Defaults.MaxBytes
	}
	if c.MaxAge <= 0 {
		c.MaxAge = Defaults.MaxAge
	}
	if c.Grace < 0 {
		c.Grace = 0
	}
	if c.MaxDeadLetters <= 0 {
		c.MaxDeadLetters = Defaults.MaxDeadLetters
	}
}

// Reason says why a batch was flushed (a metric label).
type Reason string

// Flush reasons.
const (
	ReasonRows     Reason = "rows"
	ReasonBytes    Reason = "bytes"
	ReasonAge      Reason = "age"
	ReasonHourOver Reason = "hour_over"
	ReasonMemory   Reason = "memory"
	ReasonStop     Reason = "stop"
)

// Batch is the open rows of one key.
type Batch struct {
	Key     parse.GroupKey
	Rows    *schema.Chain
	Created time.Time
	Reason  Reason
}

// SegmentBytes is the size of the blocks a batch's rows are kept in (see
// schema.Chain): large enough that a file's column chunks span few of
// them, small enough that the last, partly filled one of each batch wastes
// little of the memory budget.
const SegmentBytes = 64 << 10

// Batcher holds one partition's open batches. It is used by one goroutine.
type Batcher struct {
	// NewBlock, when set, returns empty blocks for the segments of
	// batches after their first (from a pool, say); their capacity counts
	// in Size from the start.
	NewBlock  func(*schema.Layout) *schema.Block
	cfg       Config
	open      map[parse.GroupKey]*Batch
	dead      []parse.DeadLetter
	deadSince time.Time
	deadBytes int
	size      int
	// next is the offset after the last message merged.
	next int64
	// clock is the event-time watermark that closes hours.
	clock *watermark
}

// New returns a batcher whose first message will be at offset next.
func New(cfg Config, next int64) *Batcher {
	if cfg.MaxDeadBytes <= 0 {
		cfg.MaxDeadBytes = Defaults.MaxDeadBytes
	}
	if cfg.MaxRoundBatches <= 0 {
		cfg.MaxRoundBatches = Defaults.MaxRoundBatches
	}
	return &Batcher{cfg: cfg, open: make(map[parse.GroupKey]*Batch), next: next, clock: newWatermark(cfg.WatermarkSupport)}
}

// EventTime is the batch clock: the latest record time (Unix seconds) that
// enough records reached (see Config.WatermarkSupport).
func (b *Batcher) EventTime() int64 { return b.clock.now() }

// Size is the bytes of memory the open batches and the waiting dead
// letters hold, slice capacity included.
func (b *Batcher) Size() int { return b.size }

// Open is the number of open batches.
func (b *Batcher) Open() int { return len(b.open) }

// Next is the offset after the last merged message.
func (b *Batcher) Next() int64 { return b.next }

// Add merges a parsed chunk whose last message is at offset last. It returns
// true when some batch reached its row or byte limit. The chunk's blocks can
// be released afterwards.
func (b *Batcher) Add(c *parse.Chunk, last int64, now time.Time) (full bool) {
	for _, g := range c.Groups {
		bt, ok := b.open[g.Key]
		if !ok {
			bt = &Batch{Key: g.Key, Created: now, Rows: schema.NewChain(g.Key.Layout, SegmentBytes, b.NewBlock)}
			b.open[g.Key] = bt
		}
		before := bt.Rows.Mem()
		bt.Rows.AppendBlock(g.Block)
		b.size += bt.Rows.Mem() - before
		if bt.Rows.Len() >= b.cfg.MaxRows || bt.Rows.Size() >= b.cfg.MaxBytes {
			full = true
		}
		b.clock.add(g.Key.Hour, g.Block.Len(), g.Block.MaxTime)
	}
	b.clock.advance()
	if len(c.Dead) > 0 {
		if len(b.dead) == 0 {
			b.deadSince = now
		}
		b.dead = append(b.dead, c.Dead...)
		b.deadBytes += int(c.Stats.DeadBytes)
		b.size += int(c.Stats.DeadBytes)
		if len(b.dead) >= b.cfg.MaxDeadLetters || b.deadBytes >= b.cfg.MaxDeadBytes {
			full = true
		}
	}
	b.next = last + 1
	return full
}

// Round is what one flush writes: batches and dead letters, and the commit
// position that holds once they are durable.
type Round struct {
	Batches []*Batch
	Dead    []parse.DeadLetter
	// Commit is the offset below which every record is durable once the
	// round is.
	Commit int64
	// Bytes is the memory the round's batches and dead letters use.
	Bytes int
	// More says batches that are due were left for the next round
	// (Config.MaxRoundBatches).
	More bool
	// Watermark is the event time (Unix seconds) every record below Commit
	// has reached once the round is durable (see durableWatermark).
	Watermark int64
}

// Due returns the batches that must be flushed now, removed from the open
// set, with the dead letters waiting. memoryPressure flushes the largest
// batches, at least half of the memory the batcher holds. It returns nil
// when nothing is due.
func (b *Batcher) Due(now time.Time, memoryPressure, stop bool) *Round {
	var out []*Batch
	pressured := map[*Batch]bool(nil)
	if memoryPressure && !stop {
		pressured = b.largest(b.size / 2)
	}
	eventTime := b.clock.now()
	for k, bt := range b.open {
		reason := Reason("")
		switch {
		case stop:
			reason = ReasonStop
		case bt.Rows.Len() >= b.cfg.MaxRows:
			reason = ReasonRows
		case bt.Rows.Size() >= b.cfg.MaxBytes:
			reason = ReasonBytes
		case eventTime >= k.Hour+3600+int64(b.cfg.Grace/time.Second):
			reason = ReasonHourOver
		case now.Sub(bt.Created) >= b.cfg.MaxAge:
			reason = ReasonAge
		case pressured[bt]:
			reason = ReasonMemory
		}
		if reason != "" {
			bt.Reason = reason
			out = append(out, bt)
		}
	}
	deadDue := len(b.dead) > 0 && (stop || len(out) > 0 || len(b.dead) >= b.cfg.MaxDeadLetters || b.deadBytes >= b.cfg.MaxDeadBytes || now.Sub(b.deadSince) >= b.cfg.MaxAge)
	if len(out) == 0 && !deadDue {
		return nil
	}
	r := &Round{}
	// The oldest batches first: they hold the commit position back.
	sort.Slice(out, func(i, j int) bool { return out[i].Rows.First.Less(out[j].Rows.First) })
	if len(out) > b.cfg.MaxRoundBatches {
		out, r.More = out[:b.cfg.MaxRoundBatches], true
	}
	for _, bt := range out {
		delete(b.open, bt.Key)
		r.Bytes += bt.Rows.Mem()
	}
	r.Batches = out
	if deadDue {
		r.Dead, b.dead = b.dead, nil
		r.Bytes += b.deadBytes
		b.deadBytes = 0
	}
	b.size -= r.Bytes
	r.Commit = b.commitPosition()
	r.Watermark = b.durableWatermark()
	return r
}

// largest returns the largest open batches that together hold at least n
// bytes.
func (b *Batcher) largest(n int) map[*Batch]bool {
	all := make([]*Batch, 0, len(b.open))
	for _, bt := range b.open {
		all = append(all, bt)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Rows.Mem() > all[j].Rows.Mem() })
	out := make(map[*Batch]bool)
	freed := 0
	for _, bt := range all {
		if freed >= n && len(out) > 0 {
			break
		}
		out[bt] = true
		freed += bt.Rows.Mem()
	}
	return out
}

// commitPosition is the lowest offset some open batch or waiting dead letter
// still needs, or the next offset when nothing is open.
func (b *Batcher) commitPosition() int64 {
	c := b.next
	for _, bt := range b.open {
		c = min(c, bt.Rows.First.Offset)
	}
	if len(b.dead) > 0 {
		c = min(c, b.dead[0].Offset)
	}
	return c
}
