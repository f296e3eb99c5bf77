package schema

import (
	"fmt"
	"testing"
)

func TestBlockAppendAndMerge(t *testing.T) {
	l := NewLayout(DefaultFormat, Enrichment{})
	p := NewParser(DefaultFormat, 0)
	var lines []string
	for i := 0; i < 150; i++ {
		if i%7 == 0 {
			lines = append(lines, fmt.Sprintf("2 123456789010 eni-%08x - - - - - - - %d %d - NODATA", i, 1700000000+i, 1700000060+i))
		} else {
			lines = append(lines, fmt.Sprintf("2 123456789010 eni-%08x 10.0.0.%d 10.0.1.1 %d 443 6 %d %d %d %d ACCEPT OK", i, i%250, 1000+i, i, i*10, 1700000000+i, 1700000060+i))
		}
	}
	// Split at unaligned points so bitmap merging is exercised.
	for _, split := range []int{0, 1, 63, 64, 65, 100, 150} {
		a, b, all := NewBlock(l), NewBlock(l), NewBlock(l)
		for i, line := range lines {
			var r Record
			if err := p.Parse([]byte(line), &r); err != nil {
				t.Fatal(err)
			}
			pos := Pos{Offset: int64(i)}
			if i < split {
				a.Append(&r, pos, r.Int[Start])
			} else {
				b.Append(&r, pos, r.Int[Start])
			}
			all.Append(&r, pos, r.Int[Start])
		}
		a.AppendBlock(b)
		if a.Len() != len(lines) || a.Size() != all.Size() {
			t.Fatalf("split %d: len %d size %d, want %d %d", split, a.Len(), a.Size(), len(lines), all.Size())
		}
		for row := range lines {
			for c, col := range l.Columns {
				if a.Valid(c, row) != all.Valid(c, row) {
					t.Fatalf("split %d row %d col %s: validity differs", split, row, col.Name)
				}
				if col.Kind == KindString && string(a.Bytes(c, row)) != string(all.Bytes(c, row)) {
					t.Fatalf("split %d row %d col %s: %q vs %q", split, row, col.Name, a.Bytes(c, row), all.Bytes(c, row))
				}
				if col.Kind != KindString && a.Int(c, row) != all.Int(c, row) {
					t.Fatalf("split %d row %d col %s: ints differ", split, row, col.Name)
				}
			}
		}
		if a.First.Offset != 0 || a.Last.Offset != int64(len(lines)-1) || a.MinTime != 1700000000 {
			t.Fatalf("split %d: first %v last %v min %d", split, a.First, a.Last, a.MinTime)
		}
		// A reused block (a pool's) holds the same rows as a new one, and
		// merging a block twice shares its dictionary entries.
		b.Reset()
		b.AppendBlock(all)
		b.AppendBlock(all)
		for row := range 2 * len(lines) {
			for c, col := range l.Columns {
				if b.Valid(c, row) != all.Valid(c, row%len(lines)) ||
					(col.Kind == KindString && string(b.Bytes(c, row)) != string(all.Bytes(c, row%len(lines)))) {
					t.Fatalf("split %d: reused block row %d col %s differs", split, row, col.Name)
				}
			}
		}
		if b.Size() >= 2*all.Size() {
			t.Fatalf("split %d: a block merged twice takes %d bytes, not less than twice %d", split, b.Size(), all.Size())
		}
	}
}

func TestLayoutStableAndEnriched(t *testing.T) {
	a, b := NewLayout(DefaultFormat, Enrichment{}), NewLayout(MustParseFormat(DefaultFormatText), Enrichment{})
	if a.ID != b.ID {
		t.Fatal("layout ID is not stable")
	}
	e := NewLayout(DefaultFormat, Enrichment{Enabled: true, TagKeys: []string{"Name", "cost-center"}})
	var names []string
	for _, c := range e.Columns[14:] {
		names = append(names, c.Name)
	}
	want := "[vpc_id subnet_id instance_id region az_id eni_interface_type eni_description eni_security_group_ids peer_subnet_id peer_vpc_id eni_tag_name eni_tag_cost_center]"
	if fmt.Sprint(names) != want {
		t.Fatalf("enrichment columns %v, want %s", names, want)
	}
	if e.ID == a.ID {
		t.Fatal("enriched layout has the same ID")
	}
}
