package parse

import (
	"runtime"
	"testing"
	"time"

	"flowlake/schema"
	"flowlake/stages/generate"
)

// benchStream generates messages of one envelope and format.
func benchStream(b *testing.B, env string, format *schema.Format, records, perMsg int, seed int64) (msgs []Message, nrec int, nbytes int) {
	b.Helper()
	g, err := generate.New(generate.Config{Records: records, LinesPerMsg: perMsg, Accounts: 20, Hours: 2, Seed: seed,
		Envelope: env, Format: format, Start: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		b.Fatal(err)
	}
	for off := int64(0); ; off++ {
		msg, _, n, ok := g.Next(nil)
		if !ok {
			break
		}
		msgs = append(msgs, Message{Offset: off, Value: msg, Time: time.Unix(1767312000, 0)})
		nrec += n
		nbytes += len(msg)
	}
	return msgs, nrec, nbytes
}

// v5Bench is the AWS v5 example format, delivered with header lines.
var v5Bench = schema.MustParseFormat("${version} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${start} ${end} ${type} ${packets} ${bytes} ${account-id} ${vpc-id} ${subnet-id} ${instance-id} ${interface-id} ${region} ${az-id} ${sublocation-type} ${sublocation-id} ${action} ${tcp-flags} ${pkt-srcaddr} ${pkt-dstaddr} ${pkt-src-aws-service} ${pkt-dst-aws-service} ${traffic-path} ${flow-direction} ${log-status}")

// BenchmarkWorker runs streams through one worker, so every figure is per
// core: MB/s of message bytes as they arrive from Kafka (compressed when
// they are), records/s, and heap allocations per record.
func BenchmarkWorker(b *testing.B) {
	type part struct {
		env    string
		format *schema.Format
		perMsg int
	}
	streams := []struct {
		name  string
		parts []part
	}{
		{"text-v2", []part{{generate.EnvelopeText, nil, 50}}},
		{"header-v5", []part{{generate.EnvelopeHeader, v5Bench, 50}}},
		{"gzip-v2", []part{{generate.EnvelopeGzip, nil, 50}}},
		{"cloudwatch-v2", []part{{generate.EnvelopeCloudWatch, nil, 50}}},
		{"mixed", []part{
			{generate.EnvelopeText, nil, 50}, {generate.EnvelopeHeader, v5Bench, 50},
			{generate.EnvelopeGzip, nil, 50}, {generate.EnvelopeCloudWatch, nil, 50},
		}},
	}
	for _, st := range streams {
		b.Run(st.name, func(b *testing.B) {
			var msgs []Message
			records, size := 0, 0
			for i, p := range st.parts {
				m, n, sz := benchStream(b, p.env, p.format, 20_000, p.perMsg, int64(i+1))
				for j := range m {
					m[j].Offset = int64(len(msgs) + j)
				}
				msgs = append(msgs, m...)
				records += n
				size += sz
			}
			if len(st.parts) > 1 { // interleave the formats message by message
				mixed := make([]Message, 0, len(msgs))
				per := len(msgs) / len(st.parts)
				for i := 0; i < per; i++ {
					for k := range st.parts {
						mixed = append(mixed, msgs[k*per+i])
					}
				}
				mixed = append(mixed, msgs[per*len(st.parts):]...)
				for i := range mixed {
					mixed[i].Offset = int64(i)
				}
				msgs = mixed
			}
			p, err := NewPool(Config{Workers: 1, Region: "us-east-1"}, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			w := p.newWorker()
			run := func() *Chunk {
				c := NewChunk("flows", 0, msgs)
				w.process(c)
				if c.Stats.Rows != int64(records) || c.Stats.Dead != 0 {
					b.Fatalf("rows %d dead %d, want %d rows", c.Stats.Rows, c.Stats.Dead, records)
				}
				p.Release(c)
				return c
			}
			run() // warm the block pool and the intern table
			b.SetBytes(int64(size))
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			for b.Loop() {
				run()
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			n := float64(b.N) * float64(records)
			b.ReportMetric(n/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/record")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/n, "B/record")
		})
	}
}
