package schema

// BlockPool keeps emptied blocks for reuse, up to a number of bytes (their
// slice capacity), so that filling a block reuses memory that is already
// mapped instead of growing fresh slices from empty. It is safe for
// concurrent use.
type BlockPool struct {
	list *FreeList[*Layout, *Block]
}

// NewBlockPool returns a pool that keeps up to max bytes of blocks.
func NewBlockPool(max int64) *BlockPool {
	return &BlockPool{list: NewFreeList[*Layout](max, func(b *Block) int64 { return int64(b.Mem()) })}
}

// Get returns an empty block of layout l, reused when one is free.
func (p *BlockPool) Get(l *Layout) *Block {
	if b, ok := p.list.Get(l); ok {
		return b
	}
	return NewBlock(l)
}

// Put empties b and keeps it if the pool has room; otherwise the garbage
// collector gets it. b must not be used after.
func (p *BlockPool) Put(b *Block) {
	if b == nil {
		return
	}
	b.Reset()
	p.list.Put(b.Layout, b)
}

// SetMax changes the bytes the pool may keep, dropping free blocks (for the
// garbage collector) until it holds no more than that.
func (p *BlockPool) SetMax(max int64) { p.list.SetMax(max) }

// Bytes is the memory the free blocks hold.
func (p *BlockPool) Bytes() int64 { return p.list.Total() }
