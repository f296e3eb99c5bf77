package schema

// ColumnData is a read-only view of one column of a Block, for encoders
// that work a column at a time. Its slices alias the block: they are valid
// until the block is next appended to or reset, and must not be modified.
type ColumnData struct {
	Kind Kind
	// Dict says the column keeps each distinct string once: Ends delimits
	// the entries and ID returns each row's entry (0 for a null row).
	Dict bool
	// Valid has bit row&63 of word row>>6 set when row is non-null; it
	// covers at least Len rows.
	Valid []uint64
	// Ints holds an INT64 column's rows, or Uints32 while every one of them
	// fits in 32 unsigned bits (Narrow), and Ints32 an INT32 column's (0
	// when null).
	Ints    []int64
	Uints32 []uint32
	Narrow  bool
	Ints32  []int32
	// Data and Ends hold a string column's strings: string i (row i, or
	// entry i of a dictionary column) spans Data[Ends[i-1]:Ends[i]], with
	// Ends[-1] read as 0.
	Data []byte
	Ends []uint32
	ids  *idList
}

// Column returns a read-only view of column col.
func (b *Block) Column(col int) ColumnData {
	c := &b.cols[col]
	return ColumnData{Kind: c.kind, Dict: c.dict, Valid: c.valid, Ints: c.ints, Uints32: c.u32, Narrow: c.kind == KindInt64 && !c.wide, Ints32: c.i32, Data: c.data, Ends: c.ends, ids: &c.ids}
}

// ID returns a dictionary column's entry of row.
func (d *ColumnData) ID(row int) uint32 { return d.ids.at(row) }

// NotNull reports whether row is non-null.
func (d *ColumnData) NotNull(row int) bool { return bitSet(d.Valid, row) }

// String returns string i of the column's arena: row i, or entry i of a
// dictionary column.
func (d *ColumnData) String(i int) []byte {
	start := uint32(0)
	if i > 0 {
		start = d.Ends[i-1]
	}
	return d.Data[start:d.Ends[i]:d.Ends[i]]
}
