package encode

import (
	"math/bits"

	"github.com/parquet-go/parquet-go"

	"flowlake/schema"
)

// scratch is one Encode's reusable memory: the values of a chunk of rows,
// and the value of each dictionary entry of the column being written.
type scratch struct {
	vals    []parquet.Value
	entries []parquet.Value
}

var dash = []byte("-")

// writeColumn writes column c of b to w, chunkRows rows at a time. It reads
// the block's column arrays directly: a tight loop fills a chunk as if no
// row were null, then the validity bitmap, a word at a time, marks the null
// rows; a dictionary column's rows copy one value prepared per entry.
func (s *scratch) writeColumn(w *parquet.ColumnWriter, b *schema.Block, c int, dashStrings bool) error {
	col := b.Column(c)
	n := b.Len()
	null := parquet.NullValue().Level(0, 0, c)
	if dashStrings && col.Kind == schema.KindString {
		null = parquet.ByteArrayValue(dash).Level(0, 1, c)
	}
	if col.Dict {
		s.entries = s.entries[:0]
		for i := range col.Ends {
			s.entries = append(s.entries, parquet.ByteArrayValue(col.String(i)).Level(0, 1, c))
		}
		if len(s.entries) == 0 { // every row is null; ids are 0
			s.entries = append(s.entries, null)
		}
	}
	for lo := 0; lo < n; lo += chunkRows {
		hi := min(lo+chunkRows, n)
		v := s.vals[:hi-lo]
		switch {
		case col.Dict:
			for i, id := range col.IDs[lo:hi] {
				v[i] = s.entries[id]
			}
		case col.Kind == schema.KindString:
			start := uint32(0)
			if lo > 0 {
				start = col.Ends[lo-1]
			}
			for i, end := range col.Ends[lo:hi] {
				v[i] = parquet.ByteArrayValue(col.Data[start:end:end])
				v[i].SetDefinitionLevel(1)
				v[i].SetColumnIndex(c)
				start = end
			}
		case col.Kind == schema.KindInt32:
			for i, x := range col.Ints[lo:hi] {
				v[i] = parquet.Int32Value(int32(x))
				v[i].SetDefinitionLevel(1)
				v[i].SetColumnIndex(c)
			}
		default:
			for i, x := range col.Ints[lo:hi] {
				v[i] = parquet.Int64Value(x)
				v[i].SetDefinitionLevel(1)
				v[i].SetColumnIndex(c)
			}
		}
		setNulls(v, col.Valid, lo, null)
		if _, err := w.WriteRowValues(v); err != nil {
			return err
		}
	}
	return nil
}

// setNulls sets v[i] to null for every row lo+i whose validity bit is
// clear. lo is a multiple of 64.
func setNulls(v []parquet.Value, valid []uint64, lo int, null parquet.Value) {
	for w := 0; w < len(v); w += 64 {
		missing := ^valid[(lo+w)>>6]
		if rest := len(v) - w; rest < 64 {
			missing &= 1<<uint(rest) - 1
		}
		for missing != 0 {
			v[w+bits.TrailingZeros64(missing)] = null
			missing &= missing - 1
		}
	}
}
