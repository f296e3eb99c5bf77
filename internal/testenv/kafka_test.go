package testenv

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

func TestKafkaProduceAndOffsets(t *testing.T) {
	t.Parallel()
	const parts = 4
	k := Kafka(t, "flows", parts)
	if len(k.Brokers) != 1 || k.Topic != "flows" || k.Partitions != parts {
		t.Fatalf("env = %+v", k)
	}

	// Explicit partitions: partition p gets p*10 messages, 3 stays empty.
	var msgs []kafka.Message
	for p := range 3 {
		for i := range (p + 1) * 10 {
			msgs = append(msgs, kafka.Message{Partition: p, Value: fmt.Appendf(nil, "p%d-%d", p, i)})
		}
	}
	k.Produce(t, msgs)
	want := map[int]int64{0: 10, 1: 20, 2: 30, 3: 0}
	if got := k.EndOffsets(t); !maps.Equal(got, want) {
		t.Fatalf("EndOffsets = %v, want %v", got, want)
	}
	if msgs[0].Topic != "" || msgs[0].Partition != 0 {
		t.Fatalf("Produce changed the caller's message: %+v", msgs[0])
	}
	checkPartition(t, k, 1, 20, "p1-")

	// Balanced: spread round-robin, so every partition gains.
	bal := make([]kafka.Message, 40)
	for i := range bal {
		bal[i].Value = fmt.Appendf(nil, "b-%d", i)
	}
	k.ProduceBalanced(t, bal)
	ends := k.EndOffsets(t)
	var total int64
	for p, off := range ends {
		total += off
		if off <= want[p] {
			t.Errorf("partition %d end offset %d did not grow from %d", p, off, want[p])
		}
	}
	if total != 100 {
		t.Fatalf("EndOffsets %v sum to %d, want 100", ends, total)
	}

	// A group without commits has none.
	if got := k.CommittedOffsets(t, "nobody"); len(got) != 0 {
		t.Fatalf("CommittedOffsets of an unknown group = %v, want empty", got)
	}

	// Commit through a real group generation, the pipeline's path.
	commit := map[int]int64{0: ends[0], 1: ends[1], 2: ends[2], 3: ends[3]}
	commitWithGroup(t, k, "g", commit)
	if got := k.WaitCommitted(t, "g", 10*time.Second); !maps.Equal(got, commit) {
		t.Fatalf("WaitCommitted = %v, want %v", got, commit)
	}

	// Restart keeps records and commits; the helpers ride it out.
	k.Restart(t)
	if got := k.EndOffsets(t); !maps.Equal(got, ends) {
		t.Fatalf("EndOffsets after restart = %v, want %v", got, ends)
	}
	if got := k.CommittedOffsets(t, "g"); !maps.Equal(got, commit) {
		t.Fatalf("CommittedOffsets after restart = %v, want %v", got, commit)
	}
	k.Produce(t, []kafka.Message{{Partition: 3, Value: []byte("after")}})
	if got := k.EndOffsets(t)[3]; got != ends[3]+1 {
		t.Fatalf("partition 3 end offset after produce = %d, want %d", got, ends[3]+1)
	}
}

// checkPartition reads partition p from the start and checks it holds n
// messages with values prefix0..prefix(n-1), in order.
func checkPartition(t *testing.T, k *KafkaEnv, p, n int, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := kafka.DialLeader(ctx, "tcp", k.Brokers[0], k.Topic, p)
	if err != nil {
		t.Fatalf("dial partition %d: %v", p, err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	batch := conn.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond})
	defer batch.Close()
	for i := range n {
		m, err := batch.ReadMessage()
		if err != nil {
			t.Fatalf("partition %d message %d: %v", p, i, err)
		}
		if want := fmt.Sprintf("%s%d", prefix, i); string(m.Value) != want {
			t.Fatalf("partition %d offset %d = %q, want %q", p, m.Offset, m.Value, want)
		}
	}
}

func commitWithGroup(t *testing.T, k *KafkaEnv, group string, offsets map[int]int64) {
	t.Helper()
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:      group,
		Brokers: k.Brokers,
		Topics:  []string{k.Topic},
		Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	gen, err := cg.Next(ctx)
	if err != nil {
		t.Fatalf("join group: %v", err)
	}
	if err := gen.CommitOffsets(map[string]map[int]int64{k.Topic: offsets}); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

func TestKafkaEnvsAreIndependent(t *testing.T) {
	t.Parallel()
	a := Kafka(t, "a", 1)
	b := Kafka(t, "b", 2)
	if a.Brokers[0] == b.Brokers[0] {
		t.Fatalf("two envs share address %s", a.Brokers[0])
	}
	a.Produce(t, []kafka.Message{{Value: []byte("x")}})
	if got := b.EndOffsets(t); got[0] != 0 || got[1] != 0 {
		t.Fatalf("env b sees env a's message: %v", got)
	}
}
