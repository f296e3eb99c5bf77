package seal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/parquet-go/parquet-go"

	"flowlake/stages/sink"
)

// hashBuffer is the default read size when hashing objects: on S3 each
// read is one ranged GET.
const hashBuffer = 8 << 20

// bufferPool keeps read buffers of one size across files: a fresh buffer
// per file cost more CPU (the runtime zeroes it) than hashing the file.
type bufferPool struct{ pool sync.Pool }

func newBufferPool(size int) *bufferPool {
	p := &bufferPool{}
	p.pool.New = func() any { b := make([]byte, size); return &b }
	return p
}

func (p *bufferPool) get() *[]byte  { return p.pool.Get().(*[]byte) }
func (p *bufferPool) put(b *[]byte) { p.pool.Put(b) }

// hashBuffers serves HashObject.
var hashBuffers = newBufferPool(hashBuffer)

// Described is a data file read back: its manifest entry and its flowlake
// metadata.
type Described struct {
	File File
	// Meta is the file's key-value metadata (flowlake.topic, ...).
	Meta map[string]string
}

// describe reads the object at key (folder/name) once to hash it, in
// reads of len(buf), and reads its Parquet footer for the row count and
// metadata.
func describe(ctx context.Context, st sink.Store, key string, buf []byte) (Described, error) {
	obj, err := st.Open(ctx, key)
	if err != nil {
		return Described{}, err
	}
	defer obj.Close()
	sum, err := hashWith(obj, buf)
	if err != nil {
		return Described{}, fmt.Errorf("hash %s: %w", key, err)
	}
	f, err := parquet.OpenFile(obj, obj.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return Described{}, fmt.Errorf("read Parquet footer of %s: %w", key, err)
	}
	_, name := SplitKey(key)
	d := Described{File: File{Name: name, Rows: f.NumRows(), Bytes: obj.Size(), SHA256: sum}, Meta: map[string]string{}}
	for _, kv := range f.Metadata().KeyValueMetadata {
		d.Meta[kv.Key] = kv.Value
	}
	return d, nil
}

// HashObject returns the hex SHA-256 of an object's bytes, read in large
// ranges.
func HashObject(obj sink.Object) (string, error) {
	buf := hashBuffers.get()
	defer hashBuffers.put(buf)
	return hashWith(obj, *buf)
}

func hashWith(obj sink.Object, buf []byte) (string, error) {
	h := sha256.New()
	if _, err := io.CopyBuffer(h, io.NewSectionReader(obj, 0, obj.Size()), buf); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// source parses a lake file's Kafka range from its metadata.
func source(meta map[string]string) (*FileSource, bool) {
	topic, ok := meta["flowlake.topic"]
	if !ok {
		return nil, false
	}
	p, err1 := strconv.Atoi(meta["flowlake.partition"])
	first, err2 := strconv.ParseInt(meta["flowlake.first_offset"], 10, 64)
	last, err3 := strconv.ParseInt(meta["flowlake.last_offset"], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, false
	}
	return &FileSource{Topic: topic, Partition: p, FirstOffset: first, LastOffset: last}, true
}
