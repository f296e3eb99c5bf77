package schema_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"flowlake/internal/testenv"
	"flowlake/schema"
	"flowlake/stages/encode"
)

// conformance is testdata/conformance.json: the field catalogue of
// FLOWLOGS.md §1 and records with every value they must parse to.
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
	Source     string `json:"source"` // "FLOWLOGS.md §N" or "flowlake"
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
// and Parquet type against FLOWLOGS.md §1, and that newer fields are
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
			t.Errorf("%s is not in FLOWLOGS.md's table, yet not a newer string field (v%d %s)", fi.Token, fi.Version, fi.Kind)
		}
		if _, err := schema.ParseFormat("${" + fi.Token + "}"); err == nil {
			t.Errorf("%s is accepted without the newer-fields switch", fi.Token)
		}
	}
	if len(seen) != 40 {
		t.Errorf("FLOWLOGS.md §1 lists 40 fields for v2-v8, testdata has %d", len(seen))
	}
}

// TestConformanceParquet writes every conformance record to Parquet with
// the production encoder, reads it back with Apache Arrow, and checks the
// column types of FLOWLOGS.md §1/§5 (INT32/INT64 without logical type,
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
			if err := enc.Encode(&buf, b, nil); err != nil {
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

// TestConformanceDoc checks testdata against FLOWLOGS.md itself when the
// shared folder is beside the repository: the field table, the example
// records with their format, and the Parquet sample row must all be in
// testdata, so that the doc and the tests cannot drift apart.
func TestConformanceDoc(t *testing.T) {
	path := filepath.Join("..", "..", "shared", "FLOWLOGS.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("FLOWLOGS.md not found beside the repository (%v); testdata alone is checked", err)
	}
	c := loadConformance(t)

	// §1: every row of the field table.
	rowRE := regexp.MustCompile(`^\| ([a-z0-9-]+) \| (\d+) \| (INT32|INT64|STRING) \| ([a-z0-9_]+) \|`)
	var docFields []string
	var records []string
	var v5Format, sampleRow string
	inExamples, inBlock := false, false
	sc := bufio.NewScanner(bytes.NewReader(doc))
	for sc.Scan() {
		line := sc.Text()
		if m := rowRE.FindStringSubmatch(line); m != nil {
			docFields = append(docFields, strings.Join(m[1:], " "))
		}
		switch {
		case strings.HasPrefix(line, "**Example records**"):
			inExamples = true
		case inExamples && strings.HasPrefix(line, "```"):
			if inBlock {
				inExamples = false
			}
			inBlock = !inBlock
		case inExamples && inBlock:
			records = append(records, line)
		case strings.HasPrefix(line, "The fourth record's format: `"):
			v5Format = strings.TrimSuffix(strings.TrimPrefix(line, "The fourth record's format: `"), "`.")
		case strings.HasPrefix(line, "- Sample row: `"):
			sampleRow = strings.TrimSuffix(strings.TrimPrefix(line, "- Sample row: `"), "`.")
		}
	}
	var testFields []string
	for _, f := range c.Fields {
		testFields = append(testFields, strings.Join([]string{f.Token, strconv.Itoa(f.Version), f.Parquet, f.Column}, " "))
	}
	if strings.Join(docFields, "\n") != strings.Join(testFields, "\n") {
		t.Errorf("field table differs from FLOWLOGS.md §1:\n doc %q\ntest %q", docFields, testFields)
	}

	if len(records) != 4 || v5Format == "" || sampleRow == "" {
		t.Fatalf("could not find the examples in FLOWLOGS.md: %d records, format %q, sample %q", len(records), v5Format, sampleRow)
	}
	byLine := map[string]conformanceCase{}
	for _, tc := range c.Cases {
		byLine[tc.Line] = tc
	}
	for i, rec := range records {
		tc, ok := byLine[rec]
		if !ok || !strings.HasPrefix(tc.Source, "FLOWLOGS.md") {
			t.Errorf("example record %d of FLOWLOGS.md has no conformance case: %s", i+1, rec)
			continue
		}
		wantFormat := schema.DefaultFormat
		if i == 3 {
			var err error
			if wantFormat, err = schema.ParseHeader([]byte(v5Format)); err != nil {
				t.Fatal(err)
			}
		}
		f, err := schema.ParseFormat(tc.Format)
		if err != nil || f.Header() != wantFormat.Header() {
			t.Errorf("example %d: testdata format %q, doc's %q", i+1, tc.Format, wantFormat.Header())
		}
	}
	// §5's sample row, "a | b | c", is the default format's values.
	sample := strings.ReplaceAll(sampleRow, " | ", " ")
	if tc, ok := byLine[sample]; !ok || tc.Format != schema.DefaultFormatText {
		t.Errorf("§5 sample row has no default-format conformance case: %s", sample)
	}
}
