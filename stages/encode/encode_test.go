package encode

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/parquet-go/parquet-go"

	"flowlake/schema"
)

func block(tb testing.TB, n int) *schema.Block { return flowBlock(tb, n, false) }

// flowBlock is n default-format records over 3 accounts and 400
// interfaces, one in 50 a NODATA record; enriched, they gain the ENI
// inventory's columns as the pipeline fills them (per interface, some
// interfaces unknown).
func flowBlock(tb testing.TB, n int, enrich bool) *schema.Block {
	tb.Helper()
	l := schema.NewLayout(schema.DefaultFormat, schema.Enrichment{Enabled: enrich})
	b := schema.NewBlock(l)
	p := schema.NewParser(schema.DefaultFormat, 0)
	var r schema.Record
	for i := 0; i < n; i++ {
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

func TestEncodeRoundTrip(t *testing.T) {
	tests := []struct {
		codec string
		dash  bool
	}{{"zstd", false}, {"snappy", false}, {"gzip", true}, {"none", false}}
	for _, tt := range tests {
		t.Run(tt.codec, func(t *testing.T) {
			e, err := New(Config{Codec: tt.codec, DashStrings: tt.dash})
			if err != nil {
				t.Fatal(err)
			}
			b := block(t, 10_000)
			var out bytes.Buffer
			if err := e.Encode(&out, b, map[string]string{"k": "v"}); err != nil {
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
