package output

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"flowlake/schema"
	"flowlake/stages/batch"
	"flowlake/stages/encode"
	"flowlake/stages/sink"
)

// TestFileBuffersReused: a finished write's file buffer is kept for the
// next write, within SetMaxIdle's bound, and reported by IdleBytes; with no room
// none is kept; every file lands whole either way.
func TestFileBuffersReused(t *testing.T) {
	l := schema.NewLayout(schema.DefaultFormat, schema.Enrichment{})
	p := schema.NewParser(schema.DefaultFormat, 0)
	newBatch := func(first int64, n int) *batch.Batch {
		c := schema.NewChain(l, batch.SegmentBytes, nil)
		b := schema.NewBlock(l)
		var r schema.Record
		for i := range n {
			line := fmt.Sprintf("2 123456789010 eni-%08x 10.0.0.%d 10.0.1.1 %d 443 6 %d %d 1700000000 1700000060 ACCEPT OK", i%9, i%250, 1000+i, i, i*10)
			if err := p.Parse([]byte(line), &r); err != nil {
				t.Fatal(err)
			}
			b.Append(&r, schema.Pos{Offset: first + int64(i)}, r.Int[schema.Start])
		}
		c.AppendBlock(b)
		return &batch.Batch{Key: schema.GroupKey{Account: "123456789010", Region: "us-east-1", Hour: 1699999200, Layout: l}, Rows: c}
	}
	tests := []struct {
		name     string
		maxIdle  int64
		wantKept bool
	}{
		{"room for the buffer", 64 << 20, true},
		{"no room", 0, false},
		{"room smaller than a file", 1 << 10, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := encode.New(encode.Config{})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			s, err := sink.NewLocal(dir)
			if err != nil {
				t.Fatal(err)
			}
			o := NewParquet(enc, s, "fl-0")
			o.SetMaxIdle(tt.maxIdle)
			held := int64(0)
			o.Mem = func(d int64) { held += d }
			for i := range 3 {
				bt := newBatch(int64(i)*10_000, 2000)
				n, err := o.Write(context.Background(), "flows", 0, bt)
				if err != nil {
					t.Fatal(err)
				}
				info, err := os.Stat(filepath.Join(dir, o.Key("flows", 0, bt)))
				if err != nil || info.Size() != int64(n) {
					t.Fatalf("file %d: %v, %d bytes on disk, Write said %d", i, err, info.Size(), n)
				}
				if kept := o.IdleBytes(); (kept > 0) != tt.wantKept || kept > tt.maxIdle {
					t.Fatalf("after write %d: %d bytes kept, want kept %v within %d", i, kept, tt.wantKept, tt.maxIdle)
				}
				if held != 0 {
					t.Fatalf("after write %d: %d bytes still counted as held", i, held)
				}
			}
		})
	}
}
