package pipeline

import (
	"context"
	"sync/atomic"
	"unsafe"

	"flowlake/schema"
	"flowlake/stages/parse"
	"flowlake/stages/source"
)

// fetched is a chunk on its way from the fetch goroutine to the partition
// loop, with the memory it holds (its messages and the rows they parse
// into, estimated).
type fetched struct {
	chunk    *parse.Chunk
	last     int64
	reserved int64
	msgs     *msgArray // the fetch's message array, shared by its chunks
}

// msgArray is the message array one fetch filled, shared by the chunks cut
// from it. The last chunk merged hands it back to the pipeline's free
// arrays for a later fetch, so that fetching does not grow a fresh array
// (and fault in fresh pages) every time. A chunk that is dropped instead of
// merged never hands it back: the garbage collector takes it, which is
// safe.
type msgArray struct {
	msgs []parse.Message
	refs atomic.Int32
	home *arrayPool
}

// messageBytes is the memory of a message array element.
const messageBytes = int64(unsafe.Sizeof(parse.Message{}))

func (a *msgArray) bytes() int64 { return int64(cap(a.msgs)) * messageBytes }

// release drops one chunk's reference; the last one returns the array,
// cleared so that it keeps no message value alive.
func (a *msgArray) release() {
	if a == nil || a.refs.Add(-1) != 0 {
		return
	}
	clear(a.msgs[:cap(a.msgs)])
	a.msgs = a.msgs[:0]
	a.home.put(a)
}

// arrayPool keeps emptied message arrays up to a number of bytes: a share
// of the budget set aside for pooled memory, like the block pool's.
type arrayPool struct {
	list *schema.FreeList[struct{}, *msgArray]
}

func newArrayPool(max int64) *arrayPool {
	return &arrayPool{list: schema.NewFreeList[struct{}](max, (*msgArray).bytes)}
}

func (h *arrayPool) put(a *msgArray) { h.list.Put(struct{}{}, a) }

// get returns a free message array, or a new one.
func (h *arrayPool) get() *msgArray {
	if a, ok := h.list.Get(struct{}{}); ok {
		return a
	}
	return &msgArray{home: h}
}

// Bytes is the memory the free arrays hold.
func (h *arrayPool) Bytes() int64 { return h.list.Total() }

// Fetches are sized so that one of every assigned partition fits in half
// the fetch share of the budget, parsed rows included, and never below
// minFetchBytes (a few messages).
const minFetchBytes = 4 << 10

// messageOverhead is what kafka-go and the chunk take per message beside
// its value (the Message struct, the value's own allocation rounding).
const messageOverhead = 64

// fetchSize is the message bytes one fetch of one partition may return:
// what they are expected to take until merged (parseFactor) for every
// assigned partition fits in half the fetch share together, so that
// fetches in flight (an idle partition's long poll holds its reservation
// for the max wait) never keep each other waiting; the other half is for
// the chunks fetched before, waiting to be merged.
func (p *Pipeline) fetchSize() int64 {
	parts := max(p.assignedParts.Load(), 1)
	return min(int64(p.cfg.Source.FetchMaxBytes), max(p.mem.fetchLimit/2/parts*16/p.parseFactor(), minFetchBytes))
}

// parseFactor is the memory a fetched byte takes until it is merged, in
// sixteenths: the message plus the rows it parses into, learned from the
// chunks merged so far (between 1x and 64x: records spread over many
// accounts and hours parse into many small blocks). Until a chunk has been
// merged it is the most it can be, so that the first fetches of every
// partition, sent at once, cannot parse into many times the budget.
func (p *Pipeline) parseFactor() int64 {
	r := p.parseRatio.Load()
	if r == 0 {
		return maxParseFactor
	}
	return min(max(r, 16), maxParseFactor)
}

const maxParseFactor = 1024

// learnParse updates parseFactor from a merged chunk: raw message bytes in,
// parsed block bytes out. The first chunk sets it; later ones move it by
// an eighth of the difference.
func (p *Pipeline) learnParse(raw, parsed int64) {
	if raw <= 0 {
		return
	}
	f := 16 + parsed*16/raw
	old := p.parseRatio.Load()
	if old == 0 {
		p.parseRatio.Store(max(f, 16))
		return
	}
	p.parseRatio.Store(old + (f-old)/8)
}

// fetchLoop reads the partition from start, cuts what it reads into chunks,
// submits them to the parse pool and queues them, in order, on out, which it
// closes when ctx ends.
func (pt *partition) fetchLoop(ctx context.Context, start int64, out chan<- *fetched) {
	defer close(out)
	p := pt.p
	f := pt.s.Open(start, int(p.fetchSize()))
	defer func() { f.Close() }()
	account, region := pt.s.Placement()
	arr := p.arrays.get()
	for {
		// The fetch reserves what its messages are expected to take until
		// they are merged, parsed rows included (the same estimate that
		// replaces the reservation once they are read).
		size := p.fetchSize()
		want := size * p.parseFactor() / 16
		if err := p.mem.acquireFetch(ctx, want); err != nil {
			return
		}
		if r, ok := f.(interface{ SetMaxBytes(int) }); ok {
			r.SetMaxBytes(int(size))
		}
		msgs, err := f.Fetch(ctx, arr.msgs[:0])
		if err != nil && len(msgs) == 0 {
			p.mem.addFetched(-want)
			pt.fetchErr = err // read by the loop once out is closed
			return
		}
		if err != nil {
			// Messages come with the end (or failure) of the stream:
			// deliver them, and stop at the next fetch.
			f = &endedReader{Reader: f, err: err}
		}
		if len(msgs) == 0 {
			p.mem.addFetched(-want)
			continue
		}
		// The array is handed to the chunks (the last one merged returns
		// it); the next fetch takes another.
		arr.msgs = msgs
		raw := int64(0)
		for i := range msgs {
			raw += int64(len(msgs[i].Value)) + messageOverhead
		}
		// A fetch returns at least one message even when it is larger than
		// the fetch size: count what was really read, without waiting
		// (waiting while holding would deadlock against other partitions).
		held := raw * p.parseFactor() / 16
		p.mem.addFetched(held - want)
		cur := arr
		cur.refs.Store(1) // the loop's own, dropped after the last chunk is queued
		arr = p.arrays.get()
		for lo := 0; lo < len(msgs); {
			hi, bytes := lo, int64(0)
			for hi < len(msgs) && (hi == lo || bytes+int64(len(msgs[hi].Value)) <= int64(p.cfg.ChunkBytes)) {
				bytes += int64(len(msgs[hi].Value)) + messageOverhead
				hi++
			}
			reserved := min(bytes*p.parseFactor()/16, held)
			if hi == len(msgs) {
				reserved = held // the last chunk carries what is left of the reservation
			}
			held -= reserved
			c := parse.NewChunk(pt.id.Topic, pt.id.Partition, msgs[lo:hi:hi])
			c.Account, c.Region = account, region
			if pt.skip != nil && msgs[lo].Offset <= pt.skipUntil {
				c.Skip = pt.skip
			}
			cur.refs.Add(1)
			fc := &fetched{chunk: c, last: msgs[hi-1].Offset, reserved: reserved, msgs: cur}
			if err := p.pool.Submit(ctx, c); err != nil {
				p.mem.addFetched(-(reserved + held))
				return
			}
			p.unmerged.Add(1) // the partition loop subtracts it when it merges or drops the chunk
			select {
			case out <- fc:
			case <-ctx.Done():
				// The chunk is parsed by a worker anyway; its memory is
				// released here since nobody will merge it.
				p.mem.addFetched(-(reserved + held))
				p.unmerged.Add(-1)
				return
			}
			lo = hi
		}
		cur.release()
	}
}

// endedReader returns err on every fetch: its stream ended after the
// messages the last fetch delivered.
type endedReader struct {
	source.Reader
	err error
}

func (r *endedReader) Fetch(_ context.Context, buf []parse.Message) ([]parse.Message, error) {
	return buf, r.err
}
