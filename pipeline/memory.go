package pipeline

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
)

// memory is the pipeline's one memory budget. Everything large the pipeline
// holds is counted in it, in the bytes it takes (slice capacity included):
//
//   - fetched: messages fetched and not merged yet, with an estimate of the
//     rows they parse into (learned from what chunks really parse into);
//   - batches: rows in open and flushing batches;
//   - encoding: encoders and encoded files in flight.
//
// Fetching is the only step that waits for room: a fetch reserves its bytes
// before it is sent. Merging and encoding never wait (they would deadlock
// against each other); past the budget the partitions flush sooner instead
// (over), and the memory comes back when their rounds end. A fetch is
// always admitted when no fetched bytes are held anywhere, so the pipeline
// moves even when batches alone fill the budget, one chunk at a time until
// their flushes free it.
type memory struct {
	limit      int64 // bytes all kinds may hold
	fetchLimit int64 // bytes fetched messages may hold
	batchLimit int64 // bytes batches may hold before they flush

	mu       sync.Mutex
	fetched  int64
	batches  int64
	encoding int64
	changed  chan struct{} // closed and replaced when memory is released

	waiting atomic.Int64 // fetches waiting for room
	total   atomic.Int64 // fetched + batches + encoding, for lock-free reads
}

func newMemory(limit, fetchLimit, batchLimit int64) *memory {
	return &memory{limit: limit, fetchLimit: fetchLimit, batchLimit: batchLimit, changed: make(chan struct{})}
}

func (m *memory) sum() int64 { return m.fetched + m.batches + m.encoding }

// release wakes waiters; m.mu is held.
func (m *memory) releasedLocked() {
	m.total.Store(m.sum())
	close(m.changed)
	m.changed = make(chan struct{})
}

// acquireFetch waits until n fetched bytes fit, or ctx ends.
func (m *memory) acquireFetch(ctx context.Context, n int64) error {
	for {
		m.mu.Lock()
		if m.fetched == 0 || (m.fetched+n <= m.fetchLimit && m.sum()+n <= m.limit) {
			m.fetched += n
			m.total.Store(m.sum())
			m.mu.Unlock()
			return nil
		}
		ch := m.changed
		m.mu.Unlock()
		m.waiting.Add(1)
		select {
		case <-ch:
			m.waiting.Add(-1)
		case <-ctx.Done():
			m.waiting.Add(-1)
			return ctx.Err()
		}
	}
}

// addFetched counts fetched bytes without waiting (n < 0 releases).
func (m *memory) addFetched(n int64) { m.add(&m.fetched, n) }

// addBatches counts batch bytes (n < 0 releases).
func (m *memory) addBatches(n int64) { m.add(&m.batches, n) }

// addEncoding counts encoder bytes (n < 0 releases).
func (m *memory) addEncoding(n int64) { m.add(&m.encoding, n) }

func (m *memory) add(kind *int64, n int64) {
	if n == 0 {
		return
	}
	m.mu.Lock()
	*kind += n
	if n < 0 {
		m.releasedLocked()
	} else {
		m.total.Store(m.sum())
	}
	m.mu.Unlock()
}

// used is the bytes counted now.
func (m *memory) used() int64 { return m.total.Load() }

// batchBytes is the bytes batches hold now.
func (m *memory) batchBytes() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.batches
}

// over reports that batches must flush now: they hold their share, or the
// whole budget is used. extra is memory counted with the batches that the
// budget does not track itself (the parse workers' decode buffers).
func (m *memory) over(extra int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.batches+extra > m.batchLimit || m.sum()+extra > m.limit
}

// stalled reports fetches waiting for memory: the pipeline is busy
// (flushing to make room), not idle.
func (m *memory) stalled() bool { return m.waiting.Load() > 0 }

// poolShare is the part of the budget kept for emptied blocks and fetch
// message arrays waiting to be reused (see schema.BlockPool, arrayPool):
// it is taken from the batches' share.
func poolShare(limit int64) int64 { return limit / 8 }

// resizePool lets the segment pool keep its own share plus what the
// batches leave unused of theirs: the segments a round flushed are then
// kept for the batches that fill up next, instead of those growing fresh
// slices, and batches plus pooled segments never hold more than the two
// shares together. Only a batch that filled its first segment takes
// pooled ones (see schema.Chain), so a small batch never counts a large
// pooled capacity.
func (p *Pipeline) resizePool() {
	p.blocks.SetMax(p.blockShare + max(0, p.mem.batchLimit-p.mem.batchBytes()))
}

// DefaultMemoryLimit is the default memory budget of the process.
const DefaultMemoryLimit = 256 << 20

// newMemoryBudget splits cfg's memory limit. The pipeline counts its bytes
// against half the limit less the heap the process already holds (the
// inventory, mostly): the rest is room for what is not counted (the
// program's own code, the runtime, kafka-go's buffers, goroutine stacks)
// and for garbage between collections, which the Go runtime keeps under
// GoMemLimit.
func newMemoryBudget(cfg *Config) *memory {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	limit := cfg.MemoryLimit/2 - int64(ms.HeapAlloc)
	limit = max(limit, cfg.MemoryLimit/4)
	fetch := limit / 4
	if cfg.FetchBufferBytes > 0 {
		fetch = min(cfg.FetchBufferBytes, limit/2)
	}
	batches := limit - fetch - poolShare(limit)
	if cfg.MemoryBytes > 0 {
		batches = min(batches, cfg.MemoryBytes)
	}
	return newMemory(limit, fetch, batches)
}

// GoMemLimit is the Go runtime's soft memory limit for a process memory
// limit: 7/8 of it, leaving the rest to what the runtime does not manage
// (the program's code, mostly).
func GoMemLimit(limit int64) int64 { return limit / 8 * 7 }
