package kafka

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"flowlake/stages/source"
)

// RunStreams implements source.Runner: each assigned partition is a stream.
func (s *Source) RunStreams(ctx context.Context, h source.StreamHandler) error {
	return s.Run(ctx, func(ctx context.Context, a *Assignment) error { return h(ctx, a) })
}

// Fence implements source.Runner: after the session timeout the coordinator may
// give a revoked partition to another member; two thirds of it leave room.
func (s *Source) Fence() time.Duration { return s.cfg.SessionTimeout * 2 / 3 }

// ID implements source.Stream.
func (a *Assignment) ID() source.StreamID {
	return source.StreamID{Topic: a.Topic, Partition: a.Partition}
}

// CheckpointKey implements source.Stream:
// `_flowlake/checkpoints/<group>/<topic>/<partition>.json`.
func (a *Assignment) CheckpointKey() string {
	return CheckpointKey(a.group, a.Topic, a.Partition)
}

// CheckpointKey is where a consumer group keeps a partition's progress
// record: `_flowlake/checkpoints/<group>/<topic>/<partition>.json`.
func CheckpointKey(group, topic string, partition int) string {
	return "_flowlake/checkpoints/" + url.PathEscape(group) + "/" + url.PathEscape(topic) + "/" + strconv.Itoa(partition) + ".json"
}

// Resume implements source.Stream: the group's committed offset.
func (a *Assignment) Resume() int64 { return a.Committed }

// Open implements source.Stream.
func (a *Assignment) Open(start int64, _ int) source.Reader { return a.src.Fetcher(a, start) }

// Placement implements source.Stream: Kafka messages say nothing of it.
func (a *Assignment) Placement() (string, string) { return "", "" }
