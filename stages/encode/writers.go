package encode

import "bytes"

// File writers are reused across files: their buffers (a page's levels,
// values, raw and compressed bytes, a dictionary's numbering) grow to the
// size of a page once instead of once per file, which would fault in fresh
// memory for every file. Idle writers are memory, so they are bounded: at
// most maxIdle wait at once, each holding at most IdleWriterBytes (larger
// buffers are dropped when it is put back). IdleBytes is that bound, for
// the memory budget.

// IdleWriterBytes bounds the memory of one writer kept for reuse.
const IdleWriterBytes = 2 << 20

// getWriter returns an idle writer or a new one.
func (e *Encoder) getWriter() *fileWriter {
	select {
	case f := <-e.idle:
		return f
	default:
		return newFileWriter(e)
	}
}

// putWriter keeps f for reuse unless enough writers wait.
func (e *Encoder) putWriter(f *fileWriter) {
	f.release()
	select {
	case e.idle <- f:
	default:
	}
}

// IdleBytes bounds the memory of the writers kept for reuse.
func (e *Encoder) IdleBytes() int64 { return int64(cap(e.idle)) * IdleWriterBytes }

// SetMaxIdle sets how many writers may wait for reuse (0: none), before
// the first Encode. By default, as many as encode at once.
func (e *Encoder) SetMaxIdle(n int) { e.idle = make(chan *fileWriter, max(n, 0)) }

// release drops the references to the file's output and rows, and the
// buffers past what an idle writer may hold.
func (f *fileWriter) release() {
	f.out, f.layout, f.blocks = nil, nil, nil
	clear(f.dict)
	f.dict = f.dict[:0]
	clear(f.lookup)
	f.chunks, f.indexes, f.offsets = nil, nil, nil
	if f.mem() > IdleWriterBytes {
		f.levels, f.values, f.ids, f.raw, f.enc, f.comp = nil, nil, nil, nil, nil, nil
		f.dict, f.remap, f.used, f.lookup = nil, nil, nil, nil
		f.header = bytes.Buffer{}
	}
}

// mem approximates the memory f's buffers hold.
func (f *fileWriter) mem() int {
	n := cap(f.levels) + cap(f.values) + 4*cap(f.ids) + cap(f.raw) + cap(f.enc) + cap(f.comp) +
		f.header.Cap() + 24*cap(f.dict) + 24*cap(f.remap) + 4*cap(f.used) + 48*len(f.lookup)
	for _, r := range f.remap[:cap(f.remap)] {
		n += 4 * cap(r)
	}
	return n
}
