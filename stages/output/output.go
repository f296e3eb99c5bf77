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
	"sync"

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
	slots   chan struct{}
	buffers sync.Pool
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
	o := &Parquet{enc: enc, sink: s, flowLogID: flowLogID, slots: make(chan struct{}, runtime.GOMAXPROCS(0))}
	o.buffers.New = func() any { return new(bytes.Buffer) }
	return o
}

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
	buf := o.buffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 64<<20 {
			buf.Reset()
			o.buffers.Put(buf)
		}
	}()
	buf.Reset()
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
	mem := o.Mem
	if mem == nil {
		mem = func(int64) {}
	}
	working := o.enc.WorkingBytes(len(bt.Rows.Layout.Columns), bt.Rows.Size())
	mem(working)
	err := o.enc.Encode(buf, bt.Rows.Blocks, meta)
	<-o.slots
	held := int64(buf.Cap())
	mem(held - working)
	defer mem(-held)
	if err != nil {
		return 0, fmt.Errorf("encode %s: %w", bt.Key.Account, err)
	}
	key := o.Key(topic, partition, bt)
	if err := o.sink.Put(ctx, key, buf.Bytes()); err != nil {
		return 0, fmt.Errorf("write %s: %w", key, err)
	}
	return buf.Len(), nil
}
