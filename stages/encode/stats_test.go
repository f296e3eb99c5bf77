package encode

import (
	"bytes"
	"testing"

	"github.com/parquet-go/parquet-go"

	"flowlake/schema"
)

// TestStatistics checks the statistics query engines prune files and pages
// with: each column chunk's min, max and null count, computed from the
// rows themselves, and a column index for every column.
func TestStatistics(t *testing.T) {
	const n = 5_000
	b := flowBlock(t, n, true)
	var out bytes.Buffer
	if err := mustNew(t, Config{}).Encode(&out, []*schema.Block{b}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(out.Bytes()), int64(out.Len()))
	if err != nil {
		t.Fatal(err)
	}
	l := b.Layout
	rg := f.Metadata().RowGroups[0]
	indexes := f.ColumnIndexes()
	if len(indexes) != len(l.Columns) {
		t.Fatalf("%d column indexes for %d columns", len(indexes), len(l.Columns))
	}
	for c, col := range l.Columns {
		st := rg.Columns[c].MetaData.Statistics
		// What the rows say.
		nulls, set := int64(0), 0
		var lo, hi []byte
		var ilo, ihi int64
		for row := range n {
			if !b.Valid(c, row) {
				nulls++
				continue
			}
			if col.Kind == schema.KindString {
				v := b.Bytes(c, row)
				if set == 0 || bytes.Compare(v, lo) < 0 {
					lo = v
				}
				if set == 0 || bytes.Compare(v, hi) > 0 {
					hi = v
				}
			} else {
				v := b.Int(c, row)
				if set == 0 || v < ilo {
					ilo = v
				}
				if set == 0 || v > ihi {
					ihi = v
				}
			}
			set++
		}
		if st.NullCount != nulls {
			t.Errorf("%s: null count %d, want %d", col.Name, st.NullCount, nulls)
		}
		if set == 0 {
			continue
		}
		kind := f.Schema().Fields()[c].Type().Kind()
		gotLo, gotHi := kind.Value(st.MinValue), kind.Value(st.MaxValue)
		if col.Kind == schema.KindString {
			if !bytes.Equal(gotLo.ByteArray(), lo) || !bytes.Equal(gotHi.ByteArray(), hi) {
				t.Errorf("%s: min/max %q/%q, want %q/%q", col.Name, gotLo.ByteArray(), gotHi.ByteArray(), lo, hi)
			}
		} else if gotLo.Int64() != ilo || gotHi.Int64() != ihi {
			t.Errorf("%s: min/max %d/%d, want %d/%d", col.Name, gotLo.Int64(), gotHi.Int64(), ilo, ihi)
		}
		if len(indexes[c].MinValues) == 0 || len(indexes[c].MinValues) != len(indexes[c].MaxValues) {
			t.Errorf("%s: column index has %d/%d bounds", col.Name, len(indexes[c].MinValues), len(indexes[c].MaxValues))
		}
	}
}
