package generate

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"flowlake/internal/broker"
)

// readPartition returns every message of one partition.
func readPartition(t *testing.T, ctx context.Context, addr, topic string, partition int) []kafka.Message {
	t.Helper()
	conn, err := kafka.DialLeader(ctx, "tcp", addr, topic, partition)
	if err != nil {
		t.Fatalf("dial partition %d: %v", partition, err)
	}
	defer conn.Close()
	last, err := conn.ReadLastOffset()
	if err != nil {
		t.Fatalf("last offset: %v", err)
	}
	if _, err := conn.Seek(0, kafka.SeekAbsolute); err != nil {
		t.Fatal(err)
	}
	var out []kafka.Message
	for int64(len(out)) < last {
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		batch := conn.ReadBatch(1, 16<<20)
		for {
			m, err := batch.ReadMessage()
			if err != nil {
				break
			}
			out = append(out, m)
		}
		if err := batch.Close(); err != nil {
			t.Fatalf("read partition %d: %v", partition, err)
		}
	}
	return out
}

func TestProduce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const partitions = 4
	b, err := broker.Start(ctx, broker.Config{Topics: map[string]int32{"flows": partitions, "flows-zstd": partitions}}, nil)
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	defer b.Close()

	for _, tc := range []struct {
		topic string
		cfg   Config
		opts  []ProduceOption
	}{
		{"flows", Config{Records: 20000, LinesPerMsg: 3, Seed: 9, Start: testStart, BadRatio: 0.01}, []ProduceOption{WithChunk(500, 1<<20)}},
		{"flows-zstd", Config{Records: 5000, LinesPerMsg: 20, Seed: 10, Start: testStart, Envelope: EnvelopeCloudWatch},
			[]ProduceOption{WithCompression("zstd"), WithProgressInterval(time.Millisecond)}},
	} {
		t.Run(tc.topic, func(t *testing.T) {
			g, err := New(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, nil))
			st, err := Produce(ctx, g, b.Addrs(), tc.topic, logger, tc.opts...)
			if err != nil {
				t.Fatalf("Produce: %v\n%s", err, logs.String())
			}
			if st.Records != int64(tc.cfg.Records) || !strings.Contains(logs.String(), "produced flow log records") {
				t.Fatalf("stats %+v; logs:\n%s", st, logs.String())
			}
			// What the broker holds is what a fresh generator makes: per key,
			// the same values in the same order, each key on one partition.
			_, want := generateAll(t, tc.cfg)
			wantByKey := map[string][][]byte{}
			for _, m := range want {
				wantByKey[string(m.key)] = append(wantByKey[string(m.key)], m.value)
			}
			partOf := map[string]int{}
			gotByKey := map[string][][]byte{}
			total := 0
			for p := 0; p < partitions; p++ {
				msgs := readPartition(t, ctx, b.Addrs()[0], tc.topic, p)
				if len(msgs) == 0 {
					t.Errorf("partition %d is empty", p)
				}
				for _, m := range msgs {
					k := string(m.Key)
					if q, ok := partOf[k]; ok && q != p {
						t.Fatalf("key %s on partitions %d and %d", k, q, p)
					}
					partOf[k] = p
					gotByKey[k] = append(gotByKey[k], m.Value)
					total++
				}
			}
			if int64(total) != st.Messages || total != len(want) {
				t.Fatalf("broker has %d messages, generated %d (stats %d)", total, len(want), st.Messages)
			}
			for k, vals := range wantByKey {
				got := gotByKey[k]
				if len(got) != len(vals) {
					t.Fatalf("key %s: %d messages, want %d", k, len(got), len(vals))
				}
				for i := range vals {
					if !bytes.Equal(got[i], vals[i]) {
						t.Fatalf("key %s message %d differs", k, i)
					}
				}
			}
		})
	}

	t.Run("errors", func(t *testing.T) {
		g, _ := New(Config{Records: 10, Start: testStart})
		if _, err := Produce(ctx, g, b.Addrs(), "flows", nil, WithCompression("brotli")); err == nil {
			t.Fatal("unknown compression accepted")
		}
		if _, err := Produce(ctx, g, nil, "flows", nil); err == nil {
			t.Fatal("no brokers accepted")
		}
		cctx, ccancel := context.WithCancel(ctx)
		ccancel()
		g, _ = New(Config{Records: 100000, Start: testStart})
		if _, err := Produce(cctx, g, b.Addrs(), "flows", nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("Produce with a cancelled context: %v", err)
		}
	})
}
