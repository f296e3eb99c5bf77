package encode

import (
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
// the block's column arrays directly: integers and string offsets in bulk,
// nulls a bitmap word at a time, and for a dictionary column one prepared
// value per entry rather than one per row.
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
	}
	for lo := 0; lo < n; lo += chunkRows {
		hi := min(lo+chunkRows, n)
		v := s.vals[:hi-lo]
		switch {
		case col.Dict:
			ids := col.IDs[lo:hi]
			for i, id := range ids {
				if valid(col.Valid, lo+i) {
					v[i] = s.entries[id]
				} else {
					v[i] = null
				}
			}
		case col.Kind == schema.KindString:
			start := uint32(0)
			if lo > 0 {
				start = col.Ends[lo-1]
			}
			for i, end := range col.Ends[lo:hi] {
				if valid(col.Valid, lo+i) {
					v[i] = parquet.ByteArrayValue(col.Data[start:end:end]).Level(0, 1, c)
				} else {
					v[i] = null
				}
				start = end
			}
		case col.Kind == schema.KindInt32:
			for i, x := range col.Ints[lo:hi] {
				if valid(col.Valid, lo+i) {
					v[i] = parquet.Int32Value(int32(x)).Level(0, 1, c)
				} else {
					v[i] = null
				}
			}
		default:
			for i, x := range col.Ints[lo:hi] {
				if valid(col.Valid, lo+i) {
					v[i] = parquet.Int64Value(x).Level(0, 1, c)
				} else {
					v[i] = null
				}
			}
		}
		if _, err := w.WriteRowValues(v); err != nil {
			return err
		}
	}
	return nil
}

func valid(bits []uint64, row int) bool { return bits[row>>6]&(1<<(row&63)) != 0 }
