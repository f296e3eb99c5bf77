package pipeline

import (
	"context"

	"flowlake/stages/parse"
)

// fetched is a chunk on its way from the fetch goroutine to the partition
// loop, with the fetch-buffer bytes it holds.
type fetched struct {
	chunk    *parse.Chunk
	last     int64
	reserved int64
}

// fetchLoop reads the partition from start, cuts what it reads into chunks,
// submits them to the parse pool and queues them, in order, on out, which it
// closes when ctx ends.
func (pt *partition) fetchLoop(ctx context.Context, start int64, out chan<- *fetched) {
	defer close(out)
	p := pt.p
	f := p.source.Fetcher(pt.a, start)
	defer f.Close()
	maxFetch := int64(p.cfg.Source.FetchMaxBytes)
	for {
		if err := p.fetchBudget.Acquire(ctx, maxFetch); err != nil {
			return
		}
		msgs, err := f.Fetch(ctx, nil)
		if err != nil {
			p.fetchBudget.Release(maxFetch)
			pt.fetchErr = err // read by the loop once out is closed
			return
		}
		if len(msgs) == 0 {
			p.fetchBudget.Release(maxFetch)
			continue
		}
		size := int64(0)
		for i := range msgs {
			size += int64(len(msgs[i].Value))
		}
		// A fetch returns at least one message even when it is larger than
		// the fetch size; account for all of it.
		held := maxFetch
		if extra := min(size-held, p.fetchBudget.Cap()-held); extra > 0 {
			if err := p.fetchBudget.Acquire(ctx, extra); err != nil {
				p.fetchBudget.Release(held)
				return
			}
			held += extra
		}
		for lo := 0; lo < len(msgs); {
			hi, bytes := lo, int64(0)
			for hi < len(msgs) && (hi == lo || bytes+int64(len(msgs[hi].Value)) <= int64(p.cfg.ChunkBytes)) {
				bytes += int64(len(msgs[hi].Value))
				hi++
			}
			reserved := min(bytes, held)
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
				p.fetchBudget.Release(reserved + held)
				return
			}
			p.unmerged.Add(1) // the partition loop subtracts it when it merges or drops the chunk
			select {
			case out <- fc:
			case <-ctx.Done():
				// The chunk is parsed by a worker anyway; its budget is
				// released here since nobody will merge it.
				p.fetchBudget.Release(reserved + held)
				p.unmerged.Add(-1)
				return
			}
			lo = hi
		}
	}
}
