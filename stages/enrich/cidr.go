package enrich

import (
	"cmp"
	"encoding/binary"
	"math"
	"math/bits"
	"net/netip"
	"slices"
)

// Longest-prefix match over subnet CIDRs.
//
// Prefixes of one family are flattened into disjoint segments: a sorted list
// of segment starts, each labelled with the most specific subnet covering it
// (or -1 for a gap). A lookup finds the last start ≤ the key. A radix index
// over the key range narrows that search to a handful of segments, so a
// lookup costs about two cache misses however many prefixes there are and
// whatever their lengths.
//
// IPv4 keys are the 32-bit address. IPv6 keys are the upper 64 bits, which is
// exact for prefixes up to /64 (every VPC subnet); longer IPv6 prefixes go to
// a small per-length table that is probed first.

// prefixRange is a prefix as an inclusive key range with its subnet label.
type prefixRange struct {
	first, last uint64
	label       int32
}

// newPrefixRange builds the range of a prefix of length bits over a key
// space of width bits (32 or 64). key may have host bits set.
func newPrefixRange(key uint64, prefixBits, width int, label int32) prefixRange {
	host := width - prefixBits
	var hostMask uint64
	if host >= 64 {
		hostMask = math.MaxUint64
	} else {
		hostMask = 1<<host - 1
	}
	first := key &^ hostMask
	if width < 64 {
		first &= 1<<width - 1
	}
	return prefixRange{first: first, last: first | hostMask, label: label}
}

// rangeTable is the flattened, indexed form of a set of prefixRanges.
type rangeTable struct {
	starts []uint64 // ascending segment starts
	labels []int32  // label of the segment starting at starts[i]; -1 is a gap
	base   uint64   // starts[0]
	shift  uint     // bucket width is 1<<shift keys
	// index[b] is the segment that contains key base + b<<shift, so a key in
	// bucket b lies in a segment between index[b] and index[b+1].
	index []uint32
}

// buildRangeTable flattens ps. When one prefix is claimed by several labels
// the lowest label wins; dups reports how many such extra claims there were.
func buildRangeTable(ps []prefixRange) (t rangeTable, dups int) {
	if len(ps) == 0 {
		return rangeTable{}, 0
	}
	ps = slices.Clone(ps)
	// Containers sort before what they contain: by start, then widest first.
	slices.SortFunc(ps, func(a, b prefixRange) int {
		if c := cmp.Compare(a.first, b.first); c != 0 {
			return c
		}
		if c := cmp.Compare(b.last, a.last); c != 0 {
			return c
		}
		return cmp.Compare(a.label, b.label)
	})

	emit := func(start uint64, label int32) {
		n := len(t.starts)
		if n > 0 && t.starts[n-1] == start {
			// A later segment at the same start is more specific.
			t.starts, t.labels = t.starts[:n-1], t.labels[:n-1]
			n--
		}
		if n > 0 && t.labels[n-1] == label {
			return
		}
		t.starts = append(t.starts, start)
		t.labels = append(t.labels, label)
	}
	var stack []prefixRange
	// pop closes the innermost open prefix; the keys after it belong to the
	// next enclosing prefix, or to nobody.
	pop := func() {
		top := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if top.last == math.MaxUint64 {
			return
		}
		outer := int32(-1)
		if len(stack) > 0 {
			outer = stack[len(stack)-1].label
		}
		emit(top.last+1, outer)
	}
	for i, p := range ps {
		if i > 0 && p.first == ps[i-1].first && p.last == ps[i-1].last {
			dups++
			continue
		}
		for len(stack) > 0 && stack[len(stack)-1].last < p.first {
			pop()
		}
		emit(p.first, p.label)
		stack = append(stack, p)
	}
	for len(stack) > 0 {
		pop()
	}
	t.starts = slices.Clip(t.starts)
	t.labels = slices.Clip(t.labels)
	t.buildIndex()
	return t, dups
}

// buildIndex builds the radix index with about one bucket per segment.
func (t *rangeTable) buildIndex() {
	n := len(t.starts)
	t.base = t.starts[0]
	span := t.starts[n-1] - t.base
	if s := bits.Len64(span) - bits.Len64(uint64(n)); s > 0 {
		t.shift = uint(s)
	}
	buckets := int(span>>t.shift) + 2
	t.index = make([]uint32, buckets)
	seg := 0
	for b := range buckets {
		off := uint64(b) << t.shift
		if uint64(b) > span>>t.shift {
			t.index[b] = uint32(n - 1)
			continue
		}
		key := t.base + off
		for seg+1 < n && t.starts[seg+1] <= key {
			seg++
		}
		t.index[b] = uint32(seg)
	}
}

// lookup returns the label of the segment containing k, or -1.
func (t *rangeTable) lookup(k uint64) int32 {
	n := len(t.starts)
	if n == 0 || k < t.base {
		return -1
	}
	if k >= t.starts[n-1] {
		return t.labels[n-1]
	}
	b := (k - t.base) >> t.shift
	lo, hi := int(t.index[b]), int(t.index[b+1])
	// The answer is the largest i in [lo, hi] with starts[i] <= k;
	// starts[lo] <= k holds by construction. The range is usually a
	// handful of segments.
	for lo < hi {
		mid := int(uint(lo+hi+1) >> 1)
		if t.starts[mid] <= k {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return t.labels[lo]
}

// longTable holds IPv6 prefixes longer than /64, one exact-match map per
// length, probed from the longest length present.
type longTable struct {
	levels []longLevel
}

type longLevel struct {
	bits int
	m    map[[2]uint64]int32
}

func buildLongTable(ps []netip.Prefix, labels []int32) (longTable, int) {
	var t longTable
	dups := 0
	for i, p := range ps {
		p = p.Masked()
		b := p.Addr().As16()
		key := [2]uint64{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
		li := slices.IndexFunc(t.levels, func(l longLevel) bool { return l.bits == p.Bits() })
		if li < 0 {
			t.levels = append(t.levels, longLevel{bits: p.Bits(), m: make(map[[2]uint64]int32)})
			li = len(t.levels) - 1
		}
		if old, ok := t.levels[li].m[key]; ok {
			dups++
			if old < labels[i] {
				continue
			}
		}
		t.levels[li].m[key] = labels[i]
	}
	slices.SortFunc(t.levels, func(a, b longLevel) int { return cmp.Compare(b.bits, a.bits) })
	return t, dups
}

// lookup matches the address hi:lo against the longest present length first.
func (t *longTable) lookup(hi, lo uint64) int32 {
	for _, l := range t.levels {
		// l.bits is in (64, 128]: only the low word is masked.
		mask := uint64(math.MaxUint64) << (128 - l.bits)
		if label, ok := l.m[[2]uint64{hi, lo & mask}]; ok {
			return label
		}
	}
	return -1
}
