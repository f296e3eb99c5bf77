package kafka

import (
	"context"
	"net/url"
	"strconv"
	"strings"
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
	return CheckpointPrefix + url.PathEscape(group) + "/" + url.PathEscape(topic) + "/" + strconv.Itoa(partition) + ".json"
}

// CheckpointPrefix holds every consumer group's checkpoints.
const CheckpointPrefix = "_flowlake/checkpoints/"

// ParseCheckpointKey returns the group, topic and partition of a key
// CheckpointKey made; ok is false for any other key under
// CheckpointPrefix (a checkpoint's segment objects, say).
func ParseCheckpointKey(key string) (group, topic string, partition int, ok bool) {
	parts := strings.Split(strings.TrimPrefix(key, CheckpointPrefix), "/")
	if !strings.HasPrefix(key, CheckpointPrefix) || len(parts) != 3 {
		return "", "", 0, false
	}
	num, isJSON := strings.CutSuffix(parts[2], ".json")
	p, err := strconv.Atoi(num)
	g, gerr := url.PathUnescape(parts[0])
	t, terr := url.PathUnescape(parts[1])
	if !isJSON || err != nil || gerr != nil || terr != nil || CheckpointKey(g, t, p) != key {
		return "", "", 0, false
	}
	return g, t, p, true
}

// Resume implements source.Stream: the group's committed offset.
func (a *Assignment) Resume() int64 { return a.Committed }

// Open implements source.Stream.
func (a *Assignment) Open(start int64, _ int) source.Reader { return a.src.Fetcher(a, start) }

// Placement implements source.Stream: Kafka messages say nothing of it.
func (a *Assignment) Placement() (string, string) { return "", "" }
