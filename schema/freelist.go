package schema

import "sync"

// FreeList keeps emptied values for reuse, by key, up to a total cost (the
// bytes their memory takes, say, or 1 each to bound a count), so that work
// reuses memory already mapped instead of growing fresh values. Values
// past the bound are left to the garbage collector. It is safe for
// concurrent use.
type FreeList[K comparable, V any] struct {
	mu    sync.Mutex
	free  map[K][]V
	total int64
	max   int64
	cost  func(V) int64
}

// NewFreeList returns a list that keeps values up to max, each costing
// cost(v) (measured when it is put, and assumed unchanged while kept).
func NewFreeList[K comparable, V any](max int64, cost func(V) int64) *FreeList[K, V] {
	return &FreeList[K, V]{free: make(map[K][]V), max: max, cost: cost}
}

// Get returns a kept value of key k, and false when there is none.
func (l *FreeList[K, V]) Get(k K) (V, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var zero V
	fl := l.free[k]
	n := len(fl)
	if n == 0 {
		return zero, false
	}
	v := fl[n-1]
	fl[n-1] = zero
	l.free[k] = fl[:n-1]
	l.total -= l.cost(v)
	return v, true
}

// Put keeps v under key k if the bound leaves room, and reports whether it
// did; v must not be used after it is kept.
func (l *FreeList[K, V]) Put(k K, v V) bool {
	c := l.cost(v)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total+c > l.max {
		return false
	}
	l.free[k] = append(l.free[k], v)
	l.total += c
	return true
}

// SetMax changes the bound, dropping kept values (for the garbage
// collector) until they cost no more than it.
func (l *FreeList[K, V]) SetMax(max int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.max = max
	var zero V
	for k, fl := range l.free {
		for l.total > l.max && len(fl) > 0 {
			l.total -= l.cost(fl[len(fl)-1])
			fl[len(fl)-1] = zero
			fl = fl[:len(fl)-1]
		}
		l.free[k] = fl
		if l.total <= l.max {
			return
		}
	}
}

// Max is the bound.
func (l *FreeList[K, V]) Max() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.max
}

// Total is what the kept values cost.
func (l *FreeList[K, V]) Total() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}
