package pipeline

import (
	"context"

	"flowlake/stages/parse"
)

// fetched is a chunk on its way from the fetch goroutine to the partition
// loop, with the memory it holds (its messages and the rows they parse
// into, estimated).
type fetched struct {
	chunk    *parse.Chunk
	last     int64
	reserved int64
}

// Fetches are sized so that every assigned partition can hold one within
// the fetch share of the budget, and never below minFetchBytes.
const minFetchBytes = 64 << 10

// messageOverhead is what kafka-go and the chunk take per message beside
// its value (the Message struct, the value's own allocation rounding).
const messageOverhead = 64

// fetchSize is the bytes one fetch of one partition may ask for: the
// fetches of all assigned partitions fit in half the fetch share together,
// so that fetches in flight (an idle partition's long poll holds its
// reservation for the max wait) never keep each other waiting; the rest is
// for what they return and parse into.
func (p *Pipeline) fetchSize() int64 {
	parts := max(p.assignedParts.Load(), 1)
	return min(int64(p.cfg.Source.FetchMaxBytes), max(p.mem.fetchLimit/2/parts*32/p.parseFactor(), minFetchBytes))
}

// parseFactor is the memory a fetched byte takes until it is merged, in
// sixteenths: the message plus the rows it parses into, learned from the
// chunks merged so far (between 1x and 64x: records spread over many
// accounts and hours parse into many small blocks).
func (p *Pipeline) parseFactor() int64 { return min(max(p.parseRatio.Load(), 16), 1024) }

// learnParse updates parseFactor from a merged chunk: raw message bytes in,
// parsed block bytes out.
func (p *Pipeline) learnParse(raw, parsed int64) {
	if raw <= 0 {
		return
	}
	f := 16 + parsed*16/raw
	old := p.parseRatio.Load()
	if old == 0 {
		old = 32
	}
	p.parseRatio.Store(old + (f-old)/8)
}

// fetchLoop reads the partition from start, cuts what it reads into chunks,
// submits them to the parse pool and queues them, in order, on out, which it
// closes when ctx ends.
func (pt *partition) fetchLoop(ctx context.Context, start int64, out chan<- *fetched) {
	defer close(out)
	p := pt.p
	f := p.source.Fetcher(pt.a, start)
	defer f.Close()
	var buf []parse.Message
	for {
		size := p.fetchSize()
		want := size
		if err := p.mem.acquireFetch(ctx, want); err != nil {
			return
		}
		f.MaxBytes = int(size)
		msgs, err := f.Fetch(ctx, buf[:0])
		if err != nil {
			p.mem.addFetched(-want)
			pt.fetchErr = err // read by the loop once out is closed
			return
		}
		if len(msgs) == 0 {
			p.mem.addFetched(-want)
			continue
		}
		// The slice is handed to the chunks; the next fetch gets a new one.
		buf = nil
		raw := int64(0)
		for i := range msgs {
			raw += int64(len(msgs[i].Value)) + messageOverhead
		}
		// A fetch returns at least one message even when it is larger than
		// the fetch size: count what was really read, without waiting
		// (waiting while holding would deadlock against other partitions).
		held := raw * p.parseFactor() / 16
		p.mem.addFetched(held - want)
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
			c := parse.NewChunk(pt.a.Topic, pt.a.Partition, msgs[lo:hi:hi])
			if pt.skip != nil && msgs[lo].Offset <= pt.skipUntil {
				c.Skip = pt.skip
			}
			fc := &fetched{chunk: c, last: msgs[hi-1].Offset, reserved: reserved}
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
	}
}
