package schema

// Chain holds the rows of one batch as a list of blocks of one layout.
// Rows are copied into the last block until it holds about a segment's
// worth of bytes (see AppendBlock); then a new block is taken (from a pool
// of emptied blocks, whose slices already have that capacity), so a batch
// never grows a slice past a segment and never copies what it already
// holds. One contiguous block
// grown to N bytes copies 2N (doubling) to 5N bytes (append's quarter
// steps) and faults in fresh pages for every copy; and the capacity it
// overshoots counts against the memory budget, so batches flush smaller.
// The encoder writes a chain's blocks one after the other, as one file.
type Chain struct {
	Layout *Layout
	// Blocks are the segments, in row order.
	Blocks []*Block
	// First and Last are the positions of the first and last rows.
	First, Last Pos
	// MinTime and MaxTime bound the rows' start times (Unix seconds).
	MinTime, MaxTime int64

	n, size, mem int
	segment      int
	get          func(*Layout) *Block
}

// NewChain returns an empty chain of layout l whose segments hold about
// segment bytes each. get, when set, returns the blocks for the segments
// after the first (emptied ones from a pool, say, whose capacity counts
// from the start): the first grows from empty, since most batches are
// small and a pooled segment would count its whole capacity for them.
func NewChain(l *Layout, segment int, get func(*Layout) *Block) *Chain {
	return &Chain{Layout: l, segment: segment, get: get}
}

// AppendBlock copies every row of o, which must have the chain's layout.
func (c *Chain) AppendBlock(o *Block) {
	if o.n == 0 {
		return
	}
	var tail *Block
	if k := len(c.Blocks); k > 0 {
		tail = c.Blocks[k-1]
	}
	// A segment is full past twice the segment size, or past half of it
	// when its slices have no room for o's rows. Slices grow by doubling,
	// so a segment closed at the segment size would leave up to half of
	// its capacity unused, and counted against the memory budget: this
	// way a segment fills what it has grown to, or what it had when it
	// was pooled.
	if tail == nil || tail.size >= 2*c.segment || tail.size >= c.segment/2 && tail.room() < o.n {
		if tail == nil || c.get == nil {
			tail = NewBlock(c.Layout)
		} else {
			tail = c.get(c.Layout)
		}
		c.Blocks = append(c.Blocks, tail)
		c.mem += tail.Mem()
	}
	if c.n == 0 {
		c.First, c.MinTime, c.MaxTime = o.First, o.MinTime, o.MaxTime
	}
	c.Last = o.Last
	c.MinTime = min(c.MinTime, o.MinTime)
	c.MaxTime = max(c.MaxTime, o.MaxTime)
	mem, size := tail.Mem(), tail.size
	tail.AppendBlock(o)
	c.mem += tail.Mem() - mem
	c.size += tail.size - size
	c.n += o.n
}

// Len is the number of rows.
func (c *Chain) Len() int { return c.n }

// Size is the bytes the rows take (see Block.Size).
func (c *Chain) Size() int { return c.size }

// Mem is the memory the chain holds, slice capacity included.
func (c *Chain) Mem() int { return c.mem + cap(c.Blocks)*8 }

// Release hands every block to put (a pool, say) and empties the chain.
func (c *Chain) Release(put func(*Block)) {
	for i, b := range c.Blocks {
		put(b)
		c.Blocks[i] = nil
	}
	c.Blocks = c.Blocks[:0]
	c.n, c.size, c.mem = 0, 0, 0
}
