package encode

import (
	"bytes"
	"fmt"
	"runtime"
	"sort"
	"strings"
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
	cfg     Config
	codec   compress.Codec
	schemas sync.Map // layout ID -> *parquet.Schema
	idle    idleWriters
	scratch sync.Pool
}

// chunkRows is the number of rows handed to a column writer at once. The
// writer closes a page when its buffer is full after a call, so this also
// sets how far past PageBytes a page may grow.
const chunkRows = 4096

// defaultPageBytes is the default target size of a data page.
const defaultPageBytes = 1 << 20

// New validates cfg and returns an Encoder.
func New(cfg Config) (*Encoder, error) {
	e := &Encoder{cfg: cfg}
	e.idle = newIdleWriters(runtime.GOMAXPROCS(0)) // as many as encode at once
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
	e.scratch.New = func() any { return &scratch{vals: make([]parquet.Value, chunkRows)} }
	return e, nil
}

// PageBytes is the target size of a page before compression: the
// encoder's buffer per column.
func (e *Encoder) PageBytes() int { return e.cfg.PageBytes }

// WorkingBytes bounds the memory one Encode of rowBytes (schema.Chain.Size)
// in columns holds: a page buffer per column, which never holds more than
// a page, nor much more than twice the column's share of the rows
// (values, levels and dictionary; three times is counted, for what an
// encode allocates and drops), plus its own overhead; and the compressor. Many accounts and
// hours make many tiny files; counting a full page per column for each
// would take the budget's room for batches many times over.
func (e *Encoder) WorkingBytes(columns, rowBytes int) int64 {
	pages := int64(columns) * int64(e.cfg.PageBytes)
	return min(pages, 3*int64(rowBytes)+int64(columns)*pageOverhead) + encoderBytes
}

// pageOverhead is a column buffer's own memory beside its values.
const pageOverhead = 32 << 10

// encoderBytes is what one Parquet writer takes beside its page buffers
// (the zstd encoder's tables and window, mostly).
const encoderBytes = 8 << 20

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
	for _, b := range blocks {
		if b.Layout != layout {
			return fmt.Errorf("encode: blocks of different layouts")
		}
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	wk := writerKeyOf(layout, keys)
	var w *parquet.Writer
	size := 0
	for _, b := range blocks {
		size += b.Size()
	}
	reuse := size <= reuseBytes && !hasEmptyString(blocks)
	if reuse {
		w = e.idle.get(wk)
	}
	if w == nil {
		opts := []parquet.WriterOption{
			e.schema(layout),
			parquet.Compression(e.codec),
			parquet.DataPageVersion(1),
			parquet.PageBufferSize(e.cfg.PageBytes),
			parquet.CreatedBy("flowlake", Version, ""),
			parquet.DataPageStatistics(true),
		}
		for _, k := range keys {
			opts = append(opts, parquet.KeyValueMetadata(k, meta[k]))
		}
		w = parquet.NewWriter(out, opts...)
	} else {
		w.Reset(out)
		for _, k := range keys {
			w.SetKeyValueMetadata(k, meta[k])
		}
	}
	cws := w.ColumnWriters()
	sc := e.scratch.Get().(*scratch)
	defer e.scratch.Put(sc)
	for c, col := range layout.Columns {
		for _, b := range blocks {
			if err := sc.writeColumn(cws[c], b, c, e.cfg.DashStrings); err != nil {
				return fmt.Errorf("write column %s: %w", col.Name, err)
			}
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("close parquet writer: %w", err)
	}
	if reuse {
		release(w)
		e.idle.put(wk, w)
	}
	return nil
}
