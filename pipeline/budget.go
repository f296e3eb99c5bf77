package pipeline

import (
	"context"

	"golang.org/x/sync/semaphore"
)

// budget bounds the bytes of fetched messages waiting to be parsed and
// merged, across all partitions.
type budget struct {
	sem *semaphore.Weighted
	cap int64
}

func newBudget(n int64) *budget { return &budget{sem: semaphore.NewWeighted(n), cap: n} }

// Acquire waits for n bytes (clamped to the capacity).
func (b *budget) Acquire(ctx context.Context, n int64) error {
	if n <= 0 {
		return nil
	}
	return b.sem.Acquire(ctx, min(n, b.cap))
}

// Release returns n bytes (clamped to the capacity).
func (b *budget) Release(n int64) {
	if n > 0 {
		b.sem.Release(min(n, b.cap))
	}
}

// Cap is the budget's size.
func (b *budget) Cap() int64 { return b.cap }
