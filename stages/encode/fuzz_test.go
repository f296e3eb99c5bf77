package encode

import (
	"bytes"
	"encoding/binary"
	"testing"

	"flowlake/schema"
)

// FuzzEncodeMatchesReference builds blocks from arbitrary bytes (any
// string bytes, 0xFF runs that round column index bounds up, empty
// strings, nulls, extreme integers, a row group split over several
// blocks and pages) and requires Encode to write what parquet-go's writer
// writes, and both readers to read the rows back.
func FuzzEncodeMatchesReference(f *testing.F) {
	f.Add([]byte("ACCEPT REJECT eni-0123456789abcdef0 10.0.0.1"), uint8(0))
	f.Add(bytes.Repeat([]byte{0xff}, 64), uint8(4))
	f.Add([]byte{0, 0, 0, 0, 1, 2, 3, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x80}, uint8(7))
	l := schema.NewLayout(schema.DefaultFormat, schema.Enrichment{Enabled: true, TagKeys: []string{"Name"}})
	configs := []Config{
		{Codec: "none", PageBytes: 256},
		{Codec: "snappy", DashStrings: true, PageBytes: 1 << 10},
		{Codec: "zstd"},
	}
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		if len(data) == 0 {
			return
		}
		cfg := configs[int(mode)%len(configs)]
		parts := 1 + int(mode/3)%3
		rows := min(1+len(data)/3, 3000)
		k := 0
		next := func(n int) []byte { // n bytes of data, wrapping around
			out := make([]byte, n)
			for i := range out {
				out[i] = data[k%len(data)]
				k++
			}
			return out
		}
		blocks := make([]*schema.Block, parts)
		for i := range blocks {
			blocks[i] = schema.NewBlock(l)
		}
		var r schema.Record
		for row := range rows {
			r.Reset()
			for _, col := range l.Columns {
				b := next(1)[0]
				if b%5 == 0 {
					continue // null
				}
				switch col.Kind {
				case schema.KindInt32:
					r.SetInt(col.Field, int64(int32(binary.LittleEndian.Uint32(next(4)))))
				case schema.KindInt64:
					r.SetInt(col.Field, int64(binary.LittleEndian.Uint64(next(8))))
				default:
					r.SetStr(col.Field, next(int(b%24)))
				}
			}
			blocks[row*parts/rows].Append(&r, schema.Pos{Offset: int64(row)}, 0)
		}
		for len(blocks) > 1 && blocks[len(blocks)-1].Len() == 0 {
			blocks = blocks[:len(blocks)-1]
		}
		e, ref := mustNew(t, cfg), mustNew(t, cfg)
		meta := map[string]string{"k": string(next(3))}
		var got, want bytes.Buffer
		if err := e.Encode(&got, blocks, meta); err != nil {
			t.Fatal(err)
		}
		if err := encodeReference(ref, &want, blocks, meta); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("%d rows in %d blocks: %s", rows, len(blocks), fileDiff(got.Bytes(), want.Bytes()))
		}
		whole := schema.NewBlock(l)
		for _, b := range blocks {
			whole.AppendBlock(b)
		}
		checkParquetGo(t, got.Bytes(), whole, meta, cfg.DashStrings)
		checkArrow(t, got.Bytes(), whole, meta, cfg.DashStrings)
	})
}
