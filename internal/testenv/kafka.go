package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"flowlake/internal/broker"
)

// kafkaTimeout bounds each helper's work against the broker. Requests are
// retried inside it, which rides out a broker Restart.
const kafkaTimeout = 20 * time.Second

// KafkaEnv is an in-process Kafka broker with one topic, for tests.
type KafkaEnv struct {
	// Brokers are the host:port addresses for kafka-go clients.
	Brokers []string
	// Topic is the topic created at start.
	Topic string
	// Partitions is the topic's partition count.
	Partitions int
	// Broker is the running broker, for Restart, Stop/Resume and fault
	// injection through Broker.Cluster.
	Broker *broker.Broker

	// transport is private to the env. kafka-go's shared DefaultTransport
	// pools connections that go stale when the broker restarts.
	transport *kafka.Transport
}

// Kafka starts a broker on 127.0.0.1 with topic created with the given
// partition count. The broker is closed when the test ends.
func Kafka(t testing.TB, topic string, partitions int) *KafkaEnv {
	t.Helper()
	if partitions <= 0 {
		t.Fatalf("testenv.Kafka: partitions must be positive, got %d", partitions)
	}
	ctx, cancel := context.WithTimeout(context.Background(), kafkaTimeout)
	defer cancel()
	b, err := broker.Start(ctx, broker.Config{
		Addr:   "127.0.0.1:0",
		Topics: map[string]int32{topic: int32(partitions)},
	}, nil)
	if err != nil {
		t.Fatalf("testenv.Kafka: %v", err)
	}
	k := &KafkaEnv{
		Brokers:    b.Addrs(),
		Topic:      topic,
		Partitions: partitions,
		Broker:     b,
		transport:  &kafka.Transport{},
	}
	t.Cleanup(func() {
		k.transport.CloseIdleConnections()
		b.Close()
	})
	return k
}

// Restart restarts the broker on the same address, keeping records and
// committed offsets. Clients see their connections drop.
func (k *KafkaEnv) Restart(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kafkaTimeout)
	defer cancel()
	if err := k.Broker.Restart(ctx); err != nil {
		t.Fatalf("testenv: restart broker: %v", err)
	}
	k.transport.CloseIdleConnections()
}

// Produce writes msgs to the topic, each to the partition in its Partition
// field (the zero value is partition 0), preserving their order within a
// partition. It returns once every message is acknowledged by all replicas.
// Use ProduceBalanced to spread messages instead.
func (k *KafkaEnv) Produce(t testing.TB, msgs []kafka.Message) {
	t.Helper()
	for i, m := range msgs {
		if m.Partition < 0 || m.Partition >= k.Partitions {
			t.Fatalf("testenv: Produce: message %d has partition %d, topic %s has %d", i, m.Partition, k.Topic, k.Partitions)
		}
	}
	k.produce(t, msgs, partitionField{})
}

// ProduceBalanced writes msgs to the topic spread across partitions: keyed
// messages by a hash of the key, others round-robin. Partition fields are
// ignored.
func (k *KafkaEnv) ProduceBalanced(t testing.TB, msgs []kafka.Message) {
	t.Helper()
	k.produce(t, msgs, &kafka.Hash{})
}

func (k *KafkaEnv) produce(t testing.TB, msgs []kafka.Message, balancer kafka.Balancer) {
	t.Helper()
	if len(msgs) == 0 {
		return
	}
	// The Writer has its own Topic, so messages must not name one; copy
	// rather than clear the caller's messages.
	own := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		if m.Topic != "" && m.Topic != k.Topic {
			t.Fatalf("testenv: Produce: message %d is for topic %q, env topic is %q", i, m.Topic, k.Topic)
		}
		m.Topic = ""
		own[i] = m
	}
	w := &kafka.Writer{
		Addr:         kafka.TCP(k.Brokers...),
		Topic:        k.Topic,
		Balancer:     balancer,
		RequiredAcks: kafka.RequireAll,
		// One call carries all messages, so a large batch and a short
		// linger keep produce fast; BatchBytes stays under the broker's
		// message.max.bytes (1 MiB).
		BatchSize:    10000,
		BatchBytes:   1 << 20,
		BatchTimeout: time.Millisecond,
		MaxAttempts:  20,
		Transport:    k.transport,
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), kafkaTimeout)
	defer cancel()
	if err := w.WriteMessages(ctx, own...); err != nil {
		t.Fatalf("testenv: produce %d messages to %s: %v", len(own), k.Topic, err)
	}
}

// partitionField is a Balancer that sends each message to the partition
// its Partition field names.
type partitionField struct{}

func (partitionField) Balance(msg kafka.Message, _ ...int) int { return msg.Partition }

// CommittedOffsets returns the group's committed offset per partition of
// the topic: the offset of the next message to consume. Partitions without
// a commit are absent, and an unknown group yields an empty map.
func (k *KafkaEnv) CommittedOffsets(t testing.TB, group string) map[int]int64 {
	t.Helper()
	var out map[int]int64
	k.retry(t, "fetch committed offsets of group "+group, func(ctx context.Context) error {
		var err error
		out, err = k.committed(ctx, group)
		return err
	})
	return out
}

func (k *KafkaEnv) committed(ctx context.Context, group string) (map[int]int64, error) {
	parts := make([]int, k.Partitions)
	for i := range parts {
		parts[i] = i
	}
	resp, err := k.client().OffsetFetch(ctx, &kafka.OffsetFetchRequest{
		GroupID: group,
		Topics:  map[string][]int{k.Topic: parts},
	})
	if err != nil {
		return nil, err
	}
	out := make(map[int]int64, k.Partitions)
	if errors.Is(resp.Error, kafka.GroupIdNotFound) {
		return out, nil // kfake's answer for a group that never committed
	}
	if resp.Error != nil {
		return nil, resp.Error
	}
	for _, p := range resp.Topics[k.Topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("partition %d: %w", p.Partition, p.Error)
		}
		if p.CommittedOffset >= 0 {
			out[p.Partition] = p.CommittedOffset
		}
	}
	return out, nil
}

// EndOffsets returns the end offset (high watermark: the offset the next
// message will get) of every partition of the topic, 0 for empty ones.
func (k *KafkaEnv) EndOffsets(t testing.TB) map[int]int64 {
	t.Helper()
	var out map[int]int64
	k.retry(t, "list end offsets", func(ctx context.Context) error {
		var err error
		out, err = k.endOffsets(ctx)
		return err
	})
	return out
}

func (k *KafkaEnv) endOffsets(ctx context.Context) (map[int]int64, error) {
	reqs := make([]kafka.OffsetRequest, k.Partitions)
	for i := range reqs {
		reqs[i] = kafka.LastOffsetOf(i)
	}
	resp, err := k.client().ListOffsets(ctx, &kafka.ListOffsetsRequest{
		Topics: map[string][]kafka.OffsetRequest{k.Topic: reqs},
	})
	if err != nil {
		return nil, err
	}
	out := make(map[int]int64, k.Partitions)
	for _, p := range resp.Topics[k.Topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("partition %d: %w", p.Partition, p.Error)
		}
		out[p.Partition] = p.LastOffset
	}
	if len(out) != k.Partitions {
		return nil, fmt.Errorf("got end offsets for %d partitions, want %d", len(out), k.Partitions)
	}
	return out, nil
}

// WaitCommitted waits until the group has committed every non-empty
// partition up to its end offset, and returns the committed offsets. It
// fails the test after timeout, reporting both sets of offsets.
func (k *KafkaEnv) WaitCommitted(t testing.TB, group string, timeout time.Duration) map[int]int64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	var committed, ends map[int]int64
	var err error
	for {
		if ends, err = k.endOffsets(ctx); err == nil {
			if committed, err = k.committed(ctx, group); err == nil && caughtUp(committed, ends) {
				return committed
			}
		}
		if err != nil {
			k.transport.CloseIdleConnections()
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: group %s did not commit up to the end offsets within %v: committed %v, end %v, last error %v",
				group, timeout, committed, ends, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func caughtUp(committed, ends map[int]int64) bool {
	for p, end := range ends {
		if end > 0 && committed[p] != end {
			return false
		}
	}
	return true
}

func (k *KafkaEnv) client() *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(k.Brokers...), Timeout: 5 * time.Second, Transport: k.transport}
}

// retry runs fn until it succeeds or fails for good, failing the test on
// an error that is not transient or after kafkaTimeout. A failed attempt
// drops pooled connections, which are stale after a broker restart.
func (k *KafkaEnv) retry(t testing.TB, what string, fn func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kafkaTimeout)
	defer cancel()
	for {
		err := fn(ctx)
		if err == nil {
			return
		}
		k.transport.CloseIdleConnections()
		if ctx.Err() != nil || !transient(err) {
			t.Fatalf("testenv: %s: %v", what, err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("testenv: %s: %v", what, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// transient reports whether err is worth retrying: a connection failure
// (the broker is restarting) or a Kafka error marked temporary.
func transient(err error) bool {
	var kerr kafka.Error
	if errors.As(err, &kerr) {
		return kerr.Temporary()
	}
	var nerr net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.As(err, &nerr)
}
