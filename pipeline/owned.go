package pipeline

import (
	"sync"
	"sync/atomic"
	"time"
)

// partState is what a partition's loop publishes for the goroutines that
// report on it (offsets watcher, metrics); the loop alone writes it.
type partState struct {
	// durable is the checkpointed next offset (-1 before the first).
	durable atomic.Int64
	// merged is the offset after the last merged message.
	merged atomic.Int64
	// clean is set while the partition holds nothing: no open batch, no
	// dead letter waiting, no round running. Then merged is durable too
	// (records skipped as already durable need no round).
	clean atomic.Bool
	// oldest is when the oldest batch not yet durable got its first row
	// (UnixNano, 0 = none).
	oldest atomic.Int64
	// roundStart is when the running round started (UnixNano, 0 = none).
	roundStart atomic.Int64
}

// ownedSet is the partitions this instance currently owns.
type ownedSet struct {
	mu    sync.Mutex
	parts map[int]*partState
}

func newOwnedSet() *ownedSet { return &ownedSet{parts: map[int]*partState{}} }

func (o *ownedSet) add(partition int, durable, merged int64) *partState {
	st := &partState{}
	st.durable.Store(durable)
	st.merged.Store(merged)
	st.clean.Store(true)
	o.mu.Lock()
	o.parts[partition] = st
	o.mu.Unlock()
	return st
}

// remove forgets partition if st is still its state (a later assignment of
// the same partition may have replaced it) and then runs gone, under the
// same lock as ifOwned, so a gauge set for an owned partition cannot
// outlive its removal.
func (o *ownedSet) remove(partition int, st *partState, gone func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.parts[partition] == st {
		delete(o.parts, partition)
		gone()
	}
}

// ifOwned runs fn while partition is owned.
func (o *ownedSet) ifOwned(partition int, fn func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.parts[partition]; ok {
		fn()
	}
}

func (o *ownedSet) has(partition int) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, ok := o.parts[partition]
	return ok
}

// position is what this instance knows is durable for an owned partition.
func (o *ownedSet) position(partition int) (int64, bool) {
	o.mu.Lock()
	st, ok := o.parts[partition]
	o.mu.Unlock()
	if !ok {
		return 0, false
	}
	pos := st.durable.Load()
	if st.clean.Load() {
		pos = max(pos, st.merged.Load())
	}
	return pos, true
}

// merged is the offset after the last message an owned partition merged.
func (o *ownedSet) merged(partition int) (int64, bool) {
	o.mu.Lock()
	st, ok := o.parts[partition]
	o.mu.Unlock()
	if !ok {
		return 0, false
	}
	return st.merged.Load(), true
}

// oldestBatch is the first-row time of the oldest batch not yet durable,
// zero when none.
func (o *ownedSet) oldestBatch() time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	var t int64
	for _, st := range o.parts {
		if v := st.oldest.Load(); v != 0 && (t == 0 || v < t) {
			t = v
		}
	}
	if t == 0 {
		return time.Time{}
	}
	return time.Unix(0, t)
}

// oldestRound is the partition whose running round started first, and when.
func (o *ownedSet) oldestRound() (int, time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	part, t := -1, int64(0)
	for id, st := range o.parts {
		if v := st.roundStart.Load(); v != 0 && (t == 0 || v < t) {
			part, t = id, v
		}
	}
	if t == 0 {
		return -1, time.Time{}
	}
	return part, time.Unix(0, t)
}
