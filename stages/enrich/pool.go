package enrich

import (
	"encoding/binary"
	"errors"
	"math"
	"unsafe"
)

// A snapshot keeps everything it knows about interfaces in flat,
// pointer-free pools, so that a million interfaces cost the garbage
// collector nothing to scan and a few dozen bytes each:
//
//   - strings: bytes holding length-prefixed strings (an unsigned varint,
//     then the bytes). Interned strings and the unique interface ids have
//     separate pools, so that the ids, which lookups never read, do not
//     dilute the cache lines of the strings they do;
//   - words: uint32s holding small tuples (placements, kinds, tag sets) and
//     address lists.
//
// A handle is an offset into a pool. Tuples refer to a string by two words,
// the offset of its bytes and its length, so that reading one is a slice of
// the pool that does not touch the string's bytes; slots refer to a string
// by one word, the offset of its length prefix. Offset 0 is the empty
// string in the string pools and a run of zero words in the word pool, so
// that zero reads as "nothing" without a branch.
const (
	zeroWords = 12 // words reserved at handle 0: the longest all-zero tuple

	// blockSize is the unit in which pools grow while they are built, so
	// that building never copies a large pool to double it.
	blockSize     = 64 << 10
	firstBlockCap = 256
)

var errPoolFull = errors.New("inventory too large: a pool exceeds 4 GiB")

// pools are a snapshot's immutable pools plus the tag keys its tag sets are
// laid out by.
type pools struct {
	strs  []byte // shared strings: interned, read on the hot path
	ids   []byte // interface ids: unique and rarely read, kept apart
	words []uint32
	// tagKeys are the configured tag keys in configuration order; a tag set
	// holds one value per key.
	tagKeys []string
}

// strAt returns the n bytes at off of the shared strings as a string, a
// view without a copy. (0, 0) is "".
func (p *pools) strAt(off, n uint32) string {
	return unsafe.String(&p.strs[off], n)
}

// str returns the length-prefixed shared string at h.
func (p *pools) str(h uint32) string { return prefixed(p.strs, h) }

// prefixed returns the length-prefixed string at h of pool.
func prefixed(pool []byte, h uint32) string {
	b := pool[h:]
	if n := uint(b[0]); n < 0x80 {
		return unsafe.String(&b[1], n) // b[1] exists: a pool never ends in a prefix
	}
	n, k := binary.Uvarint(b)
	return unsafe.String(&b[k], int(n))
}

// tuple returns the words from handle h on; callers index only the entry's
// own words.
func (p *pools) tuple(h uint32) []uint32 { return p.words[h:] }

// tagIndex returns the position of key among the tag keys, or -1. hint is
// where the caller expects it (its own position in the same key list).
func (p *pools) tagIndex(key string, hint int) int {
	if hint >= 0 && hint < len(p.tagKeys) && p.tagKeys[hint] == key {
		return hint
	}
	for i, k := range p.tagKeys {
		if k == key {
			return i
		}
	}
	return -1
}

// flatBuilder appends to a pool kept in blocks while it grows, so that
// growing never copies what was written, and flattened once at the end. A
// handle is the offset the entry will have in the flat pool.
type flatBuilder[T any] struct {
	full []([]T) // closed blocks
	cur  []T
	base uint64 // flat offset of cur[0]
	err  *error
}

func newFlatBuilder[T any](reserved int, err *error) flatBuilder[T] {
	return flatBuilder[T]{cur: make([]T, reserved, max(reserved, firstBlockCap)), err: err}
}

// add appends the n elements that write appends and returns their offset.
func (b *flatBuilder[T]) add(n int, write func([]T) []T) uint32 {
	if len(b.cur)+n > cap(b.cur) {
		if c := 2 * cap(b.cur); c <= blockSize && len(b.cur)+n <= c {
			grown := make([]T, len(b.cur), c) // the first block doubles
			copy(grown, b.cur)
			b.cur = grown
		} else {
			b.full = append(b.full, b.cur)
			b.base += uint64(len(b.cur))
			b.cur = make([]T, 0, max(blockSize, n))
		}
	}
	h := b.base + uint64(len(b.cur))
	if h+uint64(n) > math.MaxUint32 {
		*b.err = errPoolFull
		return 0
	}
	b.cur = write(b.cur)
	return uint32(h)
}

// finish returns the flat pool.
func (b *flatBuilder[T]) finish() []T {
	if len(b.full) == 0 {
		return append([]T(nil), b.cur...)
	}
	flat := make([]T, 0, b.base+uint64(len(b.cur)))
	for _, block := range b.full {
		flat = append(flat, block...)
	}
	return append(flat, b.cur...)
}

// poolBuilder builds pools.
type poolBuilder struct {
	strs, ids flatBuilder[byte]
	words     flatBuilder[uint32]
	tagKeys   []string
	err       error // sticky: errPoolFull
}

func newPoolBuilder() *poolBuilder {
	b := &poolBuilder{}
	// Both string pools start with "" at 0, and one more 0 byte so that
	// the empty string has a byte to point at.
	b.strs = newFlatBuilder[byte](2, &b.err)
	b.ids = newFlatBuilder[byte](2, &b.err)
	b.words = newFlatBuilder[uint32](zeroWords, &b.err)
	return b
}

// addStr appends s, length-prefixed, and returns the prefix's offset.
func addStr(b *flatBuilder[byte], s []byte) uint32 {
	if len(s) == 0 {
		return 0
	}
	return b.add(uvarintLen(uint64(len(s)))+len(s), func(block []byte) []byte {
		block = binary.AppendUvarint(block, uint64(len(s)))
		return append(block, s...)
	})
}

// addStr copies s into the shared strings and returns its prefix's offset.
func (b *poolBuilder) addStr(s []byte) uint32 { return addStr(&b.strs, s) }

// addID copies an interface id into the id pool and returns its handle.
func (b *poolBuilder) addID(s string) uint32 {
	return addStr(&b.ids, unsafe.Slice(unsafe.StringData(s), len(s)))
}

// addWords copies w into the word pool and returns its handle.
func (b *poolBuilder) addWords(w []uint32) uint32 {
	return b.words.add(len(w), func(block []uint32) []uint32 { return append(block, w...) })
}

// finish returns the pools.
func (b *poolBuilder) finish() pools {
	return pools{strs: b.strs.finish(), ids: b.ids.finish(), words: b.words.finish(), tagKeys: b.tagKeys}
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}
