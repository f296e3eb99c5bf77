package deadletter

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"flowlake/internal/testenv"
	"flowlake/schema"
)

// readTopic reads n messages from partition 0 of topic, from the start.
func readTopic(t *testing.T, brokers []string, topic string, n int) []kafka.Message {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: 0, MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []kafka.Message
	for len(out) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read %s after %d of %d messages: %v", topic, len(out), n, err)
		}
		out = append(out, m)
	}
	return out
}

func TestKafkaWriter(t *testing.T) {
	env := testenv.Kafka(t, "flows-dlq", 1)
	w := NewKafkaWriter(env.Brokers, env.Topic, nil)
	t.Cleanup(func() { _ = w.Close() })
	if w.String() != "kafka://flows-dlq" {
		t.Fatalf("String() = %q", w.String())
	}
	letters := sampleLetters()
	// Bigger than Kafka's 1 MiB message limit: truncated, not stuck.
	big := bytes.Repeat([]byte("0123456789"), 1<<20)
	letters = append(letters, schema.DeadLetter{Topic: "flows", Partition: 2, Offset: 300, Line: 2, Reason: schema.ReasonTooLong,
		Detail: "line_too_long: 10485760 bytes, limit 65536", Raw: big, Time: day2})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.Write(ctx, letters[:3]); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(ctx, letters[3:]); err != nil {
		t.Fatal(err)
	}

	msgs := readTopic(t, env.Brokers, env.Topic, len(letters))
	for i, m := range msgs {
		d := &letters[i] // one partition: order kept
		if want := d.Topic + "/" + strconv.Itoa(d.Partition) + "/" + strconv.FormatInt(d.Offset, 10); string(m.Key) != want {
			t.Errorf("message %d key %q, want %q", i, m.Key, want)
		}
		if d.Offset == 300 {
			var r Record
			if err := json.Unmarshal(m.Value, &r); err != nil {
				t.Fatal(err)
			}
			raw, _ := r.RawBytes()
			if !r.RawTruncated || r.RawSize != len(big) || len(raw) != DefaultKafkaMaxRawBytes || !bytes.HasPrefix(big, raw) {
				t.Errorf("huge letter: truncated %v size %d, %d raw bytes", r.RawTruncated, r.RawSize, len(raw))
			}
			if len(m.Value) > 1<<20 {
				t.Errorf("huge letter is a %d-byte message", len(m.Value))
			}
			continue
		}
		checkJSONLine(t, m.Value, d)
	}
}

func TestKafkaWriterStopsWithContext(t *testing.T) {
	// No broker listens there: Write retries until ctx ends, then says so.
	w := NewKafkaWriter([]string{"127.0.0.1:1"}, "nowhere", nil)
	t.Cleanup(func() { _ = w.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := w.Write(ctx, sampleLetters()[:1])
	if err == nil || ctx.Err() == nil {
		t.Fatalf("Write = %v with ctx %v", err, ctx.Err())
	}
}
