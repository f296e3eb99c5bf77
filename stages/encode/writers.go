package encode

import (
	"io"
	"strings"

	"github.com/parquet-go/parquet-go"

	"flowlake/schema"
)

// Writers are reused across files: a new parquet.Writer starts with empty
// column buffers that grow (copy and zero) to a page each, for every file,
// which cost about a third of an encode. A closed writer keeps them; Reset
// points it at the next file. Writers are kept per layout and set of
// metadata keys (a reused writer replaces the values of the keys it was
// made with, in the same order).
//
// Idle writers are memory, so they are bounded: at most maxIdle wait at
// once, and only a writer whose file's rows took at most reuseBytes in
// memory is kept (its buffers hold about that much; a larger file pays for
// a new writer anyway). IdleBytes is that bound, for the memory budget.
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

// reuseBytes is the largest file (rows' bytes in memory) whose writer is
// kept for reuse.
const reuseBytes = 1 << 20

// IdleWriterBytes bounds the memory of one writer kept for reuse: about
// twice the rows' bytes of the file it last wrote (values, levels and
// dictionary).
const IdleWriterBytes = 2 * reuseBytes

// idleWriters holds the closed writers waiting for reuse, at most max of
// them (each costs 1 in the free list).
type idleWriters struct {
	list *schema.FreeList[writerKey, *parquet.Writer]
}

func newIdleWriters(max int) idleWriters {
	return idleWriters{list: schema.NewFreeList[writerKey](int64(max), func(*parquet.Writer) int64 { return 1 })}
}

func (iw idleWriters) get(k writerKey) *parquet.Writer {
	w, _ := iw.list.Get(k)
	return w
}

// put keeps w unless max writers already wait.
func (iw idleWriters) put(k writerKey, w *parquet.Writer) { iw.list.Put(k, w) }

// n is the number of writers waiting.
func (iw idleWriters) n() int { return int(iw.list.Total()) }

// max is the most that may wait.
func (iw idleWriters) max() int { return int(iw.list.Max()) }

// IdleBytes bounds the memory of the writers kept for reuse.
func (e *Encoder) IdleBytes() int64 { return int64(e.idle.max()) * IdleWriterBytes }

// SetMaxIdle sets how many writers may wait for reuse (0: none), before
// the first Encode. By default, as many as encode at once.
func (e *Encoder) SetMaxIdle(n int) { e.idle.list.SetMax(int64(max(n, 0))) }

func writerKeyOf(l *schema.Layout, keys []string) writerKey {
	return writerKey{layout: l.ID, keys: strings.Join(keys, "\x00")}
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
