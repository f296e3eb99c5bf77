package pipeline

import (
	"context"
	"testing"
	"time"
)

func TestMemoryFetchWaitsAndWakes(t *testing.T) {
	m := newMemory(100, 40, 50)
	ctx := context.Background()
	// A fetch is admitted whenever no fetched bytes are held, even past
	// the budget: the pipeline always moves.
	m.addBatches(500)
	if err := m.acquireFetch(ctx, 30); err != nil {
		t.Fatal(err)
	}
	if !m.over(0) {
		t.Fatal("batches past their share are not over the budget")
	}
	// A second fetch must wait for room, and is marked stalled.
	done := make(chan error, 1)
	go func() { done <- m.acquireFetch(ctx, 30) }()
	waitFor(t, m.stalled)
	select {
	case err := <-done:
		t.Fatalf("fetch admitted with the budget full: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	// Batches flushing do not make room for fetches past their share.
	m.addBatches(-500)
	select {
	case err := <-done:
		t.Fatalf("fetch admitted past the fetch share: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	// Merging the first fetch does.
	m.addFetched(-30)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if m.stalled() || m.used() != 30 || m.over(0) {
		t.Fatalf("stalled %v used %d over %v", m.stalled(), m.used(), m.over(0))
	}
	// A waiting fetch ends with its context.
	cctx, cancel := context.WithCancel(ctx)
	go func() { done <- m.acquireFetch(cctx, 30) }()
	waitFor(t, m.stalled)
	cancel()
	if err := <-done; err == nil {
		t.Fatal("a cancelled wait returned no error")
	}
	waitFor(t, func() bool { return !m.stalled() })
}

func TestMemoryBudgetSplit(t *testing.T) {
	tests := []struct {
		name                 string
		cfg                  Config
		fetchMax, batchesMax int64
	}{
		{"defaults", Config{MemoryLimit: 256 << 20}, 0, 0},
		{"fetch share", Config{MemoryLimit: 256 << 20, FetchBufferBytes: 8 << 20}, 8 << 20, 0},
		{"fetch share capped at half", Config{MemoryLimit: 256 << 20, FetchBufferBytes: 1 << 30}, 0, 0},
		{"batches lowered", Config{MemoryLimit: 1 << 30, MemoryBytes: 32 << 20}, 0, 32 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemoryBudget(&tt.cfg)
			if m.limit <= 0 || m.limit > tt.cfg.MemoryLimit/2 {
				t.Fatalf("counted %d of a %d limit", m.limit, tt.cfg.MemoryLimit)
			}
			if m.fetchLimit <= 0 || m.fetchLimit > m.limit/2 || (tt.fetchMax > 0 && m.fetchLimit != tt.fetchMax) {
				t.Fatalf("fetch share %d of %d", m.fetchLimit, m.limit)
			}
			if m.batchLimit <= 0 || m.fetchLimit+m.batchLimit+poolShare(m.limit) > m.limit || (tt.batchesMax > 0 && m.batchLimit != tt.batchesMax) {
				t.Fatalf("batches %d, fetch %d of %d", m.batchLimit, m.fetchLimit, m.limit)
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}
