package testenv

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"
)

// ParquetFile is a Parquet file decoded by Apache Arrow's reader, an
// implementation independent of the parquet-go writer flowlake uses, so
// tests check what any reader would see.
type ParquetFile struct {
	// Columns are the leaf columns in schema order.
	Columns []Column
	// Rows holds every row, column name -> value: int32, int64 or string
	// (BYTE_ARRAY columns, with or without the String annotation), nil
	// for null. Other types come as Arrow's JSON-ready Go values.
	Rows []map[string]any
	// KeyValue is the file's key/value metadata.
	KeyValue map[string]string
	// CreatedBy is the writer's created_by string.
	CreatedBy string
	// NumRowGroups is the number of row groups.
	NumRowGroups int
	// Codec is the compression codec of the first column chunk, as Parquet
	// names it: "UNCOMPRESSED", "SNAPPY", "ZSTD", "GZIP", ...
	Codec string
	// DataPageVersion is 1 or 2, from the first data page of the first
	// column of the first row group; 0 if the file has no rows.
	DataPageVersion int
	// DataPageVersions is the same per column name (first row group).
	DataPageVersions map[string]int
	// Encodings lists, per column name, the encodings the first row
	// group's column chunk declares, e.g. [PLAIN RLE RLE_DICTIONARY].
	Encodings map[string][]string
}

// Column describes one leaf column of a Parquet schema.
type Column struct {
	Name     string // dotted path for nested columns
	Physical string // "INT32", "INT64", "BYTE_ARRAY", ...
	Logical  string // logical type, e.g. "String"; "" when none
	Optional bool
}

// ReadParquet reads and decodes the Parquet file at path, failing the test
// on any error.
func ReadParquet(t testing.TB, path string) *ParquetFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("testenv: read parquet: %v", err)
	}
	p, err := decodeParquet(data)
	if err != nil {
		t.Fatalf("testenv: decode parquet %s: %v", path, err)
	}
	return p
}

// ReadParquetBytes decodes a Parquet file held in memory, failing the test
// on any error.
func ReadParquetBytes(t testing.TB, data []byte) *ParquetFile {
	t.Helper()
	p, err := decodeParquet(data)
	if err != nil {
		t.Fatalf("testenv: decode parquet: %v", err)
	}
	return p
}

// ReadParquetDir reads every *.parquet file under dir, keyed by its path
// relative to dir with forward slashes (a Hive layout key such as
// "account_id=1/dt=2024-05-01/hour=13/x.parquet").
func ReadParquetDir(t testing.TB, dir string) map[string]*ParquetFile {
	t.Helper()
	files := map[string]*ParquetFile{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".parquet") {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = ReadParquet(t, path)
		return nil
	})
	if err != nil {
		t.Fatalf("testenv: walk %s: %v", dir, err)
	}
	return files
}

// RowStrings renders each row as the values of cols joined by single
// spaces, with "-" for null: the shape of a flow log line, so tests can
// compare the lines they produced with the rows written, as multisets. It
// panics if a column is not in the file.
func (p *ParquetFile) RowStrings(cols []string) []string {
	for _, c := range cols {
		if !p.hasColumn(c) {
			panic(fmt.Sprintf("testenv: RowStrings: no column %q in file", c))
		}
	}
	out := make([]string, len(p.Rows))
	var sb strings.Builder
	for i, row := range p.Rows {
		sb.Reset()
		for j, c := range cols {
			if j > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(formatValue(row[c]))
		}
		out[i] = sb.String()
	}
	return out
}

func (p *ParquetFile) hasColumn(name string) bool {
	for _, c := range p.Columns {
		if c.Name == name {
			return true
		}
	}
	return false
}

func formatValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "-"
	case string:
		return v
	case int32:
		return strconv.FormatInt(int64(v), 10)
	case int64:
		return strconv.FormatInt(v, 10)
	default:
		return fmt.Sprint(v)
	}
}

func decodeParquet(data []byte) (*ParquetFile, error) {
	rdr, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	defer rdr.Close()

	md := rdr.MetaData()
	p := &ParquetFile{
		KeyValue:         map[string]string{},
		CreatedBy:        md.GetCreatedBy(),
		NumRowGroups:     rdr.NumRowGroups(),
		DataPageVersions: map[string]int{},
		Encodings:        map[string][]string{},
	}
	for _, kv := range md.KeyValueMetadata() {
		p.KeyValue[kv.GetKey()] = kv.GetValue()
	}
	sc := md.Schema
	for i := range sc.NumColumns() {
		col := sc.Column(i)
		logical := ""
		if lt := col.LogicalType(); lt != nil && lt.IsValid() && !lt.IsNone() {
			logical = lt.String()
		}
		p.Columns = append(p.Columns, Column{
			Name:     col.Path(),
			Physical: col.PhysicalType().String(),
			Logical:  logical,
			Optional: col.SchemaNode().RepetitionType() == parquet.Repetitions.Optional,
		})
	}
	if err := p.readChunkInfo(rdr); err != nil {
		return nil, err
	}

	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: 64 << 10}, memory.DefaultAllocator)
	if err != nil {
		return nil, fmt.Errorf("arrow reader: %w", err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		return nil, fmt.Errorf("read table: %w", err)
	}
	defer tbl.Release()
	if p.Rows, err = tableRows(tbl); err != nil {
		return nil, err
	}
	return p, nil
}

// readChunkInfo fills Codec, Encodings and the data page versions from the
// first row group.
func (p *ParquetFile) readChunkInfo(rdr *file.Reader) error {
	if rdr.NumRowGroups() == 0 {
		return nil
	}
	rg := rdr.RowGroup(0)
	for i, col := range p.Columns {
		cc, err := rg.MetaData().ColumnChunk(i)
		if err != nil {
			return fmt.Errorf("column chunk %s: %w", col.Name, err)
		}
		if i == 0 {
			p.Codec = cc.Compression().String()
		}
		for _, e := range cc.Encodings() {
			p.Encodings[col.Name] = append(p.Encodings[col.Name], e.String())
		}
		pr, err := rg.GetColumnPageReader(i)
		if err != nil {
			return fmt.Errorf("page reader %s: %w", col.Name, err)
		}
		for pr.Next() {
			v := 0
			switch pr.Page().(type) {
			case *file.DataPageV1:
				v = 1
			case *file.DataPageV2:
				v = 2
			}
			if v != 0 {
				p.DataPageVersions[col.Name] = v
				if i == 0 {
					p.DataPageVersion = v
				}
				break
			}
		}
		if err := pr.Err(); err != nil {
			return fmt.Errorf("read pages of %s: %w", col.Name, err)
		}
	}
	return nil
}

// tableRows converts an Arrow table of flat columns into rows.
func tableRows(tbl arrow.Table) ([]map[string]any, error) {
	n := int(tbl.NumRows())
	rows := make([]map[string]any, n)
	for i := range rows {
		rows[i] = make(map[string]any, tbl.NumCols())
	}
	for c := range int(tbl.NumCols()) {
		col := tbl.Column(c)
		name := col.Name()
		r := 0
		for _, chunk := range col.Data().Chunks() {
			for i := range chunk.Len() {
				v, err := arrowValue(chunk, i)
				if err != nil {
					return nil, fmt.Errorf("column %s: %w", name, err)
				}
				rows[r][name] = v
				r++
			}
		}
		if r != n {
			return nil, fmt.Errorf("column %s has %d values, table has %d rows", name, r, n)
		}
	}
	return rows, nil
}

func arrowValue(arr arrow.Array, i int) (any, error) {
	if arr.IsNull(i) {
		return nil, nil
	}
	switch a := arr.(type) {
	case *array.Int32:
		return a.Value(i), nil
	case *array.Int64:
		return a.Value(i), nil
	case *array.String:
		return a.Value(i), nil
	case *array.LargeString:
		return a.Value(i), nil
	case *array.Binary:
		return string(a.Value(i)), nil
	case *array.Dictionary:
		return arrowValue(a.Dictionary(), a.GetValueIndex(i))
	default:
		return arr.GetOneForMarshal(i), nil
	}
}
