package encode

import (
	"fmt"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/format"
)

// zstdCodec is parquet-go's zstd codec with its encoders kept in a fixed
// free list instead of a sync.Pool: a sync.Pool is emptied by garbage
// collections, which a memory limit makes frequent, and each new encoder
// allocates its tables and history again. The window is capped at the page
// size (pages are compressed one by one), which keeps each encoder small.
type zstdCodec struct {
	level  zstd.EncoderLevel
	window int
	free   chan *zstd.Encoder
	dec    *zstd.Decoder
}

func newZstdCodec(level zstd.EncoderLevel, pageBytes, encoders int) (*zstdCodec, error) {
	window := zstd.MinWindowSize
	for window < pageBytes && window < zstd.MaxWindowSize {
		window <<= 1
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("zstd decoder: %w", err)
	}
	return &zstdCodec{level: level, window: window, free: make(chan *zstd.Encoder, encoders), dec: dec}, nil
}

func (c *zstdCodec) String() string { return "ZSTD" }

func (c *zstdCodec) CompressionCodec() format.CompressionCodec { return format.Zstd }

func (c *zstdCodec) Encode(dst, src []byte) ([]byte, error) {
	var e *zstd.Encoder
	select {
	case e = <-c.free:
	default:
		var err error
		e, err = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(c.level),
			zstd.WithZeroFrames(true), zstd.WithEncoderCRC(false), zstd.WithWindowSize(c.window))
		if err != nil {
			return dst, fmt.Errorf("zstd encoder: %w", err)
		}
	}
	out := e.EncodeAll(src, dst[:0])
	select {
	case c.free <- e:
	default: // enough encoders are kept; the collector gets this one
	}
	return out, nil
}

func (c *zstdCodec) Decode(dst, src []byte) ([]byte, error) {
	return c.dec.DecodeAll(src, dst[:0])
}
