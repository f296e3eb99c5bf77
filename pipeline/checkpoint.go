package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"flowlake/schema"
	"flowlake/stages/parse"
	"flowlake/stages/seal"
	"flowlake/stages/sink"
)

// checkpoint is a partition's commit record, stored in the sink after the
// data it covers and read back on assignment. It is the source of truth for
// where a partition resumes; the Kafka offset commit mirrors it for lag
// monitoring and tools.
type checkpoint struct {
	Version   int    `json:"version"`
	Group     string `json:"group"`
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
	// Next is the offset below which every record is durable.
	Next int64 `json:"next_offset"`
	// Durable lists, for batch keys that have records at or after Next
	// in written files, the last such record: a replay skips records up to it.
	Durable []durable `json:"durable,omitempty"`
	// DeadLetters is the last dead letter at or after Next already written.
	DeadLetters *schema.Pos `json:"dead_letters,omitempty"`
	// Watermark and Hours are the partition's sealing state (see seal.go).
	Watermark int64           `json:"watermark,omitempty"`
	Hours     []seal.HourMark `json:"hours,omitempty"`
	Updated   string          `json:"updated"`
}

type durable struct {
	parse.SkipKey
	Pos schema.Pos `json:"pos"`
}

func checkpointKey(group, topic string, partition int) string {
	return "_flowlake/checkpoints/" + url.PathEscape(group) + "/" + url.PathEscape(topic) + "/" + strconv.Itoa(partition) + ".json"
}

// progress is a partition's durable state as rounds advance it. Only the
// goroutine running rounds touches it.
type progress struct {
	next    int64
	durable map[parse.SkipKey]schema.Pos
	dead    *schema.Pos
	// watermark and hours: see seal.go.
	watermark int64
	hours     map[schema.PartitionKey]int64
	pruned    time.Time
}

func loadCheckpoint(ctx context.Context, s sink.Sink, group, topic string, partition int) (*progress, bool, error) {
	b, err := s.Get(ctx, checkpointKey(group, topic, partition))
	if errors.Is(err, sink.ErrNotFound) {
		return &progress{next: -1, durable: map[parse.SkipKey]schema.Pos{}, hours: map[schema.PartitionKey]int64{}}, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read checkpoint: %w", err)
	}
	var c checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, false, fmt.Errorf("decode checkpoint %s: %w", checkpointKey(group, topic, partition), err)
	}
	if c.Version != 1 || c.Topic != topic || c.Partition != partition {
		return nil, false, fmt.Errorf("checkpoint %s does not match %s/%d", checkpointKey(group, topic, partition), topic, partition)
	}
	p := &progress{next: c.Next, durable: make(map[parse.SkipKey]schema.Pos, len(c.Durable)), dead: c.DeadLetters,
		watermark: c.Watermark, hours: make(map[schema.PartitionKey]int64, len(c.Hours))}
	for _, h := range c.Hours {
		p.hours[h.Key()] = h.LastOffset
	}
	for _, d := range c.Durable {
		p.durable[d.SkipKey] = d.Pos
	}
	return p, true, nil
}

// skip returns what a replay must drop, or nil when nothing is durable past
// the resume offset.
func (p *progress) skip() *parse.Skip {
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

// advance records a round's files and its commit position, dropping
// entries the next replay can no longer reach.
func (p *progress) advance(commit int64, files map[parse.SkipKey]schema.Pos, dead *schema.Pos) {
	for k, v := range files {
		if old, ok := p.durable[k]; !ok || old.Less(v) {
			p.durable[k] = v
		}
	}
	if dead != nil && (p.dead == nil || p.dead.Less(*dead)) {
		d := *dead
		p.dead = &d
	}
	if commit > p.next {
		p.next = commit
	}
	for k, v := range p.durable {
		if v.Offset < p.next {
			delete(p.durable, k)
		}
	}
	if p.dead != nil && p.dead.Offset < p.next {
		p.dead = nil
	}
}

func (p *progress) store(ctx context.Context, s sink.Sink, group, topic string, partition int) error {
	c := checkpoint{Version: 1, Group: group, Topic: topic, Partition: partition, Next: p.next,
		DeadLetters: p.dead, Watermark: p.watermark, Updated: time.Now().UTC().Format(time.RFC3339Nano)}
	for k, v := range p.durable {
		c.Durable = append(c.Durable, durable{SkipKey: k, Pos: v})
	}
	c.Hours = p.hourMarks()
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	if err := s.Put(ctx, checkpointKey(group, topic, partition), b); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	return nil
}
