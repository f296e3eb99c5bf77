package enrich

import (
	"encoding/binary"
	"math/bits"
)

// eniSlot is one interface: its key and its compact record, 32 bytes with no
// pointers. An ENI id "eni-" + n lowercase hex digits (1 ≤ n ≤ 17) is keyed
// by its digits (see eniKey): 64 bits of them in lo, and in hi the digit
// count (bits 8..12, so ids with leading zeros stay distinct) and the first
// of 17 digits. The key part of hi is never 0 for a used slot, so 0 marks an
// empty one. The record's handles point into the pools of snapshot snap of
// the inventory (see pool.go).
type eniSlot struct {
	lo    uint64
	hi    uint16 // key (keyMask) | address mode << addrModeShift
	snap  uint16 // index of the snapshot whose pools the handles refer to
	place uint32 // word handle of the placement tuple
	kind  uint32 // word handle of the kind tuple
	inst  uint32 // string handle of the instance id
	tags  uint32 // word handle of the tag set; 0: none
	addr  uint32 // the one IPv4 address (addrInline4) or a word handle (addrList)
}

const (
	keyMask       = 0x1fff
	addrModeShift = 14

	addrNone    = 0 // no private address
	addrInline4 = 1 // exactly one address, IPv4, in addr
	addrList    = 2 // addr is a word handle of [n4 | n6<<16, n4 IPv4 words, 4 words per IPv6]
)

func (s *eniSlot) addrMode() uint16 { return s.hi >> addrModeShift }

// The tuples a slot points to hold strings as (offset, length) word pairs:
// string i of a tuple is words 2i and 2i+1.
//
// A placement is where the interface lives.
const (
	plOwner = iota
	plVpc
	plSubnet
	plAZ
	plAZID
	plRegion
	placeStrings
	placeWords = 2 * placeStrings
)

// A kind is what the interface is: its strings, then the requester-managed
// flag.
const (
	kindType = iota
	kindDescription
	kindRequester
	kindGroups
	kindStrings
	kindManaged = 2 * kindStrings // word index
	kindWords   = kindManaged + 1
)

// eniEntry is a slot with the string handle of its id, which lives apart
// from the slot (it is read rarely, and the slot stays one half cache line).
type eniEntry struct {
	s  eniSlot
	id uint32
}

// oddPos marks a position in eniTable.oddSlots rather than eniTable.slots.
const oddPos = 1 << 31

// maxLoadPercent is the fill of the cuckoo table at which it is sized; two
// slots per bucket and two buckets per key work up to about 89%.
const maxLoadPercent = 85

// eniTable maps ENI ids to interfaces.
//
// Well-formed ids live in a pointer-free bucketed cuckoo hash table whose
// buckets are two slots, one 64-byte cache line: a key may sit in either of
// two buckets, so a lookup reads exactly two cache lines (independent loads
// that overlap) and finds the key and the interface's record in the same
// line. It compares all four keys without a branch, so hits and misses cost
// the same, there is no probe sequence to mispredict, and the garbage
// collector has nothing to scan. Anything else (upper case, other prefixes,
// longer ids) falls back to a map.
type eniTable struct {
	slots []eniSlot // bucket b is slots[2b : 2b+2]
	ids   []uint32  // string handle of the id in each slot
	// odd maps the ids that are not eni-<hex> to an index of oddSlots and
	// oddIDs.
	odd      map[string]uint32
	oddSlots []eniSlot
	oddIDs   []uint32
	n        int // distinct ids
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

// eniKey parses "eni-" + 1..17 lowercase hex digits into a key. The usual
// 17-digit form takes a fast path that decodes eight digits at a time and
// keeps them as nibbles, interleaved rather than packed in value order
// (fewer operations, still one-to-one); the digit count in hi keeps its
// keys apart from those of the other lengths, which hold the value.
func eniKey(id []byte) (lo uint64, hi uint32, ok bool) {
	if len(id) != 21 || binary.LittleEndian.Uint32(id) != eniPrefix {
		return eniKeySlow(id)
	}
	return eniKey17(id[4:21])
}

// eniKey17 is eniKey for the 17 digits of a 21-byte id.
func eniKey17(digits []byte) (lo uint64, hi uint32, ok bool) {
	d := hexLower[digits[0]]
	x1 := binary.LittleEndian.Uint64(digits[1:9])
	x2 := binary.LittleEndian.Uint64(digits[9:17])
	if notHex8(x1)|notHex8(x2) != 0 || d > 15 {
		return 0, 0, false
	}
	return nibbles8(x1) | nibbles8(x2)<<4, 17<<8 | uint32(d), true
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

// SWAR constants: a byte of ones, and the top bit of every byte.
const (
	ones = 0x0101010101010101
	high = 0x8080808080808080
)

// notHex8 is non-zero unless all 8 bytes of x are lowercase hex digits.
func notHex8(x uint64) uint64 {
	// For a byte c < 0x80, c+(0x80-lo) has its top bit set iff c >= lo, and
	// c+(0x7f-hi) iff c > hi; no carry crosses into the next byte.
	digit := (x + 0x50*ones) &^ (x + 0x46*ones) // '0'..'9'
	alpha := (x + 0x1f*ones) &^ (x + 0x19*ones) // 'a'..'f'
	return x&high | ^(digit|alpha)&high
}

// nibbles8 maps each byte of x, a lowercase hex digit, to its value.
func nibbles8(x uint64) uint64 {
	// '0'..'9' -> c&15; 'a'..'f' -> c&15 + 9 (bit 6 marks a letter).
	return x&(0x0f*ones) + (x>>6&ones)*9
}

// hex8 decodes 8 lowercase hex digits packed little-endian in x, first digit
// most significant. bad is non-zero when a byte is not a lowercase hex digit.
func hex8(x uint64) (v uint32, bad uint64) {
	y := nibbles8(x)
	// Pack the nibbles, first digit most significant.
	y = (y<<4 | y>>8) & 0x00ff00ff00ff00ff
	y = (y<<8 | y>>16) & 0x0000ffff0000ffff
	y = (y<<16 | y>>32) & 0x00000000ffffffff
	return uint32(y), notHex8(x)
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

// newENITable sizes a table for n ids at maxLoadPercent.
func newENITable(n int) *eniTable {
	nb := max(2, (n*100+2*maxLoadPercent-1)/(2*maxLoadPercent))
	return &eniTable{slots: make([]eniSlot, 2*nb), ids: make([]uint32, 2*nb)}
}

// maxKicks bounds the evictions of one insertion before the table grows.
const maxKicks = 500

// insert adds or replaces an interface. A slot without a key (an id that is
// not eni-<hex>) goes to the map under oddID.
func (t *eniTable) insert(e eniEntry, oddID string) {
	if e.s.hi&keyMask == 0 {
		if i, dup := t.odd[oddID]; dup {
			t.oddSlots[i], t.oddIDs[i] = e.s, e.id
			return
		}
		if t.odd == nil {
			t.odd = make(map[string]uint32)
		}
		t.odd[oddID] = uint32(len(t.oddSlots))
		t.oddSlots = append(t.oddSlots, e.s)
		t.oddIDs = append(t.oddIDs, e.id)
		t.n++
		return
	}
	if p := t.find(e.s.lo, uint32(e.s.hi&keyMask)); p >= 0 {
		t.slots[p], t.ids[p] = e.s, e.id
		return
	}
	t.n++
	for !t.place(&e) {
		// Rare: no room after maxKicks evictions. e holds the entry left
		// homeless; rebuild larger, then place it.
		t.grow()
	}
}

// place puts e in one of its buckets, evicting entries to their other
// bucket as needed (random-walk cuckoo insertion). On failure e holds the
// entry that is left without a slot.
func (t *eniTable) place(e *eniEntry) bool {
	nb := len(t.slots) / 2
	b1, b2 := bucketsFor(e.s.lo, uint32(e.s.hi&keyMask), nb)
	for kick := 0; kick < maxKicks; kick++ {
		for _, p := range [4]int{2 * b1, 2*b1 + 1, 2 * b2, 2*b2 + 1} {
			if t.slots[p].hi&keyMask == 0 {
				t.slots[p], t.ids[p] = e.s, e.id
				return true
			}
		}
		// Both full: evict a pseudo-random victim from b1 and move it
		// towards its other bucket.
		p := 2*b1 + (int(e.s.lo>>7)^kick)&1
		victim := eniEntry{t.slots[p], t.ids[p]}
		t.slots[p], t.ids[p] = e.s, e.id
		*e = victim
		v1, v2 := bucketsFor(e.s.lo, uint32(e.s.hi&keyMask), nb)
		if v1 == b1 {
			b1, b2 = v2, v1
		} else {
			b1, b2 = v1, v2
		}
	}
	return false
}

// grow rehashes every entry into a table a quarter larger.
func (t *eniTable) grow() {
	oldSlots, oldIDs := t.slots, t.ids
	nb := len(oldSlots)/2 + len(oldSlots)/8 + 1
	t.slots, t.ids = make([]eniSlot, 2*nb), make([]uint32, 2*nb)
	for p := range oldSlots {
		if oldSlots[p].hi&keyMask == 0 {
			continue
		}
		e := eniEntry{oldSlots[p], oldIDs[p]}
		if !t.place(&e) {
			t.grow() // vanishingly rare: grow again, then retry
			if !t.place(&e) {
				panic("enrich: ENI table cannot place an entry")
			}
		}
	}
}

// find returns the position of the slot holding the key, or -1.
func (t *eniTable) find(lo uint64, hi uint32) int {
	if len(t.slots) < 4 {
		return -1
	}
	b1, b2 := bucketsFor(lo, hi, len(t.slots)/2)
	for _, p := range [4]int{2 * b1, 2*b1 + 1, 2 * b2, 2*b2 + 1} {
		if s := &t.slots[p]; s.lo == lo && uint32(s.hi&keyMask) == hi {
			return p
		}
	}
	return -1
}

// lookup finds id's slot and position without allocating and without
// data-dependent branches on the table: it compares the low 64 key bits of
// all four candidate slots at once and checks the rest of the key on the
// slot that matched. It returns nil when id is unknown, or t is nil.
//
// The well-formed 17-digit id is the hot path, written out in one function:
// the fewer instructions a lookup takes, the more lookups fit in the
// processor's reorder window, and the more their cache misses overlap.
func (t *eniTable) lookup(id []byte) (*eniSlot, uint32) {
	if len(id) != 21 || binary.LittleEndian.Uint32(id) != eniPrefix || t == nil {
		return t.lookupOther(id)
	}
	d := hexLower[id[4]]
	x1, x2 := binary.LittleEndian.Uint64(id[5:13]), binary.LittleEndian.Uint64(id[13:21])
	if notHex8(x1)|notHex8(x2) != 0 || d > 15 {
		return nil, 0
	}
	return t.probe(nibbles8(x1)|nibbles8(x2)<<4, 17<<8|uint32(d))
}

// lookupOther is lookup for ids of any other form.
func (t *eniTable) lookupOther(id []byte) (*eniSlot, uint32) {
	if t == nil {
		return nil, 0
	}
	lo, hi, ok := eniKeySlow(id)
	if !ok {
		i, found := t.odd[string(id)] // no allocation: map index conversion
		if !found {
			return nil, 0
		}
		return &t.oddSlots[i], oddPos | i
	}
	return t.probe(lo, hi)
}

// probe finds a key in the cuckoo table.
func (t *eniTable) probe(lo uint64, hi uint32) (*eniSlot, uint32) {
	nb := len(t.slots) / 2
	if nb < 2 {
		return nil, 0
	}
	i1, i2 := bucketsFor(lo, hi, nb)
	m := bucketMatch((*[2]eniSlot)(t.slots[2*i1:]), lo) | bucketMatch((*[2]eniSlot)(t.slots[2*i2:]), lo)<<2
	return t.resolve(lo, hi, i1, i2, m)
}

// bucketMatch sets bit j when slot j of bucket b holds low key bits lo.
// Bits 0 and 1 of a lookup's match are the slots of its first bucket, 2
// and 3 those of its second.
func bucketMatch(b *[2]eniSlot, lo uint64) uint8 { return eq(b[0].lo, lo) | eq(b[1].lo, lo)<<1 }

// resolve turns the match of lo with buckets i1 and i2 into the slot that
// holds the key.
func (t *eniTable) resolve(lo uint64, hi uint32, i1, i2 int, m uint8) (*eniSlot, uint32) {
	if m == 0 {
		return nil, 0
	}
	// Select the matching slot arithmetically: a branch on which bucket
	// matched would mispredict half the time and throw away the lookups
	// the processor had started after this one.
	j := uint(bits.TrailingZeros8(m))
	second := -(j >> 1) // all ones when the match is in the second bucket
	p := 2*(uint(i1)^(uint(i1)^uint(i2))&second) + j&1
	if s := &t.slots[p]; uint32(s.hi&keyMask) == hi {
		return s, uint32(p)
	}
	// Another id with the same low 64 bits (a different length or top
	// digit) came first: rare enough for the slow path.
	if p := t.find(lo, hi); p >= 0 {
		return &t.slots[p], uint32(p)
	}
	return nil, 0
}

// batchGroup is how many lookups lookupBatch has in flight.
const batchGroup = 64

// lookupBatch is lookup for many ids: it sets out[i] to the interface of
// inv (whose table t is) that ids[i] names, or to the zero Interface, and
// returns how many it found. It works through groups of ids in three
// passes: decode every key, then compare every key with its candidate
// slots, then resolve the matches. The compares of a group are independent
// loads with few instructions in between, so their cache misses overlap,
// which a loop of lookup calls achieves only in part.
func (t *eniTable) lookupBatch(ids [][]byte, out []Interface, inv *Inventory) int {
	out = out[:len(ids)]
	found := 0
	if t == nil || len(t.slots) < 4 {
		for i, id := range ids {
			out[i] = Interface{}
			if s, pos := t.lookup(id); s != nil {
				out[i] = Interface{rec: s, inv: inv, pos: pos}
				found++
			}
		}
		return found
	}
	var (
		lo     [batchGroup]uint64
		hi     [batchGroup]uint32 // 0: not a well-formed 17-digit id
		i1, i2 [batchGroup]int
		m      [batchGroup]uint8
	)
	slots := t.slots
	nb := len(slots) / 2
	for base := 0; base < len(ids); base += batchGroup {
		group := ids[base:min(base+batchGroup, len(ids))]
		for k, id := range group {
			hi[k] = 0
			if len(id) != 21 || binary.LittleEndian.Uint32(id) != eniPrefix {
				continue
			}
			d := hexLower[id[4]]
			x1, x2 := binary.LittleEndian.Uint64(id[5:13]), binary.LittleEndian.Uint64(id[13:21])
			if notHex8(x1)|notHex8(x2) == 0 && d <= 15 {
				lo[k], hi[k] = nibbles8(x1)|nibbles8(x2)<<4, 17<<8|uint32(d)
			}
		}
		// Start the loads of the group with as few instructions as
		// possible between them: compare the first slot of each bucket
		// here, the second (on the same cache line) below.
		for k := range group {
			i1[k], i2[k] = bucketsFor(lo[k], hi[k], nb)
			m[k] = eq(slots[2*i1[k]].lo, lo[k]) | eq(slots[2*i2[k]].lo, lo[k])<<2
		}
		for k, id := range group {
			var s *eniSlot
			var pos uint32
			m[k] |= eq(slots[2*i1[k]+1].lo, lo[k])<<1 | eq(slots[2*i2[k]+1].lo, lo[k])<<3
			if j := uint(bits.TrailingZeros8(m[k])); hi[k] != 0 && j < 4 {
				// As in resolve, without a call.
				p := 2*(uint(i1[k])^(uint(i1[k])^uint(i2[k]))&-(j>>1)) + j&1
				if s = &slots[p]; uint32(s.hi&keyMask) == hi[k] {
					pos = uint32(p)
				} else {
					s, pos = t.resolve(lo[k], hi[k], i1[k], i2[k], m[k])
				}
			} else if hi[k] == 0 {
				s, pos = t.lookup(id)
			}
			out[base+k] = Interface{}
			if s != nil {
				out[base+k] = Interface{rec: s, inv: inv, pos: pos}
				found++
			}
		}
	}
	return found
}

// idAt returns the string handle of the id at a position lookup returned.
func (t *eniTable) idAt(pos uint32) uint32 {
	if pos&oddPos != 0 {
		return t.oddIDs[pos&^oddPos]
	}
	return t.ids[pos]
}

// each calls fn for every entry; oddID is the id of a slot without a key.
func (t *eniTable) each(fn func(e eniEntry, oddID string)) {
	for p := range t.slots {
		if t.slots[p].hi&keyMask != 0 {
			fn(eniEntry{t.slots[p], t.ids[p]}, "")
		}
	}
	for id, i := range t.odd {
		fn(eniEntry{t.oddSlots[i], t.oddIDs[i]}, id)
	}
}

// eq is 1 if a == b, else 0; the compiler emits a flag set, not a branch.
func eq(a, b uint64) uint8 {
	if a == b {
		return 1
	}
	return 0
}
