package encode

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/parquet-go/parquet-go"

	"flowlake/schema"
)

// encodeReference is the encoder as it was before it read the block's
// column arrays: one parquet.Value per cell, built through the block's
// per-cell accessors, by a new parquet.Writer per file. The tests require
// Encode to write the very same bytes.
func encodeReference(e *Encoder, out *bytes.Buffer, blocks []*schema.Block, meta map[string]string) error {
	if len(blocks) == 0 {
		return fmt.Errorf("encode: no rows")
	}
	layout := blocks[0].Layout
	tmpl, err := e.template(layout)
	if err != nil {
		return err
	}
	sch := tmpl.parquetSchema
	opts := []parquet.WriterOption{
		sch,
		parquet.Compression(e.codec),
		parquet.DataPageVersion(1),
		parquet.PageBufferSize(e.cfg.PageBytes),
		parquet.CreatedBy("flowlake", Version, ""),
		parquet.DataPageStatistics(true),
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		opts = append(opts, parquet.KeyValueMetadata(k, meta[k]))
	}
	w := parquet.NewWriter(out, opts...)
	cws := w.ColumnWriters()
	vals := make([]parquet.Value, chunkRows)
	dash := []byte("-")
	for c, col := range layout.Columns {
		if err := referenceColumn(e, cws[c], blocks, c, col, vals, dash); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("close parquet writer: %w", err)
	}
	return nil
}

// column writes column c of every block.
func referenceColumn(e *Encoder, cw *parquet.ColumnWriter, blocks []*schema.Block, c int, col schema.Column, vals []parquet.Value, dash []byte) error {
	for _, b := range blocks {
		if b.Layout != blocks[0].Layout {
			return fmt.Errorf("encode: blocks of different layouts")
		}
		n := b.Len()
		for lo := 0; lo < n; lo += chunkRows {
			hi := min(lo+chunkRows, n)
			v := vals[:hi-lo]
			for row := lo; row < hi; row++ {
				var pv parquet.Value
				if b.Valid(c, row) {
					switch col.Kind {
					case schema.KindInt32:
						pv = parquet.Int32Value(int32(b.Int(c, row))).Level(0, 1, c)
					case schema.KindInt64:
						pv = parquet.Int64Value(b.Int(c, row)).Level(0, 1, c)
					default:
						pv = parquet.ByteArrayValue(b.Bytes(c, row)).Level(0, 1, c)
					}
				} else if e.cfg.DashStrings && col.Kind == schema.KindString {
					pv = parquet.ByteArrayValue(dash).Level(0, 1, c)
				} else {
					pv = parquet.NullValue().Level(0, 0, c)
				}
				v[row-lo] = pv
			}
			if _, err := cw.WriteRowValues(v); err != nil {
				return fmt.Errorf("write column %s: %w", col.Name, err)
			}
		}
	}
	return nil
}
