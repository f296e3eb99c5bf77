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
