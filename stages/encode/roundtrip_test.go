package encode

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"flowlake/internal/testenv"
	"flowlake/schema"
)

// allFields is a format naming every field of versions 2 to 8.
func allFields(t testing.TB) *schema.Format {
	t.Helper()
	var s strings.Builder
	for id := schema.FieldID(0); id < schema.NumFlowFields; id++ {
		if !schema.Fields[id].Newer {
			fmt.Fprintf(&s, "${%s} ", schema.Fields[id].Token)
		}
	}
	f, err := schema.ParseFormat(s.String())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// randomBlock is n rows of l with every shape of value a column can hold:
// per column its own share of nulls (none, some, half, all), short, long
// and non-ASCII strings, a literal "-", dictionary columns of 1 to thousands of
// distinct values, negative and extreme integers. The rows are appended
// in parts and merged, as batches are built, so that dictionary entries
// are renumbered.
func randomBlock(t testing.TB, l *schema.Layout, n int, seed uint64) *schema.Block {
	b, _ := randomParts(t, l, n, seed)
	return b
}

// randomParts is randomBlock, and the three blocks it merged (as a batch
// chains segments).
func randomParts(t testing.TB, l *schema.Layout, n int, seed uint64) (*schema.Block, []*schema.Block) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	parts := []*schema.Block{schema.NewBlock(l), schema.NewBlock(l), schema.NewBlock(l)}
	var r schema.Record
	for i := range n {
		r.Reset()
		for c, col := range l.Columns {
			switch c % 7 {
			case 0: // never null
			case 4:
				if c%2 == 0 {
					continue // all null
				}
			case 2:
				if rng.IntN(2) == 0 {
					continue
				}
			default:
				if rng.IntN(10) == 0 {
					continue
				}
			}
			switch col.Kind {
			case schema.KindInt32:
				r.SetInt(col.Field, int64(int32(rng.Uint32()>>uint(rng.IntN(32)))))
			case schema.KindInt64:
				v := int64(rng.Uint64() >> uint(rng.IntN(64)))
				if c%3 == 0 {
					v = -v
				}
				r.SetInt(col.Field, v)
			default:
				r.SetStr(col.Field, randomString(rng, c, i))
			}
		}
		parts[i*len(parts)/max(n, 1)].Append(&r, schema.Pos{Offset: int64(i)}, int64(1700000000+i))
	}
	b := schema.NewBlock(l)
	for _, p := range parts {
		b.AppendBlock(p)
	}
	if b.Len() != n {
		t.Fatalf("block has %d rows, want %d", b.Len(), n)
	}
	return b, parts
}

func randomString(rng *rand.Rand, c, row int) []byte {
	switch c % 5 {
	case 0: // a handful of values
		return []byte([]string{"ACCEPT", "REJECT", "x", "-", "ünïcode ✓"}[rng.IntN(5)])
	case 1: // one value
		return []byte("us-east-1")
	case 2: // thousands of values
		return fmt.Appendf(nil, "eni-%017x", rng.IntN(3000))
	case 3: // long values, some short
		if rng.IntN(8) == 0 {
			return []byte{'/'}
		}
		return bytes.Repeat(fmt.Appendf(nil, "%d/", rng.IntN(40)), 1+rng.IntN(300))
	default: // mostly distinct
		return fmt.Appendf(nil, "10.%d.%d.%d", row%256, rng.IntN(256), rng.IntN(256))
	}
}

type layoutCase struct {
	name string
	l    *schema.Layout
}

func testLayouts(t testing.TB) []layoutCase {
	return []layoutCase{
		{"v2", schema.NewLayout(schema.DefaultFormat, schema.Enrichment{})},
		{"v2-enriched-tags", schema.NewLayout(schema.DefaultFormat, schema.Enrichment{Enabled: true, TagKeys: []string{"Name", "team", "cost-center"}})},
		{"v8-enriched", schema.NewLayout(allFields(t), schema.Enrichment{Enabled: true})},
	}
}

// TestEncodeEmptyStrings: files holding empty strings, between files that
// do not, come out as the reference writes them (a reused parquet-go writer
// would put min = max = "" into the header of a page of empty strings,
// where a new one puts none), and read back right.
func TestEncodeEmptyStrings(t *testing.T) {
	l := schema.NewLayout(schema.DefaultFormat, schema.Enrichment{Enabled: true})
	cfg := Config{Codec: "snappy", PageBytes: 4 << 10}
	e := mustNew(t, cfg)
	ref := mustNew(t, cfg)
	long := bytes.Repeat([]byte("x/"), 200)
	for i, n := range []int{1, 70, 4097, 4097, 300} {
		b := schema.NewBlock(l)
		var r schema.Record
		for row := range n {
			r.Reset()
			for c, col := range l.Columns {
				switch {
				case col.Kind != schema.KindString:
					r.SetInt(col.Field, int64(row))
				case i < 2:
					r.SetStr(col.Field, long[:1+row%50]) // files without empty strings first
				case row == 4096 || (i == 3 && c%3 == 0):
					r.SetStr(col.Field, nil) // a last page of one empty string; whole columns of them
				case c%3 == 1:
					r.SetStr(col.Field, long)
				}
			}
			b.Append(&r, schema.Pos{Offset: int64(row)}, 0)
		}
		var out, want bytes.Buffer
		meta := map[string]string{"file": fmt.Sprint(i)}
		if err := e.Encode(&out, []*schema.Block{b}, meta); err != nil {
			t.Fatal(err)
		}
		if err := encodeReference(ref, &want, []*schema.Block{b}, meta); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), want.Bytes()) {
			t.Fatalf("file %d of %d rows differs from the reference: %s", i, n, fileDiff(out.Bytes(), want.Bytes()))
		}
		checkParquetGo(t, out.Bytes(), b, meta, false)
		checkArrow(t, out.Bytes(), b, meta, false)
	}
}

// TestEncodeMatchesReference requires Encode, reusing its writers across
// files, to write byte for byte what the row-value encoder wrote, for every
// layout, codec, page size and null rendering, and checks every cell, the
// schema and the metadata with two independent readers (parquet-go's and
// Apache Arrow's).
func TestEncodeMatchesReference(t *testing.T) {
	configs := []Config{
		{Codec: "zstd"},
		{Codec: "zstd", ZstdLevel: "default", PageBytes: 4 << 10},
		{Codec: "snappy", PageBytes: 4 << 10},
		{Codec: "gzip", DashStrings: true},
		{Codec: "none", DashStrings: true, PageBytes: 1 << 10},
	}
	sizes := []int{1, 70, 4097, 300}
	seed := uint64(1)
	for _, lc := range testLayouts(t) {
		for _, cfg := range configs {
			t.Run(fmt.Sprintf("%s/%s%s/dash=%v/page=%d", lc.name, cfg.Codec, cfg.ZstdLevel, cfg.DashStrings, cfg.PageBytes), func(t *testing.T) {
				e := mustNew(t, cfg)
				ref := mustNew(t, cfg)
				blocks := make([]*schema.Block, len(sizes))
				inputs := make([][]*schema.Block, len(sizes)) // one block, or its parts
				metas := make([]map[string]string, len(sizes))
				for i, n := range sizes {
					seed++
					var parts []*schema.Block
					blocks[i], parts = randomParts(t, lc.l, n, seed)
					inputs[i] = []*schema.Block{blocks[i]}
					if i%2 == 1 {
						inputs[i] = parts
					}
					metas[i] = map[string]string{"flowlake.topic": "flows", "flowlake.first_offset": fmt.Sprint(seed), "a": ""}
				}
				got, want := make([]bytes.Buffer, len(sizes)), make([]bytes.Buffer, len(sizes))
				// Every file after the first is written by a reused writer.
				for i, in := range inputs {
					got[i].WriteString("prefix") // Encode appends to out
					if err := e.Encode(&got[i], in, metas[i]); err != nil {
						t.Fatal(err)
					}
					if err := encodeReference(ref, &want[i], in, metas[i]); err != nil {
						t.Fatal(err)
					}
				}
				for i, b := range blocks {
					file, ok := bytes.CutPrefix(got[i].Bytes(), []byte("prefix"))
					if !ok || !bytes.Equal(file, want[i].Bytes()) {
						t.Fatalf("%d rows: Encode wrote %d bytes that differ from the reference's %d: %s", b.Len(), len(file), want[i].Len(), fileDiff(file, want[i].Bytes()))
					}
					checkParquetGo(t, file, b, metas[i], cfg.DashStrings)
					checkArrow(t, file, b, metas[i], cfg.DashStrings)
				}
			})
		}
	}
}

// want is the value a reader must see in column c of row: nil for null,
// int32, int64 or string.
func want(b *schema.Block, c, row int, dash bool) any {
	col := b.Layout.Columns[c]
	if !b.Valid(c, row) {
		if dash && col.Kind == schema.KindString {
			return "-"
		}
		return nil
	}
	switch col.Kind {
	case schema.KindInt32:
		return int32(b.Int(c, row))
	case schema.KindInt64:
		return b.Int(c, row)
	}
	return string(b.Bytes(c, row))
}

func checkParquetGo(t *testing.T, data []byte, b *schema.Block, meta map[string]string, dash bool) {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if f.NumRows() != int64(b.Len()) {
		t.Fatalf("parquet-go: %d rows, want %d", f.NumRows(), b.Len())
	}
	elems := f.Metadata().Schema
	if len(elems) != len(b.Layout.Columns)+1 {
		t.Fatalf("parquet-go: %d schema elements, want %d", len(elems), len(b.Layout.Columns)+1)
	}
	for c, col := range b.Layout.Columns {
		el := elems[c+1]
		typ, str := format.ByteArray, true
		switch col.Kind {
		case schema.KindInt32:
			typ, str = format.Int32, false
		case schema.KindInt64:
			typ, str = format.Int64, false
		}
		if el.Name != col.Name || el.Type != thrift.New(typ) || el.RepetitionType != thrift.New(format.Optional) ||
			(el.LogicalType.Value != nil) != str {
			t.Fatalf("parquet-go: column %d is %+v, want %s %s optional", c, el, col.Name, typ)
		}
	}
	for k, v := range meta {
		if got, ok := f.Lookup(k); !ok || got != v {
			t.Fatalf("parquet-go: metadata %q = %q, want %q", k, got, v)
		}
	}
	for c, col := range b.Layout.Columns {
		chunkMeta := f.Metadata().RowGroups[0].Columns[c].MetaData
		if got := strings.Join(chunkMeta.PathInSchema, "."); got != col.Name {
			t.Fatalf("parquet-go: column %d path %q, want %q", c, got, col.Name)
		}
	}
	row := 0
	rows := make([]parquet.Row, 512)
	for _, rg := range f.RowGroups() {
		rr := rg.Rows()
		for {
			n, err := rr.ReadRows(rows)
			for _, r := range rows[:n] {
				for c := range b.Layout.Columns {
					var got any
					switch v := r[c]; {
					case v.IsNull():
					case v.Kind() == parquet.Int32:
						got = v.Int32()
					case v.Kind() == parquet.Int64:
						got = v.Int64()
					default:
						got = string(v.ByteArray())
					}
					if w := want(b, c, row, dash); got != w {
						t.Fatalf("parquet-go: row %d column %s = %#v, want %#v", row, b.Layout.Columns[c].Name, got, w)
					}
				}
				row++
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		rr.Close()
	}
	if row != b.Len() {
		t.Fatalf("parquet-go read %d rows, want %d", row, b.Len())
	}
}

func checkArrow(t *testing.T, data []byte, b *schema.Block, meta map[string]string, dash bool) {
	t.Helper()
	p := testenv.ReadParquetBytes(t, data)
	if len(p.Rows) != b.Len() {
		t.Fatalf("arrow: %d rows, want %d", len(p.Rows), b.Len())
	}
	if p.CreatedBy == "" || p.DataPageVersion != 1 {
		t.Fatalf("arrow: created_by %q, data page version %d", p.CreatedBy, p.DataPageVersion)
	}
	for k, v := range meta {
		if p.KeyValue[k] != v {
			t.Fatalf("arrow: metadata %q = %q, want %q", k, p.KeyValue[k], v)
		}
	}
	if len(p.Columns) != len(b.Layout.Columns) {
		t.Fatalf("arrow: %d columns, want %d", len(p.Columns), len(b.Layout.Columns))
	}
	for c, col := range b.Layout.Columns {
		pc := p.Columns[c]
		physical, logical := "BYTE_ARRAY", "String"
		switch col.Kind {
		case schema.KindInt32:
			physical, logical = "INT32", ""
		case schema.KindInt64:
			physical, logical = "INT64", ""
		}
		if pc.Name != col.Name || pc.Physical != physical || pc.Logical != logical || !pc.Optional {
			t.Fatalf("arrow: column %d is %+v, want %s %s %s optional", c, pc, col.Name, physical, logical)
		}
		for row := range b.Len() {
			if got, w := p.Rows[row][col.Name], want(b, c, row, dash); got != w {
				t.Fatalf("arrow: row %d column %s = %#v, want %#v", row, col.Name, got, w)
			}
		}
	}
}

// TestEncodeConcurrent encodes from several goroutines with one Encoder,
// as the output stage does, each file checked against the reference.
func TestEncodeConcurrent(t *testing.T) {
	lcs := testLayouts(t)
	e := mustNew(t, Config{})
	ref := mustNew(t, Config{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Go(func() {
			for i := range 3 {
				lc := lcs[(g+i)%len(lcs)]
				b := randomBlock(t, lc.l, 500+g*100+i, uint64(100+g*10+i))
				meta := map[string]string{"g": fmt.Sprint(g)}
				var got, want bytes.Buffer
				if err := e.Encode(&got, []*schema.Block{b}, meta); err != nil {
					errs <- err
					return
				}
				if err := encodeReference(ref, &want, []*schema.Block{b}, meta); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(got.Bytes(), want.Bytes()) {
					errs <- fmt.Errorf("goroutine %d file %d (%s) differs from the reference", g, i, lc.name)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
