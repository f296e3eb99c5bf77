package pipeline_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"flowlake/internal/testenv"
	"flowlake/pipeline"
	"flowlake/stages/generate"
	"flowlake/stages/sink"
)

// BenchmarkEndToEnd consumes a pre-filled topic (kfake over TCP) into a
// local directory and reports records/s through the whole pipeline: fetch,
// parse, batch, Parquet encode, fsync'd files and checkpoints.
func BenchmarkEndToEnd(b *testing.B) {
	const records = 1_000_000
	for _, lines := range []int{1, 10} {
		b.Run(fmt.Sprintf("lines_per_msg=%d", lines), func(b *testing.B) {
			env := testenv.Kafka(b, "flows", 8)
			g, err := generate.New(generate.Config{Records: records, LinesPerMsg: lines, Accounts: 5, Hours: 2, Seed: 3})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := generate.Produce(context.Background(), g, env.Brokers, env.Topic, nil); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			files := int64(0)
			for i := 0; b.Loop(); i++ {
				out, err := sink.NewLocal(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				cfg := testConfig(env, fmt.Sprintf("bench-%d", i))
				cfg.ExitWhenIdle = 0
				cfg.Batch.MaxRows = 100_000
				cfg.Batch.MaxBytes = 128 << 20
				p, err := pipeline.New(cfg, pipeline.Deps{Sink: out}, nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- p.Run(ctx) }()
				for p.Stats().Records < records {
					time.Sleep(2 * time.Millisecond)
				}
				cancel() // soft stop: flush everything, checkpoint, commit
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				st := p.Stats()
				if st.Rows != records {
					b.Fatalf("rows %d, want %d", st.Rows, records)
				}
				files += st.Files
			}
			b.ReportMetric(float64(records*b.N)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(files)/float64(b.N), "files/op")
		})
	}
}
