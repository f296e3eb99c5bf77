package deadletter

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"flowlake/stages/parse"
)

// KafkaWriter produces dead letters as JSON messages to a Kafka topic, keyed
// by source topic, partition and offset. Kafka has no idempotent produce in
// kafka-go, so a crash between the produce and the checkpoint can repeat
// dead letters; consumers dedupe on (topic, partition, offset, line).
type KafkaWriter struct {
	w      *kafka.Writer
	topic  string
	logger *slog.Logger
}

// NewKafkaWriter returns a writer to topic.
func NewKafkaWriter(brokers []string, topic string, logger *slog.Logger) *KafkaWriter {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &KafkaWriter{
		w: &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll,
			Balancer: &kafka.Hash{}, BatchSize: 1000, BatchTimeout: 10 * time.Millisecond, MaxAttempts: 3,
			AllowAutoTopicCreation: true},
		topic: topic, logger: logger,
	}
}

func (k *KafkaWriter) String() string { return "kafka://" + k.topic }

// Write implements Writer; it retries until every letter is acknowledged by
// all in-sync replicas or ctx ends.
func (k *KafkaWriter) Write(ctx context.Context, letters []parse.DeadLetter) error {
	msgs := make([]kafka.Message, len(letters))
	for i := range letters {
		b, err := json.Marshal(ToRecord(&letters[i]))
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
		d := time.Duration(min(30_000, 100<<min(attempt, 9))) * time.Millisecond
		d = d/2 + rand.N(d/2+1)
		k.logger.Warn("dead-letter produce failed; retrying", "topic", k.topic, "err", err, "attempt", attempt, "backoff", d)
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close flushes and closes the producer.
func (k *KafkaWriter) Close() error { return k.w.Close() }
