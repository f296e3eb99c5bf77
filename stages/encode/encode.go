package encode

import (
	"bytes"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/gzip"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/uncompressed"
	"github.com/parquet-go/parquet-go/format"

	"flowlake/schema"
)

// Config chooses how files are written.
type Config struct {
	// Codec is zstd (default), snappy, gzip or none.
	Codec string `yaml:"codec"`
	// ZstdLevel is zstd's speed: fastest (default), default, better or
	// best. On generated flow logs fastest both runs faster and makes
	// smaller files than default (timestamps and counters compress
	// better with it); rows whose values cycle with short periods
	// compress better at the slower levels.
	ZstdLevel string `yaml:"zstd_level"`
	// DashStrings writes a literal "-" instead of null in string columns, for
	// queries written against AWS's text files. Integer columns stay null.
	DashStrings bool `yaml:"dash_strings"`
	// PageBytes is the target size of a data page before compression.
	PageBytes int `yaml:"page_bytes"`
}

// ZstdLevels are the names Config.ZstdLevel takes, fastest first.
var ZstdLevels = []string{"fastest", "default", "better", "best"}

// ZstdLevel returns the zstd encoder level a Config.ZstdLevel names ("" is
// fastest).
func ZstdLevel(name string) (zstd.EncoderLevel, error) {
	switch name {
	case "", "fastest":
		return zstd.SpeedFastest, nil
	case "default":
		return zstd.SpeedDefault, nil
	case "better":
		return zstd.SpeedBetterCompression, nil
	case "best":
		return zstd.SpeedBestCompression, nil
	}
	return 0, fmt.Errorf("unknown zstd level %q (want %s)", name, strings.Join(ZstdLevels, ", "))
}

// Version is written into created_by.
var Version = "dev"

// Encoder writes blocks as Parquet files. It is safe for concurrent use.
type Encoder struct {
	cfg       Config
	codec     compress.Codec
	idle      chan *fileWriter
	templates sync.Map // layout ID -> *footerTemplate
}

// chunkRows is how many rows of a block join a page before the page's size
// is checked (parquet-go's writer checked after each call of this many
// rows, and the files keep its page breaks), so it also sets how far past
// PageBytes a page may grow.
const chunkRows = 4096

// defaultPageBytes is the default target size of a data page.
const defaultPageBytes = 1 << 20

// New validates cfg and returns an Encoder.
func New(cfg Config) (*Encoder, error) {
	e := &Encoder{cfg: cfg}
	e.SetMaxIdle(runtime.GOMAXPROCS(0)) // as many as encode at once
	switch cfg.Codec {
	case "", "zstd":
		pageBytes := cfg.PageBytes
		if pageBytes <= 0 {
			pageBytes = defaultPageBytes
		}
		level, err := ZstdLevel(cfg.ZstdLevel)
		if err != nil {
			return nil, err
		}
		c, err := newZstdCodec(level, pageBytes, runtime.GOMAXPROCS(0)*2)
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
	return e, nil
}

// PageBytes is the target size of a page before compression: the
// encoder's buffer per column.
func (e *Encoder) PageBytes() int { return e.cfg.PageBytes }

// WorkingBytes bounds the memory one Encode of rowBytes (schema.Chain.Size)
// in columns holds beside the file it writes: a column is written at a
// time, and its page's buffers (definition levels, values, the page before
// and after compression, entry numbers) each hold at most a page, or for a
// small file about twice the column's share of the rows, which one
// column's rows cannot exceed; plus the footer's metadata per column, and
// the compressor.
func (e *Encoder) WorkingBytes(columns, rowBytes int) int64 {
	page := min(2*int64(e.cfg.PageBytes), 2*int64(rowBytes))
	pages := 5*int64(rowBytes)/int64(e.cfg.PageBytes) + int64(columns)
	return pageBuffers*page + int64(columns)*columnMeta + pages*pageMeta + encoderBytes
}

// pageMeta bounds a page's share of the footer and page indexes.
const pageMeta = 256

// pageBuffers is how many buffers of a page's size a column takes.
const pageBuffers = 6

// columnMeta bounds a column's share of the footer, its page indexes and
// dictionary numbering for a file of a few pages.
const columnMeta = 4 << 10

// encoderBytes is what the zstd compressor takes (its tables and window,
// mostly).
const encoderBytes = 8 << 20

// Encode writes every row of blocks, which share one layout, in order, as
// one Parquet file appended to out, with meta as key/value metadata.
func (e *Encoder) Encode(out *bytes.Buffer, blocks []*schema.Block, meta map[string]string) error {
	if len(blocks) == 0 {
		return fmt.Errorf("encode: no rows")
	}
	layout := blocks[0].Layout
	rows := 0
	for _, b := range blocks {
		if b.Layout != layout {
			return fmt.Errorf("encode: blocks of different layouts")
		}
		rows += b.Len()
	}
	if rows == 0 {
		return fmt.Errorf("encode: no rows")
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tmpl, err := e.template(layout)
	if err != nil {
		return err
	}
	kvs := make([]format.KeyValue, 0, len(keys))
	for _, k := range keys {
		kvs = append(kvs, format.KeyValue{Key: k, Value: meta[k]})
	}
	if len(kvs) == 0 {
		kvs = nil
	}
	f := e.getWriter()
	defer e.putWriter(f)
	f.out, f.start, f.layout, f.blocks = out, out.Len(), layout, blocks
	return f.write(tmpl, kvs, rows)
}

// template returns the footer template of layout l.
func (e *Encoder) template(l *schema.Layout) (*footerTemplate, error) {
	if t, ok := e.templates.Load(l.ID); ok {
		return t.(*footerTemplate), nil
	}
	t, err := newFooterTemplate(l)
	if err != nil {
		return nil, err
	}
	got, _ := e.templates.LoadOrStore(l.ID, t)
	return got.(*footerTemplate), nil
}
