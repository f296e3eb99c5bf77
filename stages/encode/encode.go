package encode

import (
	"bytes"
	"fmt"
	"runtime"
	"sort"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/gzip"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/uncompressed"

	"flowlake/schema"
)

// Config chooses how files are written.
type Config struct {
	// Codec is zstd (default), snappy, gzip or none.
	Codec string `yaml:"codec"`
	// DashStrings writes a literal "-" instead of null in string columns, for
	// queries written against AWS's text files. Integer columns stay null.
	DashStrings bool `yaml:"dash_strings"`
	// PageBytes is the target size of a data page before compression.
	PageBytes int `yaml:"page_bytes"`
}

// Version is written into created_by.
var Version = "dev"

// Encoder writes blocks as Parquet files. It is safe for concurrent use.
type Encoder struct {
	cfg     Config
	codec   compress.Codec
	schemas sync.Map // layout ID -> *parquet.Schema
	scratch sync.Pool
}

const chunkRows = 4096

// defaultPageBytes is the default target size of a data page.
const defaultPageBytes = 1 << 20

// New validates cfg and returns an Encoder.
func New(cfg Config) (*Encoder, error) {
	e := &Encoder{cfg: cfg}
	switch cfg.Codec {
	case "", "zstd":
		pageBytes := cfg.PageBytes
		if pageBytes <= 0 {
			pageBytes = defaultPageBytes
		}
		c, err := newZstdCodec(zstd.SpeedDefault, pageBytes, runtime.GOMAXPROCS(0)*2)
		if err != nil {
			return nil, err
		}
		e.codec = c
	case "snappy":
		e.codec = &snappy.Codec{}
	case "gzip":
		e.codec = &gzip.Codec{Level: gzip.DefaultCompression}
	case "none":
		e.codec = &uncompressed.Codec{}
	default:
		return nil, fmt.Errorf("unknown parquet codec %q (want zstd, snappy, gzip or none)", cfg.Codec)
	}
	if e.cfg.PageBytes <= 0 {
		e.cfg.PageBytes = defaultPageBytes
	}
	e.scratch.New = func() any { s := make([]parquet.Value, chunkRows); return &s }
	return e, nil
}

// PageBytes is the target size of a page before compression: the
// encoder's buffer per column.
func (e *Encoder) PageBytes() int { return e.cfg.PageBytes }

func (e *Encoder) schema(l *schema.Layout) *parquet.Schema {
	if s, ok := e.schemas.Load(l.ID); ok {
		return s.(*parquet.Schema)
	}
	s, _ := e.schemas.LoadOrStore(l.ID, l.ParquetSchema())
	return s.(*parquet.Schema)
}

// Encode writes every row of blocks, which share one layout, in order, as
// one Parquet file appended to out, with meta as key/value metadata.
func (e *Encoder) Encode(out *bytes.Buffer, blocks []*schema.Block, meta map[string]string) error {
	if len(blocks) == 0 {
		return fmt.Errorf("encode: no rows")
	}
	layout := blocks[0].Layout
	sch := e.schema(layout)
	opts := []parquet.WriterOption{
		sch,
		parquet.Compression(e.codec),
		parquet.DataPageVersion(1),
		parquet.PageBufferSize(e.cfg.PageBytes),
		parquet.CreatedBy("flowlake", Version, ""),
		parquet.DataPageStatistics(true),
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		opts = append(opts, parquet.KeyValueMetadata(k, meta[k]))
	}
	w := parquet.NewWriter(out, opts...)
	cws := w.ColumnWriters()
	sp := e.scratch.Get().(*[]parquet.Value)
	defer e.scratch.Put(sp)
	vals := *sp
	dash := []byte("-")
	for c, col := range layout.Columns {
		if err := e.column(cws[c], blocks, c, col, vals, dash); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("close parquet writer: %w", err)
	}
	return nil
}

// column writes column c of every block.
func (e *Encoder) column(cw *parquet.ColumnWriter, blocks []*schema.Block, c int, col schema.Column, vals []parquet.Value, dash []byte) error {
	for _, b := range blocks {
		if b.Layout != blocks[0].Layout {
			return fmt.Errorf("encode: blocks of different layouts")
		}
		n := b.Len()
		for lo := 0; lo < n; lo += chunkRows {
			hi := min(lo+chunkRows, n)
			v := vals[:hi-lo]
			for row := lo; row < hi; row++ {
				var pv parquet.Value
				if b.Valid(c, row) {
					switch col.Kind {
					case schema.KindInt32:
						pv = parquet.Int32Value(int32(b.Int(c, row))).Level(0, 1, c)
					case schema.KindInt64:
						pv = parquet.Int64Value(b.Int(c, row)).Level(0, 1, c)
					default:
						pv = parquet.ByteArrayValue(b.Bytes(c, row)).Level(0, 1, c)
					}
				} else if e.cfg.DashStrings && col.Kind == schema.KindString {
					pv = parquet.ByteArrayValue(dash).Level(0, 1, c)
				} else {
					pv = parquet.NullValue().Level(0, 0, c)
				}
				v[row-lo] = pv
			}
			if _, err := cw.WriteRowValues(v); err != nil {
				return fmt.Errorf("write column %s: %w", col.Name, err)
			}
		}
	}
	return nil
}
