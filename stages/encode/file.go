package encode

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/parquet-go/parquet-go/encoding/plain"
	"github.com/parquet-go/parquet-go/encoding/rle"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"flowlake/schema"
)

// fileWriter writes one Parquet file of one row group from blocks, a
// column at a time, straight from the blocks' column arrays: a data page's
// definition levels, values and statistics come from tight loops over
// integers, string arenas and dictionary entry numbers, with no value per
// cell. Each column chunk is written to the output as soon as it is done;
// only the footer's metadata waits for the end.
//
// The files are those parquet-go's own writer makes of the same rows with
// the same options (the tests compare them byte for byte): data pages v1,
// a page closed once its buffer reaches 98% of PageBytes (checked every
// chunkRows rows of a block), strings of dictionary columns
// RLE_DICTIONARY-encoded after a PLAIN dictionary page in first-seen
// order, other columns PLAIN, page statistics, a column index and an
// offset index per column, level histograms and byte-array sizes. The
// schema part of the footer comes from parquet-go (footerTemplate).
type fileWriter struct {
	e      *Encoder
	out    *bytes.Buffer
	start  int // out.Len() when the file began
	layout *schema.Layout
	blocks []*schema.Block

	// A page being built.
	levels []byte  // definition level per row
	values []byte  // PLAIN values (not dictionary columns)
	ids    []int32 // dictionary entry per non-null row
	raw    []byte  // the page before compression
	enc    []byte  // scratch for encoders' output
	comp   []byte  // the page after compression
	header bytes.Buffer
	thrift *thrift.Encoder

	// A dictionary column's file-wide dictionary: entries in first-seen
	// order, and per block its entry numbers renumbered (noEntry: unseen).
	dict     [][]byte
	dictSize int
	lookup   map[string]int32
	remap    [][]int32
	// used marks the entries the current page references (by page
	// number plus one).
	used []int32
	// dashEntry is the entry of "-", which null rows take when
	// DashStrings is set.
	dashEntry int32

	// The metadata of each column, in order.
	chunks  []format.ColumnChunk
	indexes []format.ColumnIndex
	offsets []format.OffsetIndex
}

const noEntry = -1

func newFileWriter(e *Encoder) *fileWriter {
	f := &fileWriter{e: e}
	f.thrift = thrift.NewEncoder(new(thrift.CompactProtocol).NewWriter(&f.header))
	return f
}

// rleLevels encodes definition levels (0 or 1); dictIDs encodes entry
// numbers with their bit width.
var (
	rleLevels = rle.Encoding{BitWidth: 1}
	dictIDs   rle.DictionaryEncoding
)

func (f *fileWriter) offset() int64 { return int64(f.out.Len() - f.start) }

// write writes the file of rows rows: magic, column chunks, page indexes
// and footer.
func (f *fileWriter) write(tmpl *footerTemplate, meta []format.KeyValue, rows int) error {
	f.out.WriteString("PAR1")
	f.chunks = make([]format.ColumnChunk, len(f.layout.Columns))
	f.indexes = make([]format.ColumnIndex, len(f.layout.Columns))
	f.offsets = make([]format.OffsetIndex, len(f.layout.Columns))
	for c, col := range f.layout.Columns {
		if err := f.column(c, col, tmpl); err != nil {
			return fmt.Errorf("write column %s: %w", col.Name, err)
		}
	}
	var total, compressed int64
	for i := range f.chunks {
		total += f.chunks[i].MetaData.TotalUncompressedSize
		compressed += f.chunks[i].MetaData.TotalCompressedSize
	}
	for i := range f.indexes {
		f.chunks[i].ColumnIndexOffset = f.offset()
		if err := f.encode(&f.indexes[i]); err != nil {
			return err
		}
		f.chunks[i].ColumnIndexLength = int32(f.offset() - f.chunks[i].ColumnIndexOffset)
	}
	for i := range f.offsets {
		f.chunks[i].OffsetIndexOffset = f.offset()
		if err := f.encode(&f.offsets[i]); err != nil {
			return err
		}
		f.chunks[i].OffsetIndexLength = int32(f.offset() - f.chunks[i].OffsetIndexOffset)
	}
	fm := format.FileMetaData{
		Version:   2,
		Schema:    tmpl.schema,
		NumRows:   int64(rows),
		CreatedBy: tmpl.createdBy,
		RowGroups: []format.RowGroup{{
			Columns:             f.chunks,
			TotalByteSize:       total,
			NumRows:             int64(rows),
			FileOffset:          4,
			SortingColumns:      []format.SortingColumn{},
			TotalCompressedSize: compressed,
		}},
		KeyValueMetadata: meta,
		ColumnOrders:     tmpl.columnOrders,
	}
	at := f.offset()
	if err := f.encode(&fm); err != nil {
		return err
	}
	var tail [8]byte
	binary.LittleEndian.PutUint32(tail[:4], uint32(f.offset()-at))
	copy(tail[4:], "PAR1")
	f.out.Write(tail[:])
	return nil
}

// encode appends v, thrift-encoded, to the file.
func (f *fileWriter) encode(v any) error {
	f.header.Reset()
	if err := f.thrift.Encode(v); err != nil {
		return fmt.Errorf("encode %T: %w", v, err)
	}
	f.out.Write(f.header.Bytes())
	return nil
}

// pageStats is what one data page holds.
type pageStats struct {
	rows, nulls int64
	// lo and hi bound the non-null values (when has), in PLAIN form for
	// integers.
	has      bool
	lo, hi   []byte
	ilo, ihi int64
	// unencoded is the byte arrays' length, for size statistics.
	unencoded int64
}

func (f *fileWriter) column(c int, col schema.Column, tmpl *footerTemplate) error {
	cc := &f.chunks[c]
	md := &cc.MetaData
	dict := f.blocks[0].Column(c).Dict
	*md = format.ColumnMetaData{
		Type:         tmpl.types[c],
		Encoding:     []format.Encoding{format.Plain, format.RLE},
		PathInSchema: []string{col.Name},
		Codec:        f.e.codec.CompressionCodec(),
		SizeStatistics: format.SizeStatistics{
			DefinitionLevelHistogram: make([]int64, 2),
		},
	}
	ci := &f.indexes[c]
	oi := &f.offsets[c]
	dataEncoding := format.Plain
	if dict {
		md.Encoding = append(md.Encoding, format.RLEDictionary)
		dataEncoding = format.RLEDictionary
		f.buildDict(c)
		md.DictionaryPageOffset = f.offset()
		if err := f.dictionaryPage(md); err != nil {
			return err
		}
	}
	md.DataPageOffset = f.offset()
	dash := f.e.cfg.DashStrings && col.Kind == schema.KindString
	limit := int64(float64(f.e.cfg.PageBytes) * 0.98)
	var (
		p     pageStats
		size  int64 // parquet-go's estimate of the page buffer
		pages int32
		first int64 // the page's first row
	)
	f.levels, f.values, f.ids = f.levels[:0], f.values[:0], f.ids[:0]
	flush := func() error {
		if p.rows == 0 {
			return nil
		}
		if dict {
			f.dictBounds(pages, &p)
		}
		lo, hi := p.bounds(col.Kind)
		loc, err := f.dataPage(md, &p, lo, hi, dataEncoding, col.Kind)
		if err != nil {
			return err
		}
		loc.FirstRowIndex = first
		oi.PageLocations = append(oi.PageLocations, loc)
		f.indexPage(ci, &p, lo, hi, col.Kind)
		md.SizeStatistics.DefinitionLevelHistogram[0] += p.nulls
		md.SizeStatistics.DefinitionLevelHistogram[1] += p.rows - p.nulls
		md.SizeStatistics.UnencodedByteArrayDataBytes += p.unencoded
		first += p.rows
		pages++
		p = pageStats{}
		size = 0
		f.levels, f.values, f.ids = f.levels[:0], f.values[:0], f.ids[:0]
		return nil
	}
	for bi, b := range f.blocks {
		d := b.Column(c)
		n := b.Len()
		for lo := 0; lo < n; lo += chunkRows {
			hi := min(lo+chunkRows, n)
			before := len(f.values)
			nonNull := f.chunk(&d, bi, lo, hi, dash, dict, pages, &p)
			rows := int64(hi - lo)
			size += 5 * rows
			switch {
			case dict:
				size += 4 * nonNull
			case col.Kind == schema.KindString:
				size += int64(len(f.values) - before) // lengths and bytes
			case col.Kind == schema.KindInt32:
				size += 4 * nonNull
			default:
				size += 8 * nonNull
			}
			if size >= limit {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	md.NumValues = first
	finishIndex(ci, col.Kind)
	slices.SortFunc(md.EncodingStats, func(a, b format.PageEncodingStats) int {
		if a.PageType != b.PageType {
			return int(a.PageType) - int(b.PageType)
		}
		return int(a.Encoding) - int(b.Encoding)
	})
	return nil
}

// chunk adds rows lo..hi of column d (of block bi) to the page, and
// returns how many are not null.
func (f *fileWriter) chunk(d *schema.ColumnData, bi, lo, hi int, dash, dict bool, page int32, p *pageStats) int64 {
	start := len(f.levels)
	f.levels = slices.Grow(f.levels, hi-lo)[:start+hi-lo]
	lv := f.levels[start:]
	nonNull := int64(0)
	for i := range lv {
		row := lo + i
		if dash || d.NotNull(row) {
			lv[i] = 1
			nonNull++
		} else {
			lv[i] = 0
		}
	}
	p.rows += int64(hi - lo)
	p.nulls += int64(hi-lo) - nonNull
	switch {
	case dict:
		remap := f.remap[bi]
		mark := page + 1
		for i := range hi - lo {
			if lv[i] == 0 {
				continue
			}
			e := f.dashEntry
			if d.NotNull(lo + i) {
				e = remap[d.ID(lo+i)]
			}
			f.ids = append(f.ids, e)
			f.used[e] = mark
		}
	case d.Kind == schema.KindString:
		start := uint32(0)
		if lo > 0 {
			start = d.Ends[lo-1]
		}
		for i, end := range d.Ends[lo:hi] {
			v := d.Data[start:end:end]
			start = end
			if lv[i] == 0 {
				continue
			}
			if !d.NotNull(lo + i) {
				v = dashBytes
			}
			f.values = plain.AppendByteArray(f.values, v)
			p.unencoded += int64(len(v))
			p.boundBytes(v)
		}
	default:
		f.ints(d, lo, hi, lv, p)
	}
	return nonNull
}
