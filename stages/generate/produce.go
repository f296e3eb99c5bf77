package generate

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"
)

// WriteText writes the remaining records to w as plain text, one per line,
// each ending in "\n", whatever the envelope (no header line; write
// g.Format().Header() first for an AWS-style text file). It stops early
// with ctx's error when ctx ends.
func WriteText(ctx context.Context, w io.Writer, g *Generator) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	for i := 0; ; i++ {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		_, n := g.fill()
		if n == 0 {
			break
		}
		g.text = append(g.text, '\n')
		g.bytes += int64(len(g.text))
		if _, err := bw.Write(g.text); err != nil {
			return fmt.Errorf("write records: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write records: %w", err)
	}
	return nil
}

// ProduceOption tunes Produce.
type ProduceOption func(*produceConfig)

type produceConfig struct {
	compression   string
	chunkMessages int
	chunkBytes    int
	batchBytes    int64
	progress      time.Duration
	writeTimeout  time.Duration
}

// WithCompression sets the Kafka compression codec: "none" (the default),
// "gzip", "snappy", "lz4" or "zstd".
func WithCompression(codec string) ProduceOption {
	return func(c *produceConfig) { c.compression = codec }
}

// WithChunk sets how many messages (and at most how many bytes) Produce
// hands to the Kafka writer per call; defaults 8192 and 8 MiB.
func WithChunk(messages, bytes int) ProduceOption {
	return func(c *produceConfig) { c.chunkMessages, c.chunkBytes = messages, bytes }
}

// WithMaxMessageBytes sets the largest produce batch per partition, and so
// the largest message; default 1 MiB, Kafka's default message.max.bytes.
func WithMaxMessageBytes(n int) ProduceOption {
	return func(c *produceConfig) { c.batchBytes = int64(n) }
}

// WithProgressInterval sets how often Produce logs progress; default 5 s.
func WithProgressInterval(d time.Duration) ProduceOption {
	return func(c *produceConfig) { c.progress = d }
}

func compressionCodec(name string) (kafka.Compression, error) {
	switch name {
	case "", "none":
		return 0, nil
	case "gzip":
		return kafka.Gzip, nil
	case "snappy":
		return kafka.Snappy, nil
	case "lz4":
		return kafka.Lz4, nil
	case "zstd":
		return kafka.Zstd, nil
	}
	return 0, fmt.Errorf("unknown compression %q: want none, gzip, snappy, lz4 or zstd", name)
}

// chunk is a run of messages handed to the writer at once; its values live
// in arena.
type chunk struct {
	msgs    []kafka.Message
	arena   []byte
	records int64
	bytes   int64
}

// Produce writes every remaining message of g to topic with a kafka-go
// Writer: synchronous writes of large chunks (so a failure is reported, not
// dropped), acks from all in-sync replicas, and the Hash balancer on the
// message key, so an ENI's messages stay on one partition and in order.
// One chunk is generated while the previous one is in flight. Progress is
// logged at Info level. The Stats returned count what was generated; when
// the error is not nil some of it may not have been written.
func Produce(ctx context.Context, g *Generator, brokers []string, topic string, logger *slog.Logger, opts ...ProduceOption) (Stats, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg := produceConfig{
		chunkMessages: 8192,
		chunkBytes:    8 << 20,
		batchBytes:    1 << 20,
		progress:      5 * time.Second,
		writeTimeout:  30 * time.Second,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if len(brokers) == 0 {
		return g.Stats(), errors.New("produce: no brokers")
	}
	if topic == "" {
		return g.Stats(), errors.New("produce: no topic")
	}
	if cfg.chunkMessages < 1 || cfg.chunkBytes < 1 || cfg.batchBytes < 1 {
		return g.Stats(), errors.New("produce: chunk and batch sizes must be positive")
	}
	codec, err := compressionCodec(cfg.compression)
	if err != nil {
		return g.Stats(), fmt.Errorf("produce: %w", err)
	}
	w := &kafka.Writer{
		Addr:     kafka.TCP(brokers...),
		Topic:    topic,
		Balancer: &kafka.Hash{},
		// A chunk's messages for one partition go in one request: batches
		// close on bytes, and the tail of a chunk after a millisecond.
		BatchSize:    cfg.chunkMessages,
		BatchBytes:   cfg.batchBytes,
		BatchTimeout: time.Millisecond,
		RequiredAcks: kafka.RequireAll,
		Async:        false,
		Compression:  codec,
		WriteTimeout: cfg.writeTimeout,
	}
	logger = logger.With("topic", topic, "envelope", g.cfg.Envelope)
	logger.Info("producing flow log records", "records", g.Remaining(), "lines_per_message", g.cfg.LinesPerMsg,
		"brokers", brokers, "compression", cfg.compression)

	// Two chunks: one being filled, one being written.
	free := make(chan *chunk, 2)
	full := make(chan *chunk)
	for range 2 {
		free <- &chunk{arena: make([]byte, 0, cfg.chunkBytes+64<<10)}
	}
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		var sent, sentRecords, sentBytes int64
		last := start
		for c := range full {
			if err := w.WriteMessages(ctx, c.msgs...); err != nil {
				done <- fmt.Errorf("produce to %s: %w", topic, err)
				return
			}
			sent += int64(len(c.msgs))
			sentRecords += c.records
			sentBytes += c.bytes
			free <- c
			if now := time.Now(); now.Sub(last) >= cfg.progress {
				last = now
				logger.Info("produce progress", "records", sentRecords, "messages", sent, "bytes", sentBytes,
					"records_per_sec", int64(float64(sentRecords)/now.Sub(start).Seconds()))
			}
		}
		done <- nil
	}()

	var genErr error
	writerDone := false
fill:
	for g.Remaining() > 0 {
		var c *chunk
		select {
		case c = <-free:
		case genErr = <-done: // the writer failed
			writerDone = true
			break fill
		case <-ctx.Done():
			genErr = ctx.Err()
			break fill
		}
		c.msgs, c.arena, c.records, c.bytes = c.msgs[:0], c.arena[:0], 0, 0
		for len(c.msgs) < cfg.chunkMessages && len(c.arena) < cfg.chunkBytes {
			before := len(c.arena)
			out, key, n, ok := g.Next(c.arena)
			if !ok {
				break
			}
			c.arena = out
			c.msgs = append(c.msgs, kafka.Message{Key: key, Value: out[before:len(out):len(out)]})
			c.records += int64(n)
			c.bytes += int64(len(out) - before)
		}
		select {
		case full <- c:
		case genErr = <-done:
			writerDone = true
			break fill
		case <-ctx.Done():
			genErr = ctx.Err()
			break fill
		}
	}
	close(full)
	if !writerDone {
		// The writer drains what it has (or stops on ctx) and reports.
		if err := <-done; genErr == nil {
			genErr = err
		}
	}
	if err := w.Close(); err != nil && genErr == nil {
		genErr = fmt.Errorf("produce: close writer: %w", err)
	}
	st := g.Stats()
	elapsed := time.Since(start)
	if genErr != nil {
		logger.Error("produce failed", "err", genErr, "generated_records", st.Records, "elapsed", elapsed)
		return st, genErr
	}
	logger.Info("produced flow log records", "records", st.Records, "bad", st.Bad, "messages", st.Messages,
		"bytes", st.Bytes, "elapsed", elapsed.Round(time.Millisecond),
		"records_per_sec", int64(float64(st.Records)/max(elapsed.Seconds(), 1e-9)))
	return st, nil
}
