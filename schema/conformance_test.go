package schema_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"flowlake/internal/testenv"
	"flowlake/schema"
	"flowlake/stages/encode"
)

// conformance is testdata/conformance.json: AWS's table of flow log fields
// (token, version, Parquet type and column name as AWS's Parquet delivery
// names it), AWS's documented example records, and flowlake's own cases,
// each with every value it must parse to.
type conformance struct {
	Fields []struct {
		Token   string `json:"token"`
		Version int    `json:"version"`
		Parquet string `json:"parquet"` // INT32, INT64 or STRING
		Column  string `json:"column"`
	} `json:"fields"`
	Cases []conformanceCase `json:"cases"`
}

type conformanceCase struct {
	Name       string `json:"name"`
	Source     string `json:"source"` // "AWS example record", "AWS Parquet sample row" or "flowlake"
	Format     string `json:"format"`
	AllowNewer bool   `json:"allow_newer"`
	Version    int    `json:"version"`
	Line       string `json:"line"`
	// Want holds every column of the format: a string, an integer, or
	// null for "-".
	Want map[string]any `json:"want"`
}

func loadConformance(t *testing.T) *conformance {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "conformance.json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // int64 values beyond 2^53 stay exact
	dec.DisallowUnknownFields()
	var c conformance
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("conformance.json: %v", err)
	}
	return &c
}

// wantValue renders an expected value as text, "-" for null.
func wantValue(t *testing.T, v any) string {
	switch v := v.(type) {
	case nil:
		return "-"
	case string:
		return v
	case json.Number:
		return v.String()
	default:
		t.Fatalf("unexpected JSON value %v (%T)", v, v)
		return ""
	}
}

func kindName(k schema.Kind) string {
	switch k {
	case schema.KindInt32:
		return "INT32"
	case schema.KindInt64:
		return "INT64"
	default:
		return "STRING"
	}
}

// TestConformanceRecords parses every record and checks every value,
// typed: integers as integers, strings byte for byte, "-" as null.
func TestConformanceRecords(t *testing.T) {
	c := loadConformance(t)
	for _, tc := range c.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			f, err := schema.ParseFormat(tc.Format, schema.AllowNewerFields(tc.AllowNewer))
			if err != nil {
				t.Fatalf("format: %v", err)
			}
			if f.Version() != tc.Version {
				t.Errorf("format version %d, want %d", f.Version(), tc.Version)
			}
			if len(tc.Want) != f.Len() {
				t.Fatalf("case lists %d values, format has %d fields", len(tc.Want), f.Len())
			}
			var r schema.Record
			if err := schema.NewParser(f, 0).Parse([]byte(tc.Line), &r); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			for _, id := range f.Fields() {
				fi := id.Info()
				want, ok := tc.Want[fi.Column]
				if !ok {
					t.Fatalf("case has no value for %s", fi.Column)
				}
				switch want := want.(type) {
				case nil:
					if r.IsSet(id) {
						t.Errorf("%s is set, want null", fi.Column)
					}
				case string:
					if fi.Kind != schema.KindString {
						t.Errorf("%s: want string %q, column is %s", fi.Column, want, fi.Kind)
					} else if !r.IsSet(id) || string(r.Str[id]) != want {
						t.Errorf("%s = %q (set %v), want %q", fi.Column, r.Str[id], r.IsSet(id), want)
					}
				case json.Number:
					n, err := strconv.ParseInt(want.String(), 10, 64)
					if err != nil {
						t.Fatal(err)
					}
					if fi.Kind == schema.KindString {
						t.Errorf("%s: want integer %d, column is a string", fi.Column, n)
					} else if !r.IsSet(id) || r.Int[id] != n {
						t.Errorf("%s = %d (set %v), want %d", fi.Column, r.Int[id], r.IsSet(id), n)
					}
				}
			}
			// Lossless: the values render back to the very line.
			var parts []string
			for _, id := range f.Fields() {
				parts = append(parts, wantValue(t, tc.Want[id.Info().Column]))
			}
			if got := strings.Join(parts, " "); got != tc.Line {
				t.Errorf("case values do not render the line\n got %s\nwant %s", got, tc.Line)
			}
		})
	}
}

// TestConformanceCatalogue checks every v2-v8 field's column name, version
// and Parquet type against AWS's field table in testdata, and that newer fields are
// strings behind a switch.
func TestConformanceCatalogue(t *testing.T) {
	c := loadConformance(t)
	seen := map[schema.FieldID]bool{}
	for _, want := range c.Fields {
		id, ok := schema.Lookup(want.Token)
		if !ok {
			t.Errorf("field %s is not in the catalogue", want.Token)
			continue
		}
		seen[id] = true
		fi := id.Info()
		if fi.Column != want.Column || fi.Version != want.Version || kindName(fi.Kind) != want.Parquet || fi.Newer {
			t.Errorf("%s: column %s v%d %s newer=%v, want column %s v%d %s", want.Token, fi.Column, fi.Version, kindName(fi.Kind), fi.Newer,
				want.Column, want.Version, want.Parquet)
		}
	}
	for id := schema.FieldID(0); id < schema.NumFlowFields; id++ {
		if seen[id] {
			continue
		}
		fi := id.Info()
		if !fi.Newer || fi.Kind != schema.KindString || fi.Version <= 8 {
			t.Errorf("%s is not in AWS's field table, yet not a newer string field (v%d %s)", fi.Token, fi.Version, fi.Kind)
		}
		if _, err := schema.ParseFormat("${" + fi.Token + "}"); err == nil {
			t.Errorf("%s is accepted without the newer-fields switch", fi.Token)
		}
	}
	if len(seen) != 40 {
		t.Errorf("AWS lists 40 fields for v2-v8, testdata has %d", len(seen))
	}
}

// TestConformanceParquet writes every conformance record to Parquet with
// the production encoder, reads it back with Apache Arrow, and checks the
// column types of AWS's Parquet delivery (INT32/INT64 without logical type,
// STRING as BYTE_ARRAY+String, all OPTIONAL) and every value, null
// included.
func TestConformanceParquet(t *testing.T) {
	c := loadConformance(t)
	types := map[string]string{}
	for _, f := range c.Fields {
		types[f.Column] = f.Parquet
	}
	enc, err := encode.New(encode.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range c.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			f, err := schema.ParseFormat(tc.Format, schema.AllowNewerFields(tc.AllowNewer))
			if err != nil {
				t.Fatal(err)
			}
			var r schema.Record
			if err := schema.NewParser(f, 0).Parse([]byte(tc.Line), &r); err != nil {
				t.Fatal(err)
			}
			b := schema.NewBlock(schema.NewLayout(f, schema.Enrichment{}))
			b.Append(&r, schema.Pos{}, 0)
			var buf bytes.Buffer
			if err := enc.Encode(&buf, []*schema.Block{b}, nil); err != nil {
				t.Fatal(err)
			}
			pf := testenv.ReadParquetBytes(t, buf.Bytes())
			if len(pf.Columns) != f.Len() || len(pf.Rows) != 1 {
				t.Fatalf("%d columns, %d rows", len(pf.Columns), len(pf.Rows))
			}
			for i, col := range pf.Columns {
				want := types[col.Name]
				if want == "" {
					want = "STRING" // newer fields
				}
				if col.Name != f.Fields()[i].Info().Column {
					t.Errorf("column %d is %s, want %s (format order)", i, col.Name, f.Fields()[i].Info().Column)
				}
				// AWS's files carry no logical type on integers (§5). The
				// encoder annotates them as signed Int of the same width,
				// which every reader maps to the same int/bigint; anything
				// else (a timestamp, unsigned, another width) is wrong.
				phys, logicals := want, []string{"", "Int(bitWidth=32, isSigned=true)"}
				switch want {
				case "STRING":
					phys, logicals = "BYTE_ARRAY", []string{"String"}
				case "INT64":
					logicals = []string{"", "Int(bitWidth=64, isSigned=true)"}
				}
				if col.Physical != phys || !slices.Contains(logicals, col.Logical) || !col.Optional {
					t.Errorf("column %s: %s/%q optional=%v, want optional %s with logical type in %q", col.Name, col.Physical, col.Logical, col.Optional, phys, logicals)
				}
				got := pf.Rows[0][col.Name]
				switch wv := tc.Want[col.Name].(type) {
				case nil:
					if got != nil {
						t.Errorf("%s = %v, want null", col.Name, got)
					}
				case string:
					if got != wv {
						t.Errorf("%s = %#v, want %q", col.Name, got, wv)
					}
				case json.Number:
					n, _ := strconv.ParseInt(wv.String(), 10, 64)
					ok := false
					switch g := got.(type) {
					case int32:
						ok = want == "INT32" && int64(g) == n
					case int64:
						ok = want == "INT64" && g == n
					}
					if !ok {
						t.Errorf("%s = %#v, want %s %d", col.Name, got, want, n)
					}
				}
			}
		})
	}
}
