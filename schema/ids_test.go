package schema

import (
	"fmt"
	"testing"
)

// TestDictionaryWidths: a dictionary column's entry numbers take 1 byte a
// row up to 256 entries, 2 up to 65,536 and 4 beyond, widening as entries
// come, and every row reads back its own value whatever the width, after
// Append, after AppendBlock into a block of another width, and after Reset.
func TestDictionaryWidths(t *testing.T) {
	l := NewLayout(DefaultFormat, Enrichment{})
	iface := columnOf(t, l, InterfaceID)
	tests := []struct {
		entries int
		width   int // bytes per row once every entry is in
	}{
		{1, 1}, {256, 1}, {257, 2}, {65536, 2}, {65537, 4},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.entries), func(t *testing.T) {
			rows := max(tt.entries, 300)
			value := func(row int) string { return fmt.Sprintf("eni-%08x", row%tt.entries) }
			build := func(from, to int) *Block {
				b := NewBlock(l)
				var r Record
				for row := from; row < to; row++ {
					r.Reset()
					r.SetStr(InterfaceID, []byte(value(row)))
					r.SetInt(Version, 2)
					b.Append(&r, Pos{Offset: int64(row)}, 0)
				}
				return b
			}
			check := func(name string, b *Block, from int) {
				t.Helper()
				for row := range b.Len() {
					if got, want := string(b.Bytes(iface, row)), value(from+row); got != want {
						t.Fatalf("%s: row %d reads %q, want %q", name, row, got, want)
					}
				}
				if w := b.cols[iface].ids.width(); w != tt.width {
					t.Fatalf("%s: %d bytes a row, want %d", name, w, tt.width)
				}
				if got, want := b.Size(), sizeOf(b); got != want {
					t.Fatalf("%s: Size %d, rows take %d", name, got, want)
				}
			}
			whole := build(0, rows)
			check("appended", whole, 0)
			// Merged into a block that is narrow (few entries so far):
			// it widens as the other block's entries come in.
			merged := build(0, 10)
			merged.AppendBlock(build(10, rows))
			check("merged", merged, 0)
			whole.Reset()
			whole.AppendBlock(merged)
			check("reused", whole, 0)
			if d := whole.Column(iface); d.ID(rows-1) != uint32((rows-1)%tt.entries) {
				t.Fatalf("ColumnData.ID(%d) = %d", rows-1, d.ID(rows-1))
			}
		})
	}
}

// columnOf returns the index of field's column in l.
func columnOf(t *testing.T, l *Layout, f FieldID) int {
	t.Helper()
	for i, c := range l.Columns {
		if c.Field == f {
			return i
		}
	}
	t.Fatalf("layout has no column for field %d", f)
	return -1
}

// sizeOf is what Block.Size must report for b: every column's bytes a row,
// dictionary entries with their 8 bytes of bookkeeping, and the per-row
// overhead.
func sizeOf(b *Block) int {
	n := b.n * rowOverhead
	for i := range b.cols {
		c := &b.cols[i]
		switch {
		case c.dict:
			n += c.ids.len()*c.ids.width() + len(c.data) + 8*len(c.ends)
		case c.kind == KindString:
			n += len(c.data) + 4*len(c.ends)
		case c.kind == KindInt32:
			n += 4 * len(c.i32)
		default:
			n += 8*len(c.ints) + 4*len(c.u32)
		}
	}
	return n
}

// TestIntWidths: an INT64 column keeps 4 bytes a row while its values fit
// in 32 unsigned bits and 8 from the first that does not, and reads back
// every value, after Append and after AppendBlock between blocks of either
// width.
func TestIntWidths(t *testing.T) {
	l := NewLayout(DefaultFormat, Enrichment{})
	col := columnOf(t, l, Bytes)
	small := func(i int) int64 { return int64(i) * 1000 }
	big := func(i int) int64 {
		if i == 7 {
			return 1<<32 + int64(i)
		}
		return small(i)
	}
	build := func(n int, v func(int) int64) *Block {
		b := NewBlock(l)
		var r Record
		for i := range n {
			r.Reset()
			r.SetInt(Bytes, v(i))
			b.Append(&r, Pos{Offset: int64(i)}, 0)
		}
		return b
	}
	tests := []struct {
		name     string
		dst, src func(int) int64
		wantWide bool
		dstRows  int
	}{
		{"narrow into narrow", small, small, false, 10},
		{"wide into narrow", small, big, true, 10},
		{"narrow into wide", big, small, true, 10},
		{"wide into wide", big, big, true, 10},
		{"wide into empty", small, big, true, 0},
		{"max uint32 stays narrow", func(int) int64 { return 1<<32 - 1 }, small, false, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst, src := build(tt.dstRows, tt.dst), build(20, tt.src)
			dst.AppendBlock(src)
			for row := range dst.Len() {
				want := tt.dst(row)
				if row >= tt.dstRows {
					want = tt.src(row - tt.dstRows)
				}
				if got := dst.Int(col, row); got != want {
					t.Fatalf("row %d reads %d, want %d", row, got, want)
				}
			}
			if d := dst.Column(col); d.Narrow == tt.wantWide {
				t.Fatalf("narrow %v, want %v", d.Narrow, !tt.wantWide)
			}
			if got, want := dst.Size(), sizeOf(dst); got != want {
				t.Fatalf("Size %d, rows take %d", got, want)
			}
		})
	}
}
