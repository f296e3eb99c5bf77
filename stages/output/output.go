// Package output is the stage that makes a batch a file: it encodes the
// batch as Parquet, names it in AWS's Hive layout and writes it to the
// sink. Later outputs (manifests, compaction, table formats) sit beside it.
package output

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strconv"

	"flowlake/schema"
	"flowlake/stages/batch"
	"flowlake/stages/encode"
	"flowlake/stages/sink"
)

// Parquet writes batches as Parquet files.
type Parquet struct {
	enc       *encode.Encoder
	sink      sink.Sink
	flowLogID string
	// slots bounds parallel encodes (CPU bound) whatever the number of
	// parallel writes (I/O bound).
	slots chan struct{}
	// free keeps the file buffers of finished writes for the next ones,
	// up to a number of bytes (SetMaxIdle; none by default): a sync.Pool
	// is emptied by every garbage collection, which a memory limit makes
	// frequent, and a new buffer grows to a file's size again, copying as
	// it doubles, in fresh memory.
	free *schema.FreeList[struct{}, *bytes.Buffer]
	// Locate, when set, names the source object and line of a stream
	// position (backfill: the archive object); files then carry them in
	// their metadata (flowlake.first_object, first_line, last_object,
	// last_line) beside the offsets.
	Locate func(topic string, pos schema.Pos) (object string, line int64)
	// Mem, when set, is told the bytes an encode holds (page buffers, the
	// compressor, the file until the sink has it), so that a memory budget
	// counts them; a delta, negative when they are released.
	Mem func(delta int64)
}

// NewParquet returns an output into s; flowLogID goes into every name.
func NewParquet(enc *encode.Encoder, s sink.Sink, flowLogID string) *Parquet {
	return &Parquet{enc: enc, sink: s, flowLogID: flowLogID, slots: make(chan struct{}, runtime.GOMAXPROCS(0)),
		free: schema.NewFreeList[struct{}](0, func(b *bytes.Buffer) int64 { return int64(b.Cap()) })}
}

// SetMaxIdle bounds the bytes of file buffers kept for reuse (0 keeps
// none).
func (o *Parquet) SetMaxIdle(n int64) { o.free.SetMax(n) }

// mem tells Mem, when set, about delta bytes.
func (o *Parquet) mem(delta int64) {
	if o.Mem != nil {
		o.Mem(delta)
	}
}

// buffer returns an empty file buffer, reused when one is free.
func (o *Parquet) buffer() *bytes.Buffer {
	if b, ok := o.free.Get(struct{}{}); ok {
		return b
	}
	return new(bytes.Buffer)
}

// release keeps b for a later write if there is room.
func (o *Parquet) release(b *bytes.Buffer) {
	b.Reset()
	o.free.Put(struct{}{}, b)
}

// IdleBytes is the memory the file buffers kept for reuse hold.
func (o *Parquet) IdleBytes() int64 { return o.free.Total() }

// Key is the object key of a batch of a stream: the Hive partition of its
// key, and a name derived from the stream and its first record, so that a
// replay of the same records writes the same key.
func (o *Parquet) Key(topic string, partition int, bt *batch.Batch) string {
	hash := schema.BatchHash(topic, partition, bt.Rows.First)
	return schema.ObjectKey("", bt.Key.Partition(), o.flowLogID, hash)
}

// Write encodes bt, a batch of stream (topic, partition), and writes it;
// it returns the file's size once the file is durable.
func (o *Parquet) Write(ctx context.Context, topic string, partition int, bt *batch.Batch) (int, error) {
	buf := o.buffer()
	defer o.release(buf)
	meta := map[string]string{
		"flowlake.version":      encode.Version,
		"flowlake.format":       bt.Key.Layout.Format.String(),
		"flowlake.topic":        topic,
		"flowlake.partition":    strconv.Itoa(partition),
		"flowlake.first_offset": strconv.FormatInt(bt.Rows.First.Offset, 10),
		"flowlake.last_offset":  strconv.FormatInt(bt.Rows.Last.Offset, 10),
	}
	if o.Locate != nil {
		obj, line := o.Locate(topic, bt.Rows.First)
		meta["flowlake.first_object"], meta["flowlake.first_line"] = obj, strconv.FormatInt(line, 10)
		obj, line = o.Locate(topic, bt.Rows.Last)
		meta["flowlake.last_object"], meta["flowlake.last_line"] = obj, strconv.FormatInt(line, 10)
	}
	select {
	case o.slots <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	working := o.enc.WorkingBytes(len(bt.Rows.Layout.Columns), bt.Rows.Size())
	o.mem(working)
	err := o.enc.Encode(buf, bt.Rows.Blocks, meta)
	<-o.slots
	held := int64(buf.Cap())
	o.mem(held - working)
	defer o.mem(-held)
	if err != nil {
		return 0, fmt.Errorf("encode %s: %w", bt.Key.Account, err)
	}
	key := o.Key(topic, partition, bt)
	if err := o.sink.Put(ctx, key, buf.Bytes()); err != nil {
		return 0, fmt.Errorf("write %s: %w", key, err)
	}
	return buf.Len(), nil
}
