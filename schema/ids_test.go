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
	iface := -1
	for i, c := range l.Columns {
		if c.Field == InterfaceID {
			iface = i
		}
	}
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
			n += 8 * len(c.ints)
		}
	}
	return n
}
