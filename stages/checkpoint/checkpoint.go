// Package checkpoint is the format of a stream's progress record in the
// sink: where the stream resumes, and which batch keys and dead letters
// past that point are already durable. The pipeline stores one after each
// flush round and reads it when a stream starts.
package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	Updated     string      `json:"updated"`
}

type durable struct {
	schema.SkipKey
	Pos schema.Pos `json:"pos"`
}

// Progress is a stream's durable state as rounds advance it. Only the
// goroutine running rounds touches it.
type Progress struct {
	// Next is the offset below which every record is durable (-1: none).
	Next    int64
	durable map[schema.SkipKey]schema.Pos
	dead    *schema.Pos
}

// Durable is the number of batch keys durable past Next.
func (p *Progress) Durable() int { return len(p.durable) }

// Load reads the checkpoint at key; found is false when there is none.
func Load(ctx context.Context, s sink.Sink, key, topic string, partition int) (*Progress, bool, error) {
	b, err := s.Get(ctx, key)
	if errors.Is(err, sink.ErrNotFound) {
		return &Progress{Next: -1, durable: map[schema.SkipKey]schema.Pos{}}, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read checkpoint: %w", err)
	}
	var c checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, false, fmt.Errorf("decode checkpoint %s: %w", key, err)
	}
	if c.Version != 1 || c.Topic != topic || c.Partition != partition {
		return nil, false, fmt.Errorf("checkpoint %s does not match %s/%d", key, topic, partition)
	}
	p := &Progress{Next: c.Next, durable: make(map[schema.SkipKey]schema.Pos, len(c.Durable)), dead: c.DeadLetters}
	for _, d := range c.Durable {
		p.durable[d.SkipKey] = d.Pos
	}
	return p, true, nil
}

// Skip returns what a replay must drop, or nil when nothing is durable past
// the resume offset.
func (p *Progress) Skip() *parse.Skip {
	if len(p.durable) == 0 && p.dead == nil {
		return nil
	}
	s := &parse.Skip{Groups: make(map[schema.SkipKey]schema.Pos, len(p.durable))}
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
func (p *Progress) Advance(commit int64, files map[schema.SkipKey]schema.Pos, dead *schema.Pos) {
	for k, v := range files {
		if old, ok := p.durable[k]; !ok || old.Less(v) {
			p.durable[k] = v
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
		}
	}
	if p.dead != nil && p.dead.Offset < p.Next {
		p.dead = nil
	}
}

// Store writes the checkpoint at key.
func (p *Progress) Store(ctx context.Context, s sink.Sink, key, topic string, partition int) error {
	c := checkpoint{Version: 1, Topic: topic, Partition: partition, Next: p.Next,
		DeadLetters: p.dead, Updated: time.Now().UTC().Format(time.RFC3339Nano)}
	for k, v := range p.durable {
		c.Durable = append(c.Durable, durable{SkipKey: k, Pos: v})
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
