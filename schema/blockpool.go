package schema

import "sync"

// BlockPool keeps emptied blocks for reuse, up to a number of bytes (their
// slice capacity), so that filling a block reuses memory that is already
// mapped instead of growing fresh slices from empty. It is safe for
// concurrent use.
type BlockPool struct {
	mu    sync.Mutex
	free  map[*Layout][]*Block
	bytes int64
	max   int64
}

// NewBlockPool returns a pool that keeps up to max bytes of blocks.
func NewBlockPool(max int64) *BlockPool {
	return &BlockPool{free: make(map[*Layout][]*Block), max: max}
}

// Get returns an empty block of layout l, reused when one is free.
func (p *BlockPool) Get(l *Layout) *Block {
	p.mu.Lock()
	fl := p.free[l]
	if n := len(fl); n > 0 {
		b := fl[n-1]
		fl[n-1] = nil
		p.free[l] = fl[:n-1]
		p.bytes -= int64(b.Mem())
		p.mu.Unlock()
		return b
	}
	p.mu.Unlock()
	return NewBlock(l)
}

// Put empties b and keeps it if the pool has room; otherwise the garbage
// collector gets it. b must not be used after.
func (p *BlockPool) Put(b *Block) {
	if b == nil {
		return
	}
	m := int64(b.Mem())
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bytes+m > p.max {
		return
	}
	b.Reset()
	p.free[b.Layout] = append(p.free[b.Layout], b)
	p.bytes += m
}

// SetMax changes the bytes the pool may keep, dropping free blocks (for the
// garbage collector) until it holds no more than that.
func (p *BlockPool) SetMax(max int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.max = max
	for l, fl := range p.free {
		for p.bytes > p.max && len(fl) > 0 {
			b := fl[len(fl)-1]
			fl[len(fl)-1] = nil
			fl = fl[:len(fl)-1]
			p.bytes -= int64(b.Mem())
		}
		p.free[l] = fl
		if p.bytes <= p.max {
			return
		}
	}
}

// Bytes is the memory the free blocks hold.
func (p *BlockPool) Bytes() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bytes
}
