package batch

import "time"

// Empty reports whether nothing is open: no batch and no dead letter waiting.
func (b *Batcher) Empty() bool { return len(b.open) == 0 && len(b.dead) == 0 }

// Oldest is when the oldest open batch got its first row; zero when none is
// open.
func (b *Batcher) Oldest() time.Time {
	var t time.Time
	for _, bt := range b.open {
		if t.IsZero() || bt.Created.Before(t) {
			t = bt.Created
		}
	}
	return t
}
