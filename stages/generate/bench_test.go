package generate

import (
	"context"
	"fmt"
	"testing"
	"time"

	"flowlake/internal/broker"
	"flowlake/schema"
)

var benchStart = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

// BenchmarkNext measures record generation per envelope and format; the
// records/s metric is what matters to the pipeline's benchmarks.
func BenchmarkNext(b *testing.B) {
	for _, bc := range []struct {
		name   string
		format *schema.Format
		env    string
		lines  int
	}{
		{"default/text/1", nil, EnvelopeText, 1},
		{"default/text/100", nil, EnvelopeText, 100},
		{"v5/text/1", formatV5, EnvelopeText, 1},
		{"v8/text/1", formatV8, EnvelopeText, 1},
		{"default/gzip/100", nil, EnvelopeGzip, 100},
		{"default/cloudwatch/100", nil, EnvelopeCloudWatch, 100},
		{"default/gzip/1", nil, EnvelopeGzip, 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			g, err := New(Config{Records: 1 << 62, LinesPerMsg: bc.lines, Format: bc.format, Envelope: bc.env,
				Seed: 1, Start: benchStart, Hours: 24, BadRatio: 0.001})
			if err != nil {
				b.Fatal(err)
			}
			var buf []byte
			records := 0
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				msg, _, n, ok := g.Next(buf[:0])
				if !ok {
					b.Fatal("generator ran dry")
				}
				buf = msg
				records += n
			}
			b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
			b.SetBytes(g.Stats().Bytes / int64(max(b.N, 1)))
		})
	}
}

// BenchmarkProduce measures Produce against the in-process broker, one
// record per message.
func BenchmarkProduce(b *testing.B) {
	ctx := context.Background()
	br, err := broker.Start(ctx, broker.Config{Topics: map[string]int32{"flows": 8}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	for _, lines := range []int{1, 50} {
		b.Run(fmt.Sprintf("lines=%d", lines), func(b *testing.B) {
			records := 0
			for b.Loop() {
				g, err := New(Config{Records: 200000, LinesPerMsg: lines, Seed: 1, Start: benchStart})
				if err != nil {
					b.Fatal(err)
				}
				st, err := Produce(ctx, g, br.Addrs(), "flows", nil)
				if err != nil {
					b.Fatal(err)
				}
				records += int(st.Records)
			}
			b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
