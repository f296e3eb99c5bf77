package testenv

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

type testRow struct {
	Version *int32  `parquet:"version,optional"`
	Account *string `parquet:"account_id,optional"`
	Packets *int64  `parquet:"packets,optional"`
	Action  string  `parquet:"action,dict"`
	Start   int64   `parquet:"start"`
}

func pqPtr[T any](v T) *T { return &v }

var testRows = []testRow{
	{Version: pqPtr[int32](2), Account: pqPtr("123456789012"), Packets: pqPtr[int64](10), Action: "ACCEPT", Start: 1700000000},
	{Version: pqPtr[int32](2), Account: nil, Packets: pqPtr[int64](1 << 40), Action: "REJECT", Start: 1700000001},
	{Version: nil, Account: pqPtr("123456789012"), Packets: nil, Action: "ACCEPT", Start: 1700000002},
}

func writeParquet(t *testing.T, rows []testRow, opts ...parquet.WriterOption) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[testRow](&buf, opts...)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadParquetBytes(t *testing.T) {
	data := writeParquet(t, testRows,
		parquet.Compression(&zstd.Codec{}),
		parquet.DataPageVersion(1),
		parquet.MaxRowsPerRowGroup(2),
		parquet.KeyValueMetadata("flowlake.format", "v2"),
		parquet.CreatedBy("flowlake", "test", "abc"),
	)
	p := ReadParquetBytes(t, data)

	wantCols := []Column{
		// parquet-go annotates Go ints with the Int logical type.
		{Name: "version", Physical: "INT32", Logical: "Int(bitWidth=32, isSigned=true)", Optional: true},
		{Name: "account_id", Physical: "BYTE_ARRAY", Logical: "String", Optional: true},
		{Name: "packets", Physical: "INT64", Logical: "Int(bitWidth=64, isSigned=true)", Optional: true},
		{Name: "action", Physical: "BYTE_ARRAY", Logical: "String", Optional: false},
		{Name: "start", Physical: "INT64", Logical: "Int(bitWidth=64, isSigned=true)", Optional: false},
	}
	if !slices.Equal(p.Columns, wantCols) {
		t.Fatalf("Columns = %+v\nwant %+v", p.Columns, wantCols)
	}

	wantRows := []map[string]any{
		{"version": int32(2), "account_id": "123456789012", "packets": int64(10), "action": "ACCEPT", "start": int64(1700000000)},
		{"version": int32(2), "account_id": nil, "packets": int64(1 << 40), "action": "REJECT", "start": int64(1700000001)},
		{"version": nil, "account_id": "123456789012", "packets": nil, "action": "ACCEPT", "start": int64(1700000002)},
	}
	if len(p.Rows) != len(wantRows) {
		t.Fatalf("got %d rows, want %d", len(p.Rows), len(wantRows))
	}
	for i := range wantRows {
		if !maps.Equal(p.Rows[i], wantRows[i]) {
			t.Errorf("row %d = %v, want %v", i, p.Rows[i], wantRows[i])
		}
	}

	gotLines := p.RowStrings([]string{"version", "account_id", "action", "packets"})
	wantLines := []string{
		"2 123456789012 ACCEPT 10",
		"2 - REJECT 1099511627776",
		"- 123456789012 ACCEPT -",
	}
	if !slices.Equal(gotLines, wantLines) {
		t.Errorf("RowStrings = %q, want %q", gotLines, wantLines)
	}

	if p.KeyValue["flowlake.format"] != "v2" {
		t.Errorf("KeyValue = %v", p.KeyValue)
	}
	if p.CreatedBy != "flowlake version test(build abc)" {
		t.Errorf("CreatedBy = %q", p.CreatedBy)
	}
	if p.NumRowGroups != 2 {
		t.Errorf("NumRowGroups = %d, want 2", p.NumRowGroups)
	}
	if p.Codec != "ZSTD" {
		t.Errorf("Codec = %q, want ZSTD", p.Codec)
	}
	if p.DataPageVersion != 1 {
		t.Errorf("DataPageVersion = %d, want 1", p.DataPageVersion)
	}
	for _, c := range p.Columns {
		if v := p.DataPageVersions[c.Name]; v != 1 {
			t.Errorf("column %s data page version %d, want 1", c.Name, v)
		}
		if len(p.Encodings[c.Name]) == 0 {
			t.Errorf("column %s has no encodings", c.Name)
		}
	}
	if !slices.Contains(p.Encodings["action"], "RLE_DICTIONARY") && !slices.Contains(p.Encodings["action"], "PLAIN_DICTIONARY") {
		t.Errorf("dict column action encodings %v have no dictionary encoding", p.Encodings["action"])
	}
	// DataPageVersion(1) alone leaves untagged strings on the v2-only
	// DELTA_LENGTH_BYTE_ARRAY encoding; the reader reports it.
	if got := p.Encodings["account_id"]; !slices.Contains(got, "DELTA_LENGTH_BYTE_ARRAY") {
		t.Errorf("account_id encodings = %v", got)
	}
}

func TestReadParquetDefaultsV2(t *testing.T) {
	p := ReadParquetBytes(t, writeParquet(t, testRows, parquet.Compression(&snappy.Codec{})))
	if p.DataPageVersion != 2 || p.Codec != "SNAPPY" || p.NumRowGroups != 1 || len(p.Rows) != 3 {
		t.Fatalf("DataPageVersion=%d Codec=%q NumRowGroups=%d rows=%d, want 2 SNAPPY 1 3",
			p.DataPageVersion, p.Codec, p.NumRowGroups, len(p.Rows))
	}
}

func TestReadParquetEmpty(t *testing.T) {
	p := ReadParquetBytes(t, writeParquet(t, nil))
	if len(p.Rows) != 0 || len(p.Columns) != 5 || p.DataPageVersion != 0 {
		t.Fatalf("empty file: rows=%d columns=%d DataPageVersion=%d", len(p.Rows), len(p.Columns), p.DataPageVersion)
	}
	if got := p.RowStrings([]string{"action"}); len(got) != 0 {
		t.Fatalf("RowStrings of an empty file = %q", got)
	}
}

func TestRowStringsUnknownColumnPanics(t *testing.T) {
	p := ReadParquetBytes(t, writeParquet(t, testRows))
	defer func() {
		if recover() == nil {
			t.Fatal("RowStrings with an unknown column did not panic")
		}
	}()
	p.RowStrings([]string{"nope"})
}

func TestReadParquetDir(t *testing.T) {
	dir := t.TempDir()
	write := func(rel string, data []byte) {
		path := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("account_id=1/dt=2024-05-01/hour=13/a.parquet", writeParquet(t, testRows[:1]))
	write("account_id=2/dt=2024-05-01/hour=14/b.parquet", writeParquet(t, testRows[1:]))
	write("account_id=2/dt=2024-05-01/hour=14/.tmp-b.parquet-123", []byte("partial"))
	write("checkpoints/x.json", []byte("{}"))

	files := ReadParquetDir(t, dir)
	keys := slices.Sorted(maps.Keys(files))
	want := []string{"account_id=1/dt=2024-05-01/hour=13/a.parquet", "account_id=2/dt=2024-05-01/hour=14/b.parquet"}
	if !slices.Equal(keys, want) {
		t.Fatalf("files = %q, want %q", keys, want)
	}
	if n := len(files[want[1]].Rows); n != 2 {
		t.Fatalf("%s has %d rows, want 2", want[1], n)
	}
	if got := ReadParquetDir(t, t.TempDir()); len(got) != 0 {
		t.Fatalf("empty dir gave %d files", len(got))
	}
}

func TestReadParquetFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.parquet")
	if err := os.WriteFile(path, writeParquet(t, testRows), 0o644); err != nil {
		t.Fatal(err)
	}
	if p := ReadParquet(t, path); len(p.Rows) != 3 {
		t.Fatalf("got %d rows, want 3", len(p.Rows))
	}
}
