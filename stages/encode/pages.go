package encode

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/plain"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"flowlake/schema"
)

var dashBytes = []byte("-")

// indexLimit is the longest string a column index keeps (parquet-go's
// default): longer minimums are cut, longer maximums cut and rounded up.
const indexLimit = 16

// ints adds the integers of rows lo..hi (levels lv) to the page's PLAIN
// values and bounds.
func (f *fileWriter) ints(d *schema.ColumnData, lo, hi int, lv []byte, p *pageStats) {
	f.values = slices.Grow(f.values, 8*(hi-lo))
	switch {
	case d.Kind == schema.KindInt32:
		f.values = appendPlain(f.values, d.Ints32[lo:hi], lv, 4, p)
	case d.Narrow:
		f.values = appendPlain(f.values, d.Uints32[lo:hi], lv, 8, p)
	default:
		f.values = appendPlain(f.values, d.Ints[lo:hi], lv, 8, p)
	}
}

// appendPlain appends the non-null values of vals (levels lv) to out as
// PLAIN integers of width bytes (4 or 8), widening p's bounds.
func appendPlain[T int32 | uint32 | int64](out []byte, vals []T, lv []byte, width int, p *pageStats) []byte {
	for i, x := range vals {
		if lv[i] == 0 {
			continue
		}
		if width == 4 {
			out = binary.LittleEndian.AppendUint32(out, uint32(x))
		} else {
			out = binary.LittleEndian.AppendUint64(out, uint64(x))
		}
		p.bound(int64(x))
	}
	return out
}

// boundBytes widens the page's bounds to string v.
func (p *pageStats) boundBytes(v []byte) {
	if !p.has {
		p.lo, p.hi, p.has = v, v, true
	} else if bytes.Compare(v, p.lo) < 0 {
		p.lo = v
	} else if bytes.Compare(v, p.hi) > 0 {
		p.hi = v
	}
}

// bound widens the page's bounds to integer x.
func (p *pageStats) bound(x int64) {
	if !p.has {
		p.ilo, p.ihi, p.has = x, x, true
		return
	}
	p.ilo = min(p.ilo, x)
	p.ihi = max(p.ihi, x)
}

// buildDict numbers column c's distinct non-null strings across the
// file's blocks in the order rows first use them, as the dictionary page
// lists them.
func (f *fileWriter) buildDict(c int) {
	f.dict, f.dictSize, f.dashEntry = f.dict[:0], 0, noEntry
	clear(f.lookup)
	dash := f.e.cfg.DashStrings
	for len(f.remap) < len(f.blocks) {
		f.remap = append(f.remap, nil)
	}
	for bi, b := range f.blocks {
		d := b.Column(c)
		remap := slices.Grow(f.remap[bi][:0], len(d.Ends))[:len(d.Ends)]
		for i := range remap {
			remap[i] = noEntry
		}
		f.remap[bi] = remap
		for row := range b.Len() {
			if d.NotNull(row) {
				id := d.ID(row)
				if remap[id] == noEntry {
					remap[id] = f.entry(d.String(int(id)))
				}
			} else if dash && f.dashEntry == noEntry {
				f.dashEntry = f.entry(dashBytes)
			}
		}
	}
	f.used = slices.Grow(f.used[:0], len(f.dict))[:len(f.dict)]
	clear(f.used)
}

// entry returns v's number in the file's dictionary, adding it when new.
func (f *fileWriter) entry(v []byte) int32 {
	if len(f.blocks) > 1 || f.e.cfg.DashStrings { // entries may repeat
		if e, ok := f.lookup[string(v)]; ok {
			return e
		}
		if f.lookup == nil {
			f.lookup = make(map[string]int32)
		}
		f.lookup[string(v)] = int32(len(f.dict))
	}
	f.dict = append(f.dict, v)
	f.dictSize += 4 + len(v)
	return int32(len(f.dict) - 1)
}

// dictBounds bounds p by the entries page used.
func (f *fileWriter) dictBounds(page int32, p *pageStats) {
	mark := page + 1
	for e, m := range f.used {
		if m == mark {
			p.boundBytes(f.dict[e])
		}
	}
}

// dictionaryPage writes the column's dictionary.
func (f *fileWriter) dictionaryPage(md *format.ColumnMetaData) error {
	f.raw = slices.Grow(f.raw[:0], f.dictSize)
	for _, v := range f.dict {
		f.raw = plain.AppendByteArray(f.raw, v)
	}
	body, err := f.compress()
	if err != nil {
		return err
	}
	h := format.PageHeader{
		Type:                 format.DictionaryPage,
		UncompressedPageSize: int32(len(f.raw)),
		CompressedPageSize:   int32(len(body)),
		CRC:                  int32(crc32.ChecksumIEEE(body)),
	}
	h.DictionaryPageHeader = thrift.New(format.DictionaryPageHeader{NumValues: int32(len(f.dict)), Encoding: format.Plain})
	_, err = f.page(md, &h, body)
	return err
}

// dataPage writes the page built in f.levels and f.values or f.ids, whose
// bounds are lo and hi (p.bounds), and returns its location.
func (f *fileWriter) dataPage(md *format.ColumnMetaData, p *pageStats, lo, hi []byte, enc format.Encoding, kind schema.Kind) (format.PageLocation, error) {
	levels, err := rleLevels.EncodeLevels(f.enc[:0], f.levels)
	if err != nil {
		return format.PageLocation{}, fmt.Errorf("definition levels: %w", err)
	}
	f.enc = levels
	f.raw = plain.AppendInt32(f.raw[:0], int32(len(levels)))
	f.raw = append(f.raw, levels...)
	if enc == format.RLEDictionary {
		ids, err := dictIDs.EncodeInt32(f.enc[:0], f.ids)
		if err != nil {
			return format.PageLocation{}, fmt.Errorf("dictionary indexes: %w", err)
		}
		f.enc = ids
		f.raw = append(f.raw, ids...)
	} else {
		f.raw = append(f.raw, f.values...)
	}
	body, err := f.compress()
	if err != nil {
		return format.PageLocation{}, err
	}
	st := format.Statistics{NullCount: p.nulls}
	if p.has && (enc == format.RLEDictionary || kind != schema.KindString || p.unencoded > 0) {
		// A page of PLAIN strings that are all empty has no bounds in its
		// header, as parquet-go writes it (its buffer of bytes is nil);
		// a dictionary page's empty bound is there.
		lo, hi = nonNil(lo), nonNil(hi)
		st.Min, st.Max, st.MinValue, st.MaxValue = lo, hi, lo, hi
	}
	h := format.PageHeader{
		Type:                 format.DataPage,
		UncompressedPageSize: int32(len(f.raw)),
		CompressedPageSize:   int32(len(body)),
		CRC:                  int32(crc32.ChecksumIEEE(body)),
	}
	h.DataPageHeader = thrift.New(format.DataPageHeader{
		NumValues:               int32(p.rows),
		Encoding:                enc,
		DefinitionLevelEncoding: format.RLE,
		RepetitionLevelEncoding: format.RLE,
		Statistics:              st,
	})
	loc, err := f.page(md, &h, body)
	if err != nil {
		return loc, err
	}
	md.NumValues += p.rows
	md.Statistics.NullCount += p.nulls
	if p.has {
		s := &md.Statistics
		if s.MaxValue == nil || compare(kind, hi, s.MaxValue) > 0 {
			s.MaxValue = append(make([]byte, 0, len(hi)), hi...)
		}
		if s.MinValue == nil || compare(kind, lo, s.MinValue) < 0 {
			s.MinValue = append(make([]byte, 0, len(lo)), lo...)
		}
	}
	return loc, nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// bounds returns the page's bounds as statistics hold them.
func (p *pageStats) bounds(kind schema.Kind) (lo, hi []byte) {
	switch {
	case !p.has:
		return nil, nil
	case kind == schema.KindInt32:
		return plain.AppendInt32(nil, int32(p.ilo)), plain.AppendInt32(nil, int32(p.ihi))
	case kind == schema.KindInt64:
		return plain.AppendInt64(nil, p.ilo), plain.AppendInt64(nil, p.ihi)
	}
	return p.lo, p.hi
}

// compare orders two statistics values of a column of kind.
func compare(kind schema.Kind, a, b []byte) int {
	switch kind {
	case schema.KindInt32:
		x, y := int32(binary.LittleEndian.Uint32(a)), int32(binary.LittleEndian.Uint32(b))
		return cmpInt(int64(x), int64(y))
	case schema.KindInt64:
		return cmpInt(int64(binary.LittleEndian.Uint64(a)), int64(binary.LittleEndian.Uint64(b)))
	}
	return bytes.Compare(a, b)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compress returns f.raw compressed (or f.raw itself, uncompressed).
func (f *fileWriter) compress() ([]byte, error) {
	if f.e.codec.CompressionCodec() == format.Uncompressed {
		return f.raw, nil
	}
	out, err := f.e.codec.Encode(f.comp[:0], f.raw)
	if err != nil {
		return nil, fmt.Errorf("compress page: %w", err)
	}
	f.comp = out
	return out, nil
}

// page writes header h and body, and counts them in md.
func (f *fileWriter) page(md *format.ColumnMetaData, h *format.PageHeader, body []byte) (format.PageLocation, error) {
	at := f.offset()
	if err := f.encode(h); err != nil {
		return format.PageLocation{}, err
	}
	headerSize := f.offset() - at
	f.out.Write(body)
	md.TotalUncompressedSize += headerSize + int64(h.UncompressedPageSize)
	md.TotalCompressedSize += headerSize + int64(h.CompressedPageSize)
	enc := format.Plain
	if h.DataPageHeader.Valid {
		enc = h.DataPageHeader.V.Encoding
	}
	stat := format.PageEncodingStats{PageType: h.Type, Encoding: enc, Count: 1}
	for i := range md.EncodingStats {
		if md.EncodingStats[i].PageType == stat.PageType && md.EncodingStats[i].Encoding == stat.Encoding {
			md.EncodingStats[i].Count++
			return format.PageLocation{Offset: at, CompressedPageSize: int32(f.offset() - at)}, nil
		}
	}
	md.EncodingStats = append(md.EncodingStats, stat)
	return format.PageLocation{Offset: at, CompressedPageSize: int32(f.offset() - at)}, nil
}

// indexPage adds a page, whose bounds are lo and hi (p.bounds), to the
// column index.
func (f *fileWriter) indexPage(ci *format.ColumnIndex, p *pageStats, lo, hi []byte, kind schema.Kind) {
	ci.NullPages = append(ci.NullPages, p.rows == p.nulls)
	ci.NullCounts = append(ci.NullCounts, p.nulls)
	if !p.has {
		switch kind {
		case schema.KindInt32:
			lo, hi = make([]byte, 4), make([]byte, 4)
		case schema.KindInt64:
			lo, hi = make([]byte, 8), make([]byte, 8)
		}
	}
	ci.MinValues = append(ci.MinValues, append([]byte{}, lo...))
	ci.MaxValues = append(ci.MaxValues, append([]byte{}, hi...))
	ci.DefinitionLevelHistogram = append(ci.DefinitionLevelHistogram, p.nulls, p.rows-p.nulls)
}

// finishIndex cuts long strings and sets the boundary order.
func finishIndex(ci *format.ColumnIndex, kind schema.Kind) {
	if kind == schema.KindString {
		for i, v := range ci.MinValues {
			if len(v) > indexLimit {
				ci.MinValues[i] = v[:indexLimit]
			}
		}
		for i, v := range ci.MaxValues {
			if len(v) > indexLimit {
				v = v[:indexLimit]
				roundUp(v)
				ci.MaxValues[i] = v
			}
		}
	}
	lo, hi := orderOf(kind, ci.MinValues), orderOf(kind, ci.MaxValues)
	ci.BoundaryOrder = format.Unordered
	if lo == hi && lo > 0 {
		ci.BoundaryOrder = format.Ascending
	} else if lo == hi && lo < 0 {
		ci.BoundaryOrder = format.Descending
	}
}

// roundUp adds one to v as a big-endian number, in place (all 0xFF stays).
func roundUp(v []byte) {
	for i := len(v) - 1; i >= 0; i-- {
		v[i]++
		if v[i] != 0 {
			return
		}
	}
	for i := range v {
		v[i] = 0xFF
	}
}

// orderOf is 1 when vs ascend (ties allowed), -1 when they descend, and 0
// otherwise or for fewer than two values.
func orderOf(kind schema.Kind, vs [][]byte) int {
	if len(vs) < 2 {
		return 0
	}
	up, down := true, true
	for i := 1; i < len(vs); i++ {
		switch c := compare(kind, vs[i-1], vs[i]); {
		case c < 0:
			down = false
		case c > 0:
			up = false
		}
	}
	switch {
	case up:
		return 1
	case down:
		return -1
	}
	return 0
}

// footerTemplate is the part of a layout's footer parquet-go derives from
// the schema: the schema elements, column orders and created_by.
type footerTemplate struct {
	parquetSchema *parquet.Schema // the layout's, which the elements describe
	schema        []format.SchemaElement
	columnOrders  []format.ColumnOrder
	createdBy     string
	types         []format.Type
}

// newFooterTemplate has parquet-go write a file of one null row of l and
// keeps its footer's schema part.
func newFooterTemplate(l *schema.Layout) (*footerTemplate, error) {
	s := l.ParquetSchema()
	var buf bytes.Buffer
	w := parquet.NewWriter(&buf, s, parquet.CreatedBy("flowlake", Version, ""))
	row := make(parquet.Row, len(l.Columns))
	for i := range row {
		row[i] = parquet.NullValue().Level(0, 0, i)
	}
	if _, err := w.WriteRows([]parquet.Row{row}); err != nil {
		return nil, fmt.Errorf("footer template: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("footer template: %w", err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		return nil, fmt.Errorf("footer template: %w", err)
	}
	md := f.Metadata()
	t := &footerTemplate{parquetSchema: s, schema: md.Schema, columnOrders: md.ColumnOrders, createdBy: md.CreatedBy}
	for _, c := range md.RowGroups[0].Columns {
		t.types = append(t.types, c.MetaData.Type)
	}
	if len(t.types) != len(l.Columns) {
		return nil, fmt.Errorf("footer template: %d columns for a layout of %d", len(t.types), len(l.Columns))
	}
	return t, nil
}
