// Package checkpoint is the format of a stream's Progress record in the
// sink: where the stream resumes, and which batch keys and dead letters
// past that point are already durable. The pipeline stores one after each
// flush round and reads it when a stream starts. The stream names the key.
package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"flowlake/schema"
	"flowlake/stages/parse"
	"flowlake/stages/sink"
)

// checkpoint is a partition's commit record, stored in the sink after the
// data it covers and read back on assignment. It is the source of truth for
// where a partition resumes; the Kafka offset commit mirrors it for lag
// monitoring and tools.
type checkpoint struct {
	Version   int    `json:"version"`
	Group     string `json:"group,omitempty"`
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
	// Next is the offset below which every record is durable.
	Next int64 `json:"next_offset"`
	// Durable lists, for batch keys that have records at or after Next
	// in written files, the last such record: a replay skips records up to it.
	Durable []durable `json:"durable,omitempty"`
	// DeadLetters is the last dead letter at or after Next already written.
	DeadLetters *schema.Pos `json:"dead_letters,omitempty"`
	// Segments hold the rest of the durable entries, spilled once Durable
	// grew past spillEntries, so the checkpoint rewritten every round stays
	// small however many keys an old batch holds behind Next. A later
	// entry of a key wins over an earlier segment's.
	Segments []segment `json:"segments,omitempty"`
	// Seq numbers segment objects.
	Seq int64 `json:"seq,omitempty"`
	// Watermark and Hours are the partition's sealing state (see seal.go).
	Watermark int64             `json:"watermark,omitempty"`
	Hours     []schema.HourMark `json:"hours,omitempty"`
	Updated   string            `json:"updated"`
}

// segment is a spilled object of durable entries.
type segment struct {
	Key string `json:"key"`
	// MaxOffset is the highest offset of its entries: once Next passes
	// it, no entry of the segment matters.
	MaxOffset int64 `json:"max_offset"`
}

// spillEntries is how many durable entries a checkpoint carries inline;
// past it they move to a segment object written once.
const spillEntries = 1000

type durable struct {
	parse.SkipKey
	Pos schema.Pos `json:"pos"`
}

// Progress is a partition's durable state as rounds advance it. Only the
// goroutine running rounds touches it.
type Progress struct {
	// Next is the offset below which every record is durable (-1: none).
	Next    int64
	durable map[parse.SkipKey]schema.Pos
	dead    *schema.Pos
	// Watermark, Hours and Pruned are the partition's sealing state, kept
	// by the pipeline's sealer: the latest durable record time, and for
	// each hour this partition wrote that no manifest covers yet, the
	// offset of its last record there; Pruned is when covered hours were
	// last dropped.
	Watermark int64
	Hours     map[schema.PartitionKey]int64
	Pruned    time.Time
	// fresh are the keys whose durable entry is in no segment yet; they
	// go inline in the checkpoint, or to a new segment once too many.
	fresh    map[parse.SkipKey]struct{}
	segments []segment
	seq      int64
}

// New returns the progress of a stream with nothing durable past next.
func New(next int64) *Progress { return newProgress(next) }

func newProgress(next int64) *Progress {
	return &Progress{Next: next, durable: map[parse.SkipKey]schema.Pos{}, fresh: map[parse.SkipKey]struct{}{}, Hours: map[schema.PartitionKey]int64{}}
}

// Load reads the checkpoint at key; found is false when there is none.
func Load(ctx context.Context, s sink.Sink, key, topic string, partition int) (*Progress, bool, error) {
	b, err := s.Get(ctx, key)
	if errors.Is(err, sink.ErrNotFound) {
		return newProgress(-1), false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read checkpoint: %w", err)
	}
	var c checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, false, fmt.Errorf("decode checkpoint %s: %w", key, err)
	}
	if (c.Version != 1 && c.Version != 2) || c.Topic != topic || c.Partition != partition {
		return nil, false, fmt.Errorf("checkpoint %s does not match %s/%d", key, topic, partition)
	}
	p := newProgress(c.Next)
	p.dead, p.seq, p.Watermark = c.DeadLetters, c.Seq, c.Watermark
	for _, h := range c.Hours {
		p.Hours[h.Key()] = h.LastOffset
	}
	merge := func(ds []durable, fresh bool) {
		for _, d := range ds {
			if d.Pos.Offset < p.Next {
				continue
			}
			if old, ok := p.durable[d.SkipKey]; !ok || old.Less(d.Pos) {
				p.durable[d.SkipKey] = d.Pos
			}
			if fresh {
				p.fresh[d.SkipKey] = struct{}{}
			}
		}
	}
	for _, sg := range c.Segments {
		if sg.MaxOffset < p.Next {
			continue
		}
		sb, err := s.Get(ctx, sg.Key)
		if err != nil {
			return nil, false, fmt.Errorf("read checkpoint segment %s: %w", sg.Key, err)
		}
		var ds []durable
		if err := json.Unmarshal(sb, &ds); err != nil {
			return nil, false, fmt.Errorf("decode checkpoint segment %s: %w", sg.Key, err)
		}
		merge(ds, false)
		p.segments = append(p.segments, sg)
	}
	merge(c.Durable, true)
	return p, true, nil
}

// Skip returns what a replay must drop, or nil when nothing is durable past
// the resume offset.
func (p *Progress) Skip() *parse.Skip {
	if len(p.durable) == 0 && p.dead == nil {
		return nil
	}
	s := &parse.Skip{Groups: make(map[parse.SkipKey]schema.Pos, len(p.durable))}
	for k, v := range p.durable {
		s.Groups[k] = v
	}
	if p.dead != nil {
		s.Dead, s.HasDead = *p.dead, true
	}
	return s
}

// Advance records a round's files and its commit position, dropping
// entries the next replay can no longer reach.
func (p *Progress) Advance(commit int64, files map[parse.SkipKey]schema.Pos, dead *schema.Pos) {
	for k, v := range files {
		if old, ok := p.durable[k]; !ok || old.Less(v) {
			p.durable[k] = v
			p.fresh[k] = struct{}{}
		}
	}
	if dead != nil && (p.dead == nil || p.dead.Less(*dead)) {
		d := *dead
		p.dead = &d
	}
	if commit > p.Next {
		p.Next = commit
	}
	for k, v := range p.durable {
		if v.Offset < p.Next {
			delete(p.durable, k)
			delete(p.fresh, k)
		}
	}
	p.segments = slices.DeleteFunc(p.segments, func(sg segment) bool { return sg.MaxOffset < p.Next })
	if p.dead != nil && p.dead.Offset < p.Next {
		p.dead = nil
	}
}

// Store writes the checkpoint at key.
func (p *Progress) Store(ctx context.Context, s sink.Sink, key, topic string, partition int) error {
	if len(p.fresh) > spillEntries {
		if err := p.spill(ctx, s, key, topic, partition); err != nil {
			return err
		}
	}
	c := checkpoint{Version: 1, Topic: topic, Partition: partition, Next: p.Next,
		DeadLetters: p.dead, Segments: p.segments, Seq: p.seq, Watermark: p.Watermark,
		Hours: p.HourMarks(), Updated: time.Now().UTC().Format(time.RFC3339Nano)}
	for k := range p.fresh {
		c.Durable = append(c.Durable, durable{SkipKey: k, Pos: p.durable[k]})
	}
	if len(c.Segments) > 0 {
		// Version 2 has segments: an older flowlake, which would ignore
		// them and rewrite durable records, refuses it instead.
		c.Version = 2
	}
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	if err := s.Put(ctx, key, b); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	return nil
}

// spill writes the fresh durable entries to a new segment object, before
// the checkpoint that lists it. A crash in between leaves an object no
// checkpoint names, which is harmless.
func (p *Progress) spill(ctx context.Context, s sink.Sink, key, topic string, partition int) error {
	ds := make([]durable, 0, len(p.fresh))
	maxOff := int64(-1)
	for k := range p.fresh {
		v := p.durable[k]
		ds = append(ds, durable{SkipKey: k, Pos: v})
		maxOff = max(maxOff, v.Offset)
	}
	p.seq++
	segKey := strings.TrimSuffix(key, ".json") + ".segments/" + strconv.FormatInt(p.seq, 10) + ".json"
	b, err := json.Marshal(ds)
	if err != nil {
		return fmt.Errorf("encode checkpoint segment: %w", err)
	}
	if err := s.Put(ctx, segKey, b); err != nil {
		return fmt.Errorf("write checkpoint segment: %w", err)
	}
	p.segments = append(p.segments, segment{Key: segKey, MaxOffset: maxOff})
	clear(p.fresh)
	return nil
}

// Durable is the number of batch keys durable past Next.
func (p *Progress) Durable() int { return len(p.durable) }

// DurablePast returns, per batch key, the last durable record at or
// past Next.
func (p *Progress) DurablePast() map[parse.SkipKey]schema.Pos { return p.durable }

// HourMarks returns the hour marks in a stable order.
func (p *Progress) HourMarks() []schema.HourMark {
	out := make([]schema.HourMark, 0, len(p.Hours))
	for k, last := range p.Hours {
		out = append(out, schema.HourMark{Account: k.Account, Region: k.Region, Hour: k.Hour, LastOffset: last})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key().Less(out[j].Key()) })
	return out
}
