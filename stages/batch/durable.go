package batch

// durableWatermark is the event time (Unix seconds) that the partition's
// records have reached once the round being cut is durable: the batch
// clock (the robust watermark that drives hour_over flushes), held below
// the end of every hour that still has rows in an open batch, since those
// rows are not durable yet. Sealing an hour needs every partition's
// watermark past the hour's end, so an hour with rows still buffered
// cannot be sealed.
func (b *Batcher) durableWatermark() int64 {
	w := b.clock.now()
	for k := range b.open {
		w = min(w, k.Hour+3599)
	}
	return w
}
