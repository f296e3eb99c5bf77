package encode

import (
	"bytes"
	"syscall"
	"testing"
	"time"

	"flowlake/schema"
)

// BenchmarkEncode encodes 200k default-format rows, with and without the
// enrichment columns, by Encode and by the reference row-value encoder it
// replaced. Besides ns/op it reports the process's CPU time per row
// (cpu-ns/row: user+system, garbage collection included), steadier than
// wall time on a shared machine, and the file's bytes per row.
func BenchmarkEncode(b *testing.B) {
	encoders := []struct {
		name string
		fn   func(*Encoder, *bytes.Buffer, []*schema.Block, map[string]string) error
	}{{"new", (*Encoder).Encode}, {"reference", encodeReference}}
	for _, enrich := range []bool{false, true} {
		name := "v2"
		if enrich {
			name = "v2-enriched"
		}
		blk := flowBlock(b, 200_000, enrich)
		for _, codec := range []string{"zstd", "snappy"} {
			for _, enc := range encoders {
				b.Run(name+"/"+codec+"/"+enc.name, func(b *testing.B) {
					e := mustNew(b, Config{Codec: codec})
					var out bytes.Buffer
					b.ReportAllocs()
					cpu0 := cpuTime()
					for b.Loop() {
						out.Reset()
						if err := enc.fn(e, &out, []*schema.Block{blk}, nil); err != nil {
							b.Fatal(err)
						}
					}
					rows := float64(b.N * blk.Len())
					b.ReportMetric(float64(cpuTime()-cpu0)/rows, "cpu-ns/row")
					b.ReportMetric(rows/b.Elapsed().Seconds(), "rows/s")
					b.ReportMetric(float64(out.Len())/float64(blk.Len()), "bytes/row")
				})
			}
		}
	}
}

// cpuTime is the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
