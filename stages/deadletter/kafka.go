package deadletter

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"flowlake/schema"
	"flowlake/stages/backoff"
)

// KafkaWriter produces dead letters as JSON messages to a Kafka topic, keyed
// by source topic, partition and offset. Kafka has no idempotent produce in
// kafka-go, so a crash between the produce and the checkpoint can repeat
// dead letters; consumers dedupe on (topic, partition, offset, line).
//
// Kafka bounds a message's size (message.max.bytes, 1 MiB by default), and
// a dead letter can hold a line or a whole message of many megabytes. The
// writer keeps the first DefaultKafkaMaxRawBytes (or WithMaxRawBytes) raw
// bytes and marks the letter raw_truncated with its raw_size; the JSON Lines
// sink keeps them whole.
type KafkaWriter struct {
	w      *kafka.Writer
	topic  string
	logger *slog.Logger
	maxRaw int
}

// DefaultKafkaMaxRawBytes is how many raw bytes a Kafka dead letter keeps.
// JSON escaping can grow text up to six times (\u0000), so 128 KiB stays
// under Kafka's default 1 MiB message limit whatever the bytes are.
const DefaultKafkaMaxRawBytes = 128 << 10

// KafkaOption changes a KafkaWriter.
type KafkaOption func(*KafkaWriter)

// WithMaxRawBytes sets how many raw bytes a dead letter keeps (n > 0).
func WithMaxRawBytes(n int) KafkaOption {
	return func(k *KafkaWriter) {
		if n > 0 {
			k.maxRaw = n
		}
	}
}

// WithTransport sets the kafka-go transport (TLS, SASL) of the producer.
func WithTransport(t *kafka.Transport) KafkaOption {
	return func(k *KafkaWriter) { k.w.Transport = t }
}

// NewKafkaWriter returns a writer to topic.
func NewKafkaWriter(brokers []string, topic string, logger *slog.Logger, opts ...KafkaOption) *KafkaWriter {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	k := &KafkaWriter{
		w: &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll,
			Balancer: &kafka.Hash{}, BatchSize: 1000, BatchBytes: 1 << 20, BatchTimeout: 10 * time.Millisecond, MaxAttempts: 3,
			AllowAutoTopicCreation: true},
		topic: topic, logger: logger, maxRaw: DefaultKafkaMaxRawBytes,
	}
	for _, o := range opts {
		o(k)
	}
	return k
}

func (k *KafkaWriter) String() string { return "kafka://" + k.topic }

// Write implements Writer; it retries until every letter is acknowledged by
// all in-sync replicas or ctx ends.
func (k *KafkaWriter) Write(ctx context.Context, letters []schema.DeadLetter) error {
	msgs := make([]kafka.Message, len(letters))
	for i := range letters {
		b, err := json.Marshal(toRecord(&letters[i], k.maxRaw))
		if err != nil {
			return fmt.Errorf("encode dead letter: %w", err)
		}
		d := &letters[i]
		msgs[i] = kafka.Message{Key: []byte(d.Topic + "/" + strconv.Itoa(d.Partition) + "/" + strconv.FormatInt(d.Offset, 10)), Value: b}
	}
	for attempt := 1; ; attempt++ {
		err := k.w.WriteMessages(ctx, msgs...)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d := backoff.Delay(attempt, 100*time.Millisecond, 30*time.Second)
		k.logger.Warn("dead-letter produce failed; retrying", "topic", k.topic, "err", err, "attempt", attempt, "backoff", d)
		if err := backoff.Sleep(ctx, d); err != nil {
			return err
		}
	}
}

// Close flushes and closes the producer.
func (k *KafkaWriter) Close() error { return k.w.Close() }
