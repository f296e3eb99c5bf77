package enrich

import (
	"encoding/binary"
	"math/bits"
)

// Interfaces are stored in fixed-size chunks so that a snapshot never needs
// one huge reallocation while it grows and inventories can share snapshots'
// storage. A ref addresses an interface as chunk<<chunkBits | offset.
const (
	chunkBits = 12
	chunkSize = 1 << chunkBits
	chunkMask = chunkSize - 1
)

// eniSlot is one slot of the ENI table. An ENI id "eni-" + n lowercase hex
// digits (1 ≤ n ≤ 17) is keyed by its value: the low 64 bits in lo, and in hi
// the digit count (bits 8..12, so ids with leading zeros stay distinct) and
// the top 4 bits of a 17-digit value. hi is never 0 for a used slot, so 0
// marks an empty one.
type eniSlot struct {
	lo  uint64
	hi  uint32
	ref uint32
}

// eniBucket is four slots: one 64-byte cache line.
type eniBucket [4]eniSlot

// eniIndex maps ENI ids to refs.
//
// Well-formed ids live in a pointer-free bucketed cuckoo hash table: a key
// may sit in either of two buckets, so a lookup reads exactly two cache lines
// (independent loads that overlap) and compares all eight slots without a
// branch. Hits and misses cost the same, there is no probe sequence to
// mispredict, the table stays 7/8 full, and the garbage collector has
// nothing to scan. Anything else (upper case, other prefixes, longer ids)
// falls back to a map.
type eniIndex struct {
	buckets []eniBucket
	odd     map[string]uint32
	n       int // distinct ids
}

// hexLower maps '0'-'9' and 'a'-'f' to their value and every other byte to 0xff.
var hexLower = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c-'a') + 10
	}
	return t
}()

// eniPrefix is "eni-" read as a little-endian uint32.
const eniPrefix = 'e' | 'n'<<8 | 'i'<<16 | '-'<<24

// eniKey parses "eni-" + 1..17 lowercase hex digits. The usual 17-digit
// form takes an inlinable fast path that decodes eight digits at a time.
func eniKey(id []byte) (lo uint64, hi uint32, ok bool) {
	if len(id) != 21 || binary.LittleEndian.Uint32(id) != eniPrefix {
		return eniKeySlow(id)
	}
	d := hexLower[id[4]]
	a, badA := hex8(binary.LittleEndian.Uint64(id[5:]))
	b, badB := hex8(binary.LittleEndian.Uint64(id[13:]))
	if badA|badB != 0 || d > 15 {
		return 0, 0, false
	}
	return uint64(a)<<32 | uint64(b), 17<<8 | uint32(d), true
}

// eniKeySlow handles every length other than 17 digits.
func eniKeySlow(id []byte) (lo uint64, hi uint32, ok bool) {
	n := len(id) - 4
	if n < 1 || n > 17 || binary.LittleEndian.Uint32(id) != eniPrefix {
		return 0, 0, false
	}
	if n == 8 {
		a, bad := hex8(binary.LittleEndian.Uint64(id[4:]))
		if bad != 0 {
			return 0, 0, false
		}
		return uint64(a), 8 << 8, true
	}
	for i := 4; i < len(id); i++ {
		d := hexLower[id[i]]
		if d > 15 {
			return 0, 0, false
		}
		lo = lo<<4 | uint64(d)
	}
	return lo, uint32(n) << 8, true
}

// hex8 decodes 8 lowercase hex digits packed little-endian in x (SWAR). bad
// is non-zero when a byte is not a lowercase hex digit.
func hex8(x uint64) (v uint32, bad uint64) {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	// For a byte c < 0x80, c+(0x80-lo) has its top bit set iff c >= lo, and
	// c+(0x7f-hi) iff c > hi; no carry crosses into the next byte.
	digit := (x + 0x50*ones) &^ (x + 0x46*ones) // '0'..'9'
	alpha := (x + 0x1f*ones) &^ (x + 0x19*ones) // 'a'..'f'
	bad = x&high | ^(digit|alpha)&high
	// '0'..'9' -> c&15; 'a'..'f' -> c&15 + 9 (bit 6 marks a letter).
	y := x&(0x0f*ones) + (x>>6&ones)*9
	// Pack the nibbles, first digit most significant.
	y = (y<<4 | y>>8) & 0x00ff00ff00ff00ff
	y = (y<<8 | y>>16) & 0x0000ffff0000ffff
	y = (y<<16 | y>>32) & 0x00000000ffffffff
	return uint32(y), bad
}

// bucketsFor returns the key's two candidate buckets among size (≥ 2): two
// multiply-shift reductions of a mixed 64-bit hash. They differ.
func bucketsFor(lo uint64, hi uint32, size int) (int, int) {
	x := lo ^ uint64(hi)*0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 29
	b1, _ := bits.Mul64(x, uint64(size))
	b2, _ := bits.Mul64(x*0x9e3779b97f4a7c15, uint64(size-1))
	if b2 >= b1 {
		b2++ // any bucket but b1
	}
	return int(b1), int(b2)
}

// newENIIndex sizes a table for n ids at a load factor of at most 7/8.
func newENIIndex(n int) eniIndex {
	return eniIndex{buckets: make([]eniBucket, max(2, (n*2+6)/7))}
}

// maxKicks bounds the evictions of one insertion before the table grows.
const maxKicks = 500

// insert adds or replaces id.
func (x *eniIndex) insert(id string, ref uint32) {
	lo, hi, ok := eniKey([]byte(id))
	if !ok {
		if x.odd == nil {
			x.odd = make(map[string]uint32)
		}
		if _, dup := x.odd[id]; !dup {
			x.n++
		}
		x.odd[id] = ref
		return
	}
	if s := x.find(lo, hi); s != nil {
		s.ref = ref
		return
	}
	x.n++
	cur := eniSlot{lo: lo, hi: hi, ref: ref}
	for !x.place(&cur) {
		// Rare: no room after maxKicks evictions. cur holds the entry left
		// homeless; rebuild larger, then place it.
		x.grow()
	}
}

// place puts s in one of its buckets, evicting entries to their other
// bucket as needed (random-walk cuckoo insertion). On failure s holds the
// entry that is left without a slot.
func (x *eniIndex) place(s *eniSlot) bool {
	b1, b2 := bucketsFor(s.lo, s.hi, len(x.buckets))
	for kick := 0; kick < maxKicks; kick++ {
		for _, bi := range [2]int{b1, b2} {
			b := &x.buckets[bi]
			for j := range b {
				if b[j].hi == 0 {
					b[j] = *s
					return true
				}
			}
		}
		// Both full: evict a victim from b1 (a pseudo-random slot) and move
		// it towards its other bucket.
		j := (int(s.lo) ^ kick) & 3
		b := &x.buckets[b1]
		b[j], *s = *s, b[j]
		v1, v2 := bucketsFor(s.lo, s.hi, len(x.buckets))
		if v1 == b1 {
			b1, b2 = v2, v1
		} else {
			b1, b2 = v1, v2
		}
	}
	return false
}

// grow rehashes every entry into a table a quarter larger.
func (x *eniIndex) grow() {
	old := x.buckets
	x.buckets = make([]eniBucket, len(old)+len(old)/4+1)
	for bi := range old {
		for j := range old[bi] {
			if s := old[bi][j]; s.hi != 0 && !x.place(&s) {
				x.grow() // vanishingly rare: grow again, then retry
				if !x.place(&s) {
					panic("enrich: ENI index cannot place an entry")
				}
			}
		}
	}
}

// find returns the slot holding the key, or nil.
func (x *eniIndex) find(lo uint64, hi uint32) *eniSlot {
	if len(x.buckets) < 2 {
		return nil
	}
	b1, b2 := bucketsFor(lo, hi, len(x.buckets))
	for _, bi := range [2]int{b1, b2} {
		b := &x.buckets[bi]
		for j := range b {
			if b[j].lo == lo && b[j].hi == hi {
				return &b[j]
			}
		}
	}
	return nil
}

// lookup finds id's ref without allocating and without data-dependent
// branches on the table: it compares the low 64 key bits of all eight slots
// at once and checks the rest of the key on the slot that matched.
func (x *eniIndex) lookup(id []byte) (uint32, bool) {
	lo, hi, ok := eniKey(id)
	if !ok {
		ref, found := x.odd[string(id)] // no allocation: map index conversion
		return ref, found
	}
	if len(x.buckets) < 2 {
		return 0, false
	}
	i1, i2 := bucketsFor(lo, hi, len(x.buckets))
	b1, b2 := &x.buckets[i1], &x.buckets[i2]
	m := eq(b1[0].lo, lo) | eq(b1[1].lo, lo)<<1 | eq(b1[2].lo, lo)<<2 | eq(b1[3].lo, lo)<<3 |
		eq(b2[0].lo, lo)<<4 | eq(b2[1].lo, lo)<<5 | eq(b2[2].lo, lo)<<6 | eq(b2[3].lo, lo)<<7
	if m == 0 {
		return 0, false
	}
	j := bits.TrailingZeros8(m)
	if s := &[2]*eniBucket{b1, b2}[j>>2][j&3]; s.hi == hi {
		return s.ref, true
	}
	// Another id with the same low 64 bits (a different length or top
	// digit) came first: rare enough for the slow path.
	if s := x.find(lo, hi); s != nil {
		return s.ref, true
	}
	return 0, false
}

// eq is 1 if a == b, else 0; the compiler emits a flag set, not a branch.
func eq(a, b uint64) uint8 {
	if a == b {
		return 1
	}
	return 0
}
