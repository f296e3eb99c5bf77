package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"

	"flowlake/schema"
	"flowlake/stages/backoff"
)

// Fetcher reads one partition in batches from its leader, reconnecting with
// backoff when the connection or the broker fails.
type Fetcher struct {
	s         *Source
	topic     string
	partition int
	offset    int64
	conn      *kafka.Conn
	// batch is the fetch response being read, kept open between calls
	// when it holds more than MaxBytes (see read); opened is when it was
	// sent for.
	batch    *kafka.Batch
	opened   time.Time
	logger   *slog.Logger
	failures int
	// MaxBytes caps the message bytes one Fetch returns below the
	// configured FetchMaxBytes (0: FetchMaxBytes), so that a memory budget
	// shared by many partitions holds a fetch of each; at least one
	// message is returned.
	MaxBytes int
}

// Fetcher returns a fetcher for a's partition starting at offset, which may
// be kafka.FirstOffset or kafka.LastOffset.
func (s *Source) Fetcher(a *Assignment, offset int64) *Fetcher {
	return &Fetcher{s: s, topic: a.Topic, partition: a.Partition, offset: offset,
		logger: s.logger.With("partition", a.Partition)}
}

// Offset is the offset of the next message to fetch.
func (f *Fetcher) Offset() int64 { return f.offset }

// Close closes the connection, and the response being read (the
// connection first, so that the response's unread rest is not waited for).
func (f *Fetcher) Close() {
	if f.conn != nil {
		_ = f.conn.Close()
		f.conn = nil
	}
	if f.batch != nil {
		_ = f.batch.Close()
		f.batch = nil
	}
}

// Fetch returns the next messages, appended to buf, or none when the broker
// had nothing within the max wait. It retries broken connections until ctx
// ends; it returns an error when ctx ends, or an *OffsetResetError when the
// position is outside the partition's log (it never skips on its own).
func (f *Fetcher) Fetch(ctx context.Context, buf []schema.Message) ([]schema.Message, error) {
	for {
		if err := ctx.Err(); err != nil {
			return buf, err
		}
		if f.conn == nil {
			if err := f.connect(ctx); err != nil {
				f.backoff(ctx, "connect to partition leader", err)
				continue
			}
		}
		out, err := f.read(buf)
		if errors.Is(err, errResponseDropped) {
			continue
		}
		if err == nil {
			f.failures = 0
			return out, nil
		}
		if len(out) > len(buf) {
			// The batch broke after some messages: the offset has moved past
			// them, so they must be delivered, not dropped. The next call
			// reconnects.
			f.Close()
			return out, nil
		}
		if errors.Is(err, kafka.RequestTimedOut) {
			// The broker held the fetch for the max wait and had nothing:
			// an idle partition, not a failure.
			f.failures = 0
			return out, nil
		}
		if errors.Is(err, kafka.OffsetOutOfRange) {
			// The failed batch leaves the connection unusable: ask on a
			// fresh one where the partition starts and ends. Skipping to
			// either is the caller's decision (--on-offset-reset), never
			// the fetcher's.
			f.Close()
			if cerr := f.connect(ctx); cerr != nil {
				f.backoff(ctx, "connect to partition leader", cerr)
				continue
			}
			first, end, oerr := f.conn.ReadOffsets()
			if oerr != nil {
				f.Close()
				f.backoff(ctx, "read partition offsets", oerr)
				continue
			}
			f.Close()
			if f.offset >= first && f.offset <= end {
				// Back in range (a leader change raced the fetch): retry.
				f.backoff(ctx, "fetch", err)
				continue
			}
			return buf, &OffsetResetError{Topic: f.topic, Partition: f.partition, Offset: f.offset, First: first, End: end}
		}
		f.Close()
		f.backoff(ctx, "fetch", err)
	}
}

// read appends messages of the partition's fetch response to buf, up to
// MaxBytes of values (at least one message). A broker returns at least one
// whole record batch even when it is larger than the fetch's max bytes
// (producers write batches of a megabyte or more), so a response can hold
// many times what the caller made room for: the rest is kept for the next
// call (in the socket and kafka-go's buffers, not read yet) instead of
// being returned at once. A response is asked for with some room above
// MaxBytes, so that small caps do not cost a round trip each. A response
// left unread longer than the read deadline allows is dropped and fetched
// again.
func (f *Fetcher) read(buf []schema.Message) ([]schema.Message, error) {
	maxBytes := f.s.cfg.FetchMaxBytes
	if f.MaxBytes > 0 {
		maxBytes = min(maxBytes, f.MaxBytes)
	}
	deadline := f.s.cfg.FetchMaxWait + 15*time.Second
	if f.batch != nil && time.Since(f.opened) > deadline/2 {
		f.Close()
		return buf, errResponseDropped
	}
	if f.batch == nil {
		if _, err := f.conn.Seek(f.offset, kafka.SeekAbsolute|kafka.SeekDontCheck); err != nil {
			return buf, err
		}
		_ = f.conn.SetReadDeadline(time.Now().Add(deadline))
		ask := min(f.s.cfg.FetchMaxBytes, max(4*maxBytes, 64<<10))
		f.batch = f.conn.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: ask, MaxWait: f.s.cfg.FetchMaxWait})
		f.opened = time.Now()
	}
	b, start, bytes := f.batch, len(buf), 0
	for len(buf) == start || bytes < maxBytes {
		m, err := b.ReadMessage()
		if err != nil {
			err := b.Close()
			f.batch = nil
			return buf, err
		}
		if m.Offset < f.offset {
			continue
		}
		buf = append(schema.Reserve(buf, 1), schema.Message{Offset: m.Offset, Value: m.Value, Time: m.Time})
		bytes += len(m.Value)
		f.offset = m.Offset + 1
	}
	return buf, nil
}

// errResponseDropped says a fetch response was dropped unread (see read):
// the connection is reopened at once, without backoff.
var errResponseDropped = errors.New("fetch response left unread too long")

func (f *Fetcher) connect(ctx context.Context) error {
	var last error
	for _, addr := range f.s.cfg.Brokers {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		conn, err := f.s.dialer.DialLeader(dctx, "tcp", addr, f.topic, f.partition)
		cancel()
		if err != nil {
			last = err
			continue
		}
		if f.offset < 0 {
			var off int64
			if f.offset == kafka.LastOffset {
				off, err = conn.ReadLastOffset()
			} else {
				off, err = conn.ReadFirstOffset()
			}
			if err != nil {
				_ = conn.Close()
				last = err
				continue
			}
			f.offset = off
		}
		f.conn = conn
		return nil
	}
	return fmt.Errorf("no broker reachable for %s/%d: %w", f.topic, f.partition, last)
}

// backoff sleeps with capped exponential backoff and jitter.
func (f *Fetcher) backoff(ctx context.Context, what string, err error) {
	f.failures++
	d := backoff.Delay(f.failures, 100*time.Millisecond, 30*time.Second)
	if f.failures == 1 || f.failures%10 == 0 {
		f.logger.Warn("kafka "+what+" failed; retrying", "err", err, "attempt", f.failures, "backoff", d)
	}
	_ = backoff.Sleep(ctx, d)
}

// SetMaxBytes caps the next fetches (see MaxBytes); the pipeline sizes
// them from its memory budget.
func (f *Fetcher) SetMaxBytes(n int) { f.MaxBytes = n }
