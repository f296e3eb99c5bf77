package schema

import (
	"fmt"
	"testing"
)

// TestChain: a chain keeps rows in segments of about its segment size,
// takes its segments after the first from its source, and reports the rows'
// positions, times, size and memory as one block holding them would.
func TestChain(t *testing.T) {
	l := NewLayout(DefaultFormat, Enrichment{})
	p := NewParser(DefaultFormat, 0)
	piece := func(lo, hi int) *Block {
		b := NewBlock(l)
		for i := lo; i < hi; i++ {
			var r Record
			line := fmt.Sprintf("2 123456789010 eni-%08x 10.0.0.%d 10.0.1.1 %d 443 6 %d %d %d %d ACCEPT OK", i%40, i%250, 1000+i, i, i*10, 1700000000+i%977, 1700000060+i)
			if err := p.Parse([]byte(line), &r); err != nil {
				t.Fatal(err)
			}
			b.Append(&r, Pos{Offset: int64(i)}, r.Int[Start])
		}
		return b
	}
	whole := piece(0, 3000)
	taken := 0
	c := NewChain(l, 8<<10, func(l *Layout) *Block { taken++; return NewBlock(l) })
	for lo := 0; lo < 3000; lo += 100 {
		c.AppendBlock(piece(lo, lo+100))
	}
	if c.Len() != whole.Len() || c.First != whole.First || c.Last != whole.Last || c.MinTime != whole.MinTime || c.MaxTime != whole.MaxTime {
		t.Fatalf("chain len %d first %v last %v times %d-%d; block %d %v %v %d-%d",
			c.Len(), c.First, c.Last, c.MinTime, c.MaxTime, whole.Len(), whole.First, whole.Last, whole.MinTime, whole.MaxTime)
	}
	if len(c.Blocks) < 3 || taken != len(c.Blocks)-1 {
		t.Fatalf("%d segments, %d taken from the source: want several, all but the first taken", len(c.Blocks), taken)
	}
	mem, rows := 0, 0
	for i, b := range c.Blocks {
		mem += b.Mem()
		rows += b.Len()
		if i < len(c.Blocks)-1 && b.Size() < 4<<10 {
			t.Fatalf("segment %d holds %d bytes, under half the segment size", i, b.Size())
		}
	}
	if rows != c.Len() || c.Mem() < mem {
		t.Fatalf("segments hold %d rows and %d bytes; chain says %d rows, %d bytes", rows, mem, c.Len(), c.Mem())
	}
	row := 0
	for _, b := range c.Blocks {
		for r := range b.Len() {
			for col, cl := range l.Columns {
				same := b.Valid(col, r) == whole.Valid(col, row)
				if cl.Kind == KindString {
					same = same && string(b.Bytes(col, r)) == string(whole.Bytes(col, row))
				} else {
					same = same && b.Int(col, r) == whole.Int(col, row)
				}
				if !same {
					t.Fatalf("row %d column %s differs", row, cl.Name)
				}
			}
			row++
		}
	}
	segments, released := len(c.Blocks), 0
	c.Release(func(*Block) { released++ })
	if released != segments || c.Len() != 0 || len(c.Blocks) != 0 {
		t.Fatalf("released %d of %d segments; %d rows left", released, segments, c.Len())
	}
}

// TestChainFillsCapacity: a segment past half the segment size takes the
// next rows while its slices have room for them (a pooled segment's
// capacity is counted whether used or not), and closes once they have not,
// or past twice the segment size.
func TestChainFillsCapacity(t *testing.T) {
	l := NewLayout(DefaultFormat, Enrichment{})
	p := NewParser(DefaultFormat, 0)
	piece := func(n int) *Block {
		b := NewBlock(l)
		for i := range n {
			var r Record
			line := fmt.Sprintf("2 123456789010 eni-%08x 10.0.0.%d 10.0.1.1 %d 443 6 %d %d %d %d ACCEPT OK", i%40, i%250, 1000+i, i, i*10, 1700000000+i, 1700000060+i)
			if err := p.Parse([]byte(line), &r); err != nil {
				t.Fatal(err)
			}
			b.Append(&r, Pos{Offset: int64(i)}, r.Int[Start])
		}
		return b
	}
	pooled := piece(1000) // a segment with room for 1000 rows, as a pool hands out
	pooled.Reset()
	one := piece(100)
	segment := one.Size() + one.Size()/2 // 100 rows are past half of it
	c := NewChain(l, segment, func(*Layout) *Block { return pooled })
	c.AppendBlock(one)
	c.AppendBlock(one) // a new segment: the first, grown from empty, has no room
	if len(c.Blocks) != 2 || c.Blocks[1] != pooled {
		t.Fatalf("%d segments after the first's capacity ran out, want the pooled second", len(c.Blocks))
	}
	c.AppendBlock(one) // 200 rows, past the segment size, with room for 800 more
	if len(c.Blocks) != 2 {
		t.Fatalf("a new segment while the pooled one has room for %d rows", pooled.room())
	}
	for c.Blocks[1].Size() < 2*segment {
		c.AppendBlock(one)
	}
	if len(c.Blocks) != 2 {
		t.Fatal("a new segment before the pooled one reached twice the segment size")
	}
	c.AppendBlock(one)
	if len(c.Blocks) != 3 {
		t.Fatalf("%d segments: a segment past twice the segment size took more rows", len(c.Blocks))
	}
}
