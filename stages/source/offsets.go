package source

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// Offsets is where a partition's records start and end.
type Offsets struct {
	// First is the oldest offset still in the partition.
	First int64
	// End is the offset the next produced record will get (the high
	// watermark): a consumer whose next offset is End is caught up.
	End int64
}

// OffsetReader asks the cluster for every partition of a topic and its
// offsets. Sealing uses it to tell a caught-up partition from one that
// has not read its records yet.
type OffsetReader struct {
	client *kafka.Client
	topic  string
}

// NewOffsetReader returns a reader for cfg's topic over cfg's brokers and
// auth settings.
func NewOffsetReader(ctx context.Context, cfg Config) (*OffsetReader, error) {
	cfg.Defaults()
	if len(cfg.Brokers) == 0 || cfg.Topic == "" {
		return nil, errors.New("offset reader: brokers and topic are required")
	}
	tr, err := cfg.Auth.Transport(ctx)
	if err != nil {
		return nil, fmt.Errorf("offset reader: %w", err)
	}
	return &OffsetReader{client: &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: tr, Timeout: 15 * time.Second}, topic: cfg.Topic}, nil
}

// Offsets returns every partition of the topic with its offsets.
func (r *OffsetReader) Offsets(ctx context.Context) (map[int]Offsets, error) {
	md, err := r.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{r.topic}})
	if err != nil {
		return nil, fmt.Errorf("read metadata of %s: %w", r.topic, err)
	}
	var reqs []kafka.OffsetRequest
	for _, t := range md.Topics {
		if t.Name != r.topic {
			continue
		}
		if t.Error != nil {
			return nil, fmt.Errorf("read metadata of %s: %w", r.topic, t.Error)
		}
		for _, p := range t.Partitions {
			reqs = append(reqs, kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
		}
	}
	if len(reqs) == 0 {
		return nil, fmt.Errorf("topic %s has no partitions", r.topic)
	}
	res, err := r.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{r.topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w", r.topic, err)
	}
	out := make(map[int]Offsets, len(reqs)/2)
	for _, p := range res.Topics[r.topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("list offsets of %s/%d: %w", r.topic, p.Partition, p.Error)
		}
		out[p.Partition] = Offsets{First: p.FirstOffset, End: p.LastOffset}
	}
	if len(out) != len(reqs)/2 {
		return nil, fmt.Errorf("list offsets of %s: %d of %d partitions answered", r.topic, len(out), len(reqs)/2)
	}
	return out, nil
}
