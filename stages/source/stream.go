package source

import (
	"context"
	"time"

	"flowlake/schema"
)

// A source hands the pipeline streams: ordered runs of positioned messages
// (a Kafka partition for one generation, a day folder of an S3 archive).
// The pipeline core runs every stream the same way and tells the source,
// through Commit, how far the stream is durable. It never knows which
// source it runs.

// StreamID names a stream. File names and dead-letter names derive from it
// and from record positions, so it must be the same on every run.
type StreamID struct {
	Topic     string
	Partition int
}

// Stream is one ordered run of messages. Offsets increase along the stream.
type Stream interface {
	ID() StreamID
	// CheckpointKey is where, in the sink, the pipeline keeps the stream's
	// progress record.
	CheckpointKey() string
	// Resume is where the source itself would start the stream (Kafka's
	// committed offset); the progress record wins when it is further.
	Resume() int64
	// Open returns a reader of the stream from offset start, fetching
	// about maxBytes at a time.
	Open(start int64, maxBytes int) Reader
	// Commit says that every record below offset next is durable.
	Commit(next int64) error
	// Placement gives the account and region of records that carry none
	// ("" for the pipeline's defaults).
	Placement() (account, region string)
}

// Reader reads one stream.
type Reader interface {
	// Fetch appends the next messages to buf (none means "nothing yet").
	// It returns io.EOF once a finite stream is exhausted, ctx's error
	// when ctx ends, and any other error when the stream cannot go on.
	Fetch(ctx context.Context, buf []schema.Message) ([]schema.Message, error)
	Close()
}

// StreamHandler runs one stream until ctx ends or the stream ends. A
// non-nil error stops the whole source.
type StreamHandler func(ctx context.Context, s Stream) error

// Runner is a source: it runs h on each of its streams, several at once,
// until ctx ends, a handler fails or (for a finite source) every stream
// is done.
type Runner interface {
	RunStreams(ctx context.Context, h StreamHandler) error
	// Fence is how long a stream whose context ended may still write
	// before another owner may take it over (0: no other owner can).
	Fence() time.Duration
}
