package archive

import (
	"container/heap"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// readBatch is how many rows are read or written at a time.
const readBatch = 1024

// sorter sorts the rows of several Parquet inputs by one int64 column in
// bounded memory: runs of at most runBytes are sorted and spilled to temp
// files, then merged.
type sorter struct {
	schema   *parquet.Schema
	col      int // leaf index of the sort column
	tmp      string
	runBytes int64
	runs     []string
	buf      []parquet.Row
	keys     []int64
	bufBytes int64
}

func newSorter(schema *parquet.Schema, sortColumn, tmp string, runBytes int64) (*sorter, error) {
	leaf, ok := schema.Lookup(sortColumn)
	if !ok {
		return nil, fmt.Errorf("no %s column to sort by", sortColumn)
	}
	return &sorter{schema: schema, col: leaf.ColumnIndex, tmp: tmp, runBytes: runBytes}, nil
}

func (s *sorter) key(r parquet.Row) int64 {
	// Flat schemas (the lake's) have one value per column, in column
	// order; scan only when that does not hold.
	if s.col < len(r) && r[s.col].Column() == s.col {
		return valueKey(r[s.col])
	}
	for _, v := range r {
		if v.Column() == s.col {
			return valueKey(v)
		}
	}
	return -1 << 63
}

func valueKey(v parquet.Value) int64 {
	if v.IsNull() {
		return -1 << 63
	}
	return v.Int64()
}

// add reads every row of f into runs.
func (s *sorter) add(f *parquet.File) error {
	r := parquet.NewReader(f)
	defer r.Close()
	rows := make([]parquet.Row, readBatch)
	for {
		n, err := r.ReadRows(rows)
		for _, row := range rows[:n] {
			c := row.Clone()
			s.buf = append(s.buf, c)
			s.keys = append(s.keys, s.key(c))
			s.bufBytes += rowBytes(c)
		}
		if s.bufBytes >= s.runBytes {
			if err := s.spill(); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read rows: %w", err)
		}
	}
}

// spill sorts the buffered rows and writes them as a run.
func (s *sorter) spill() error {
	if len(s.buf) == 0 {
		return nil
	}
	sort.Stable(byKey{s.keys, s.buf})
	name := filepath.Join(s.tmp, fmt.Sprintf("run-%06d.parquet", len(s.runs)))
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("create run: %w", err)
	}
	w := parquet.NewWriter(f, s.schema, parquet.Compression(&zstd.Codec{Level: zstd.SpeedFastest}))
	for lo := 0; lo < len(s.buf); lo += readBatch {
		if _, err := w.WriteRows(s.buf[lo:min(lo+readBatch, len(s.buf))]); err != nil {
			f.Close()
			return fmt.Errorf("write run: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		f.Close()
		return fmt.Errorf("write run: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write run: %w", err)
	}
	s.runs = append(s.runs, name)
	clear(s.buf)
	s.buf, s.keys, s.bufBytes = s.buf[:0], s.keys[:0], 0
	return nil
}

// runReader streams one sorted run.
type runReader struct {
	f    *os.File
	r    *parquet.Reader
	rows []parquet.Row
	i, n int
	done bool
}

func (rr *runReader) peek() (parquet.Row, error) {
	if rr.i < rr.n {
		return rr.rows[rr.i], nil
	}
	if rr.done {
		return nil, io.EOF
	}
	n, err := rr.r.ReadRows(rr.rows)
	rr.i, rr.n = 0, n
	if errors.Is(err, io.EOF) {
		rr.done = true
	} else if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, io.EOF
	}
	return rr.rows[0], nil
}

type mergeHeap struct {
	s     *sorter
	items []*runReader
	keys  []int64
	order []int // run index, keeps the merge stable
}

func (h *mergeHeap) Len() int { return len(h.items) }
func (h *mergeHeap) Less(i, j int) bool {
	if h.keys[i] != h.keys[j] {
		return h.keys[i] < h.keys[j]
	}
	return h.order[i] < h.order[j]
}
func (h *mergeHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.keys[i], h.keys[j] = h.keys[j], h.keys[i]
	h.order[i], h.order[j] = h.order[j], h.order[i]
}
func (h *mergeHeap) Push(any) {}
func (h *mergeHeap) Pop() any {
	n := len(h.items) - 1
	it := h.items[n]
	h.items, h.keys, h.order = h.items[:n], h.keys[:n], h.order[:n]
	return it
}

// merge calls emit with every row in sort order; rows are valid only
// during the call.
func (s *sorter) merge(emit func(parquet.Row) error) error {
	if len(s.runs) == 0 {
		// Everything fit in memory: sort it there, no run files.
		sort.Stable(byKey{s.keys, s.buf})
		for _, r := range s.buf {
			if err := emit(r); err != nil {
				return err
			}
		}
		clear(s.buf)
		s.buf, s.keys, s.bufBytes = s.buf[:0], s.keys[:0], 0
		return nil
	}
	if err := s.spill(); err != nil {
		return err
	}
	h := &mergeHeap{s: s}
	defer func() {
		for _, rr := range h.items {
			rr.r.Close()
			rr.f.Close()
		}
	}()
	for i, name := range s.runs {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("open run: %w", err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return err
		}
		pf, err := parquet.OpenFile(f, st.Size())
		if err != nil {
			f.Close()
			return fmt.Errorf("open run: %w", err)
		}
		rr := &runReader{f: f, r: parquet.NewReader(pf), rows: make([]parquet.Row, 256)}
		row, err := rr.peek()
		if errors.Is(err, io.EOF) {
			rr.r.Close()
			f.Close()
			continue
		}
		if err != nil {
			f.Close()
			return fmt.Errorf("read run: %w", err)
		}
		h.items = append(h.items, rr)
		h.keys = append(h.keys, s.key(row))
		h.order = append(h.order, i)
	}
	heap.Init(h)
	for h.Len() > 0 {
		rr := h.items[0]
		if err := emit(rr.rows[rr.i]); err != nil {
			return err
		}
		rr.i++
		row, err := rr.peek()
		if errors.Is(err, io.EOF) {
			heap.Pop(h)
			rr.r.Close()
			rr.f.Close()
			continue
		}
		if err != nil {
			return fmt.Errorf("read run: %w", err)
		}
		h.keys[0] = s.key(row)
		heap.Fix(h, 0)
	}
	return nil
}

// countingWriter counts bytes written.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// output is a local Parquet file being written.
type output struct {
	path     string
	f        *os.File
	cw       *countingWriter
	w        *parquet.Writer
	rows     int64
	minStart int64
	maxStart int64
	batch    []parquet.Row
}

// outputs writes sorted rows into files of about target bytes, cut at row
// group boundaries.
type outputs struct {
	s         *sorter
	tmp       string
	target    int64
	groupRows int64
	meta      map[string]string
	cur       *output
	done      []*output
}

func (o *outputs) open() error {
	path := filepath.Join(o.tmp, fmt.Sprintf("out-%03d.parquet", len(o.done)))
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create output: %w", err)
	}
	cw := &countingWriter{w: f}
	opts := []parquet.WriterOption{o.s.schema, parquet.Compression(&zstd.Codec{Level: zstd.SpeedDefault}),
		parquet.MaxRowsPerRowGroup(o.groupRows), parquet.DataPageVersion(1)}
	keys := make([]string, 0, len(o.meta))
	for k := range o.meta {
		keys = append(keys, k)
	}
	sort.Strings(keys) // same bytes on every run: a rerun's file is the same file
	for _, k := range keys {
		opts = append(opts, parquet.KeyValueMetadata(k, o.meta[k]))
	}
	o.cur = &output{path: path, f: f, cw: cw, w: parquet.NewWriter(cw, opts...), minStart: 1<<63 - 1, maxStart: -1 << 63}
	return nil
}

func (o *outputs) write(row parquet.Row) error {
	if o.cur == nil {
		if err := o.open(); err != nil {
			return err
		}
	}
	c := o.cur
	k := o.s.key(row)
	c.minStart, c.maxStart = min(c.minStart, k), max(c.maxStart, k)
	c.batch = append(c.batch, row.Clone())
	c.rows++
	if len(c.batch) >= readBatch {
		if err := o.flushBatch(); err != nil {
			return err
		}
		if c.cw.n >= o.target { // a row group reached the file
			return o.close()
		}
	}
	return nil
}

func (o *outputs) flushBatch() error {
	c := o.cur
	if _, err := c.w.WriteRows(c.batch); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	clear(c.batch)
	c.batch = c.batch[:0]
	return nil
}

func (o *outputs) close() error {
	if o.cur == nil {
		return nil
	}
	if err := o.flushBatch(); err != nil {
		return err
	}
	c := o.cur
	if err := c.w.Close(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	if err := c.f.Sync(); err != nil {
		return err
	}
	if err := c.f.Close(); err != nil {
		return err
	}
	o.done = append(o.done, c)
	o.cur = nil
	return nil
}

// rowBytes estimates a row's memory: a Value each, plus byte arrays.
func rowBytes(r parquet.Row) int64 {
	n := int64(24 * len(r))
	for _, v := range r {
		if !v.IsNull() && (v.Kind() == parquet.ByteArray || v.Kind() == parquet.FixedLenByteArray) {
			n += int64(len(v.ByteArray()))
		}
	}
	return n
}

// byKey sorts rows by their precomputed keys.
type byKey struct {
	keys []int64
	rows []parquet.Row
}

func (b byKey) Len() int           { return len(b.keys) }
func (b byKey) Less(i, j int) bool { return b.keys[i] < b.keys[j] }
func (b byKey) Swap(i, j int) {
	b.keys[i], b.keys[j] = b.keys[j], b.keys[i]
	b.rows[i], b.rows[j] = b.rows[j], b.rows[i]
}
