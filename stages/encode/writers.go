package encode

import (
	"io"
	"strings"
	"sync"

	"github.com/parquet-go/parquet-go"

	"flowlake/schema"
)

// Writers are reused across files: a new parquet.Writer starts with empty
// column buffers that grow (copy and zero) to a page each, for every file,
// which cost about a third of an encode. A closed writer keeps them; Reset
// points it at the next file. Writers are pooled per layout and set of
// metadata keys (a reused writer replaces the values of the keys it was
// made with, in the same order), in a sync.Pool, so that idle writers are
// memory the collector can take back.
//
// A file holding an empty string is written by a new writer: parquet-go
// (v0.32.0) takes a page's bounds from its byte buffer, so a page whose
// values are all empty strings gets no min/max in its header from a new
// writer (the buffer is nil) and min = max = "" from a reused one. Such
// files keep the bytes a new writer gives, whatever ran before.
type writerKey struct {
	layout uint64
	keys   string
}

func (e *Encoder) writerPool(l *schema.Layout, keys []string) *sync.Pool {
	k := writerKey{layout: l.ID, keys: strings.Join(keys, "\x00")}
	if p, ok := e.writers.Load(k); ok {
		return p.(*sync.Pool)
	}
	p, _ := e.writers.LoadOrStore(k, new(sync.Pool))
	return p.(*sync.Pool)
}

// release readies a closed writer for the pool. parquet-go's Writer.Reset
// clears the footer's column chunks in place, and their PathInSchema shares
// its array with the writer's column paths: the next file would name every
// column "" (parquet-go v0.32.0). The footer is written, so the chunks
// drop their reference to that array first. The writer also lets go of the
// file it wrote.
func release(w *parquet.Writer) {
	if f := w.File(); f != nil {
		rgs := f.Metadata().RowGroups
		for i := range rgs {
			for j := range rgs[i].Columns {
				rgs[i].Columns[j].MetaData.PathInSchema = nil
			}
		}
	}
	w.Reset(io.Discard)
}

// hasEmptyString reports whether a string column of blocks holds an empty
// string.
func hasEmptyString(blocks []*schema.Block) bool {
	for _, b := range blocks {
		for c, col := range b.Layout.Columns {
			if col.Kind != schema.KindString {
				continue
			}
			d := b.Column(c)
			prev := uint32(0)
			for i, end := range d.Ends {
				if end == prev && (d.Dict || valid(d.Valid, i)) {
					return true
				}
				prev = end
			}
		}
	}
	return false
}

func valid(bits []uint64, row int) bool { return bits[row>>6]&(1<<(row&63)) != 0 }
