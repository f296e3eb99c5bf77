package encode

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"

	"github.com/parquet-go/parquet-go"

	"flowlake/schema"
)

var testLayout = schema.NewLayout(schema.DefaultFormat, schema.Enrichment{})

func block(tb testing.TB, n int) *schema.Block { return blockRange(tb, 0, n) }

// blockRange returns a block of the test rows lo to hi.
func blockRange(tb testing.TB, lo, hi int) *schema.Block { return flowRange(tb, testLayout, lo, hi) }

// flowBlock is n default-format records, enriched or not.
func flowBlock(tb testing.TB, n int, enrich bool) *schema.Block {
	return flowRange(tb, schema.NewLayout(schema.DefaultFormat, schema.Enrichment{Enabled: enrich}), 0, n)
}

// flowRange returns the test rows lo to hi of layout l: default-format
// records over 3 accounts and 400 interfaces, one in 50 a NODATA record;
// in an enriched layout they gain the ENI inventory's columns as the
// pipeline fills them (per interface, some interfaces unknown).
func flowRange(tb testing.TB, l *schema.Layout, lo, hi int) *schema.Block {
	tb.Helper()
	enrich := len(l.Columns) > schema.DefaultFormat.Len()
	b := schema.NewBlock(l)
	p := schema.NewParser(schema.DefaultFormat, 0)
	var r schema.Record
	for i := lo; i < hi; i++ {
		var line string
		if i%50 == 0 {
			line = fmt.Sprintf("2 12345678901%d eni-%017x - - - - - - - %d %d - NODATA", i%3, i%400, 1700000000+i/10, 1700000060+i/10)
		} else {
			line = fmt.Sprintf("2 12345678901%d eni-%017x 10.%d.%d.%d 172.16.%d.%d %d 443 6 %d %d %d %d ACCEPT OK", i%3, i%400,
				i%7, i%250, i%199, i%13, i%251, 1024+i%60000, 1+i%90, 40+i%9000, 1700000000+i/10, 1700000060+i/10)
		}
		r.Reset()
		if err := p.Parse([]byte(line), &r); err != nil {
			tb.Fatal(err)
		}
		if eni := i % 400; enrich && eni%10 != 0 {
			r.SetStr(schema.VpcID, fmt.Appendf(nil, "vpc-%017x", eni%7))
			r.SetStr(schema.SubnetID, fmt.Appendf(nil, "subnet-%017x", eni%40))
			r.SetStr(schema.InstanceID, fmt.Appendf(nil, "i-%017x", eni))
			r.SetStr(schema.Region, []byte("us-east-1"))
			r.SetStr(schema.AzID, fmt.Appendf(nil, "use1-az%d", eni%6+1))
			r.SetStr(schema.ENIType, []byte("interface"))
			r.SetStr(schema.ENIDescription, fmt.Appendf(nil, "Primary network interface %d", eni))
			r.SetStr(schema.ENISecurityGroupIDs, fmt.Appendf(nil, "sg-%017x", eni%25))
			if eni%3 == 0 {
				r.SetStr(schema.PeerSubnetID, fmt.Appendf(nil, "subnet-%017x", eni%11))
				r.SetStr(schema.PeerVpcID, fmt.Appendf(nil, "vpc-%017x", eni%5))
			}
		}
		b.Append(&r, schema.Pos{Offset: int64(i)}, r.Int[schema.Start])
	}
	return b
}

// mustNew returns an encoder for cfg or fails the test.
func mustNew(tb testing.TB, cfg Config) *Encoder {
	tb.Helper()
	e, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

func TestEncodeRoundTrip(t *testing.T) {
	tests := []struct {
		codec string
		dash  bool
	}{{"zstd", false}, {"snappy", false}, {"gzip", true}, {"none", false}}
	for _, tt := range tests {
		t.Run(tt.codec, func(t *testing.T) {
			e := mustNew(t, Config{Codec: tt.codec, DashStrings: tt.dash})
			b := block(t, 10_000)
			var out bytes.Buffer
			if err := e.Encode(&out, []*schema.Block{b}, map[string]string{"k": "v"}); err != nil {
				t.Fatal(err)
			}
			f, err := parquet.OpenFile(bytes.NewReader(out.Bytes()), int64(out.Len()))
			if err != nil {
				t.Fatal(err)
			}
			if f.NumRows() != 10_000 {
				t.Fatalf("rows %d", f.NumRows())
			}
			if v, _ := f.Lookup("k"); v != "v" {
				t.Fatalf("metadata %q", v)
			}
			rows := make([]parquet.Row, 100)
			rr := f.RowGroups()[0].Rows()
			defer rr.Close()
			n, _ := rr.ReadRows(rows)
			if n == 0 {
				t.Fatal("no rows read")
			}
			// Row 0 is NODATA: srcaddr (column 3) is null or "-", srcport (5) null.
			row := rows[0]
			if tt.dash {
				if string(row[3].ByteArray()) != "-" {
					t.Fatalf("dash mode: srcaddr %v", row[3])
				}
			} else if !row[3].IsNull() {
				t.Fatalf("srcaddr of NODATA is %v, want null", row[3])
			}
			if !row[5].IsNull() {
				t.Fatalf("srcport of NODATA is %v, want null", row[5])
			}
			if got := row[10].Int64(); got != 1700000000 {
				t.Fatalf("start %d", got)
			}
			if got := string(rows[1][3].ByteArray()); got != "10.1.1.1" {
				t.Fatalf("srcaddr of row 1 = %q", got)
			}
		})
	}
	if _, err := New(Config{Codec: "lz5"}); err == nil {
		t.Fatal("unknown codec accepted")
	}
}

// TestZstdLevels: each level writes the same rows, and the level is the
// one asked for: on these rows, whose values cycle with short periods,
// each slower level makes a smaller file than the one before it. Unknown levels are
// refused.
func TestZstdLevels(t *testing.T) {
	b := flowBlock(t, 50_000, true)
	prev := 0
	for _, level := range ZstdLevels {
		e := mustNew(t, Config{ZstdLevel: level})
		var out bytes.Buffer
		if err := e.Encode(&out, []*schema.Block{b}, nil); err != nil {
			t.Fatal(err)
		}
		f, err := parquet.OpenFile(bytes.NewReader(out.Bytes()), int64(out.Len()))
		if err != nil {
			t.Fatalf("%s: %v", level, err)
		}
		if f.NumRows() != int64(b.Len()) {
			t.Fatalf("%s: %d rows, want %d", level, f.NumRows(), b.Len())
		}
		t.Logf("%s: %d bytes", level, out.Len())
		if prev > 0 && out.Len() >= prev {
			t.Errorf("%s: %d bytes, not fewer than the faster level's %d", level, out.Len(), prev)
		}
		prev = out.Len()
	}
	if _, err := New(Config{ZstdLevel: "max"}); err == nil {
		t.Fatal("unknown zstd level accepted")
	}
}

// TestEncodeChain: the rows of a batch kept in many segments (a
// schema.Chain) encode to the same rows as one block holding them all.
func TestEncodeChain(t *testing.T) {
	e := mustNew(t, Config{})
	whole := block(t, 5_000)
	// The same rows, cut into parse-sized pieces and chained into segments
	// of about 16 KB, so that the file spans many blocks.
	chain := schema.NewChain(testLayout, 16<<10, nil)
	for lo := 0; lo < whole.Len(); lo += 333 {
		chain.AppendBlock(blockRange(t, lo, min(lo+333, whole.Len())))
	}
	if len(chain.Blocks) < 5 || chain.Len() != whole.Len() {
		t.Fatalf("chain of %d blocks and %d rows, want several blocks and %d rows", len(chain.Blocks), chain.Len(), whole.Len())
	}
	read := func(blocks []*schema.Block) []parquet.Row {
		var out bytes.Buffer
		if err := e.Encode(&out, blocks, nil); err != nil {
			t.Fatal(err)
		}
		f, err := parquet.OpenFile(bytes.NewReader(out.Bytes()), int64(out.Len()))
		if err != nil {
			t.Fatal(err)
		}
		rows := make([]parquet.Row, f.NumRows())
		r := parquet.NewReader(f)
		defer r.Close()
		n, _ := r.ReadRows(rows)
		return rows[:n]
	}
	want, got := read([]*schema.Block{whole}), read(chain.Blocks)
	if len(got) != len(want) || len(want) != whole.Len() {
		t.Fatalf("read %d rows from the chain, %d from the block, want %d", len(got), len(want), whole.Len())
	}
	for i := range want {
		if !parquet.Row(want[i]).Equal(got[i]) {
			t.Fatalf("row %d: chain %v, block %v", i, got[i], want[i])
		}
	}
}

// TestIdleWritersBounded: writers wait for reuse up to the bound, each
// holding at most IdleWriterBytes (a large file's buffers are dropped), so
// IdleBytes, which the memory budget counts, holds.
func TestIdleWritersBounded(t *testing.T) {
	e := mustNew(t, Config{})
	e.SetMaxIdle(2)
	var out bytes.Buffer
	if err := e.Encode(&out, []*schema.Block{block(t, 100)}, nil); err != nil {
		t.Fatal(err)
	}
	if len(e.idle) != 1 {
		t.Fatalf("%d idle writers after a file, want 1", len(e.idle))
	}
	f := <-e.idle
	if f.mem() == 0 {
		t.Fatal("the idle writer kept none of its buffers")
	}
	e.idle <- f
	// A file of several 1 MiB pages per column grows the buffers past
	// what an idle writer may hold.
	big := flowBlock(t, 600_000, false)
	out.Reset()
	if err := e.Encode(&out, []*schema.Block{big}, nil); err != nil {
		t.Fatal(err)
	}
	if len(e.idle) != 1 {
		t.Fatalf("%d idle writers, want 1", len(e.idle))
	}
	if f := <-e.idle; f.mem() > IdleWriterBytes {
		t.Fatalf("an idle writer holds %d bytes, more than %d", f.mem(), IdleWriterBytes)
	}
	for range 5 {
		e.putWriter(newFileWriter(e))
	}
	if len(e.idle) != 2 || e.IdleBytes() != 2*IdleWriterBytes {
		t.Fatalf("%d idle writers kept, bound 2 (%d bytes)", len(e.idle), e.IdleBytes())
	}
}

// TestWorkingBytesBoundsEncode checks that WorkingBytes, what the memory
// budget counts for an encode, is at least what one encode allocates (an
// upper bound of what it holds), from a one-row file to a multi-page one,
// with a fresh writer each time (none is kept for reuse).
func TestWorkingBytesBoundsEncode(t *testing.T) {
	for _, n := range []int{1, 20, 2000, 60_000} {
		t.Run(fmt.Sprintf("%d rows", n), func(t *testing.T) {
			e := mustNew(t, Config{})
			e.SetMaxIdle(0)
			b := flowBlock(t, n, true)
			var out bytes.Buffer
			// The first encode makes the compressor and the footer
			// template, which WorkingBytes counts apart (encoderBytes).
			if err := e.Encode(&out, []*schema.Block{b}, nil); err != nil {
				t.Fatal(err)
			}
			out = bytes.Buffer{}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			if err := e.Encode(&out, []*schema.Block{b}, nil); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			alloc := int64(after.TotalAlloc-before.TotalAlloc) - int64(out.Cap()) // the file is counted apart
			total := e.WorkingBytes(len(b.Layout.Columns), b.Size())
			t.Logf("%d rows (%d bytes): encode allocated %d, WorkingBytes counts %d (%d for the compressor)", n, b.Size(), alloc, total, encoderBytes)
			if alloc > total {
				t.Fatalf("an encode of %d rows allocated %d bytes, more than the %d WorkingBytes counts", n, alloc, total)
			}
			// Below a page per column, the rows and the column buffers'
			// overhead bound it without the compressor's share (a large
			// file allocates pages it drops, which this does not hold).
			if small := int64(len(b.Layout.Columns)) * int64(e.PageBytes()); 3*int64(b.Size()) < small && alloc > total-encoderBytes {
				t.Fatalf("an encode of %d rows allocated %d bytes, more than the %d WorkingBytes counts beside the compressor", n, alloc, total-encoderBytes)
			}
		})
	}
}
