package schema

import (
	"bytes"
	"hash/maphash"
	"unsafe"
)

// Block holds rows of one Layout column by column, compactly: integers in
// int64 slices, strings in one byte arena per column, and a validity bitmap
// per column. Low-cardinality string columns (the ones files
// dictionary-encode: accounts, interfaces, the enrichment columns) keep each
// distinct value once, in the arena, and an entry number per row in 1, 2 or
// 4 bytes (see idList), so a buffered row takes a fraction of its text;
// INT32 columns take 4 bytes a row, and INT64 columns too while their
// values fit in 32 unsigned bits. Blocks are the unit that is batched,
// merged and encoded. A Block is not safe for concurrent use.
type Block struct {
	Layout *Layout
	// First and Last are the positions of the first and last rows appended.
	First, Last Pos
	// MinTime and MaxTime bound the rows' start times (Unix seconds).
	MinTime, MaxTime int64

	n    int
	cols []blockColumn
	size int
	// remap is AppendBlock's scratch: the other block's dictionary entries
	// renumbered into this one's.
	remap []uint32
}

type blockColumn struct {
	kind  Kind
	dict  bool
	valid []uint64
	// ints holds an int64 column's rows, i32 an int32 column's: half the
	// memory, as most of a flow log's integers are ports and protocols.
	// An int64 column keeps its rows in u32 while every value fits in 32
	// unsigned bits (counts and Unix times, until 2106), and moves them to
	// ints (wide) at the first that does not.
	ints []int64
	i32  []int32
	u32  []uint32
	wide bool
	// data and ends hold the strings: row i (or, in a dictionary column,
	// entry i) spans data[ends[i-1]:ends[i]].
	data []byte
	ends []uint32
	// ids is a dictionary column's entry per row (0 for null rows), and
	// table its hash table of entries (entry+1; 0 is empty).
	ids   idList
	table []uint32
	// last is the entry the previous row took, plus one (0: none): rows
	// in a row often repeat a value (the account, the action), and
	// comparing with it is cheaper than hashing.
	last uint32
}

// entry returns string i of the column's arena.
func (c *blockColumn) entry(i uint32) []byte {
	start := uint32(0)
	if i > 0 {
		start = c.ends[i-1]
	}
	return c.data[start:c.ends[i]:c.ends[i]]
}

var dictSeed = maphash.MakeSeed()

// intern returns v's entry in a dictionary column, adding it when new,
// and the bytes the column grew by.
func (c *blockColumn) intern(v []byte) (uint32, int) {
	if len(c.ends)*2 >= len(c.table) {
		c.rehash(max(16, len(c.table)*2))
	}
	mask := uint64(len(c.table) - 1)
	for i := maphash.Bytes(dictSeed, v) & mask; ; i = (i + 1) & mask {
		e := c.table[i]
		if e == 0 {
			c.data = append(Reserve(c.data, len(v)), v...)
			c.ends = append(Reserve(c.ends, 1), uint32(len(c.data)))
			c.table[i] = uint32(len(c.ends))
			return uint32(len(c.ends) - 1), len(v) + 8
		}
		if bytes.Equal(c.entry(e-1), v) {
			return e - 1, 0
		}
	}
}

func (c *blockColumn) rehash(n int) {
	if cap(c.table) >= n {
		c.table = c.table[:n]
		clear(c.table)
	} else {
		c.table = make([]uint32, n)
	}
	mask := uint64(n - 1)
	for e := range uint32(len(c.ends)) {
		i := maphash.Bytes(dictSeed, c.entry(e)) & mask
		for c.table[i] != 0 {
			i = (i + 1) & mask
		}
		c.table[i] = e + 1
	}
}

// rowOverhead approximates the fixed per-row bytes of the slices.
const rowOverhead = 1

// NewBlock returns an empty block for l.
func NewBlock(l *Layout) *Block {
	b := &Block{Layout: l, cols: make([]blockColumn, len(l.Columns))}
	for i, c := range l.Columns {
		b.cols[i].kind = c.Kind
		b.cols[i].dict = c.Kind == KindString && dictionaryColumns[c.Field]
	}
	return b
}

// Len is the number of rows.
func (b *Block) Len() int { return b.n }

// Size approximates the bytes of memory the rows use.
func (b *Block) Size() int { return b.size }

// Mem is the memory the block holds, counting slice capacity: what a
// memory budget must count.
func (b *Block) Mem() int {
	n := 0
	for i := range b.cols {
		c := &b.cols[i]
		n += cap(c.valid)*8 + cap(c.ints)*8 + cap(c.i32)*4 + cap(c.u32)*4 + cap(c.data) + cap(c.ends)*4 + c.ids.mem() + cap(c.table)*4
	}
	// The block and its column headers count too: with many small blocks
	// (many accounts and hours at once) they are most of the memory.
	return n + cap(b.remap)*4 + int(unsafe.Sizeof(Block{})) + len(b.cols)*int(unsafe.Sizeof(blockColumn{}))
}

// room is how many more rows the block's fixed-width slices (validity,
// integers, entry numbers, string ends) hold without growing.
func (b *Block) room() int {
	n := 1 << 30
	for i := range b.cols {
		c := &b.cols[i]
		n = min(n, (cap(c.valid)*64)-b.n)
		switch {
		case c.dict:
			n = min(n, c.ids.capacity()-b.n)
		case c.kind == KindString:
			n = min(n, cap(c.ends)-b.n)
		case c.kind == KindInt32:
			n = min(n, cap(c.i32)-b.n)
		case c.wide:
			n = min(n, cap(c.ints)-b.n)
		default:
			n = min(n, cap(c.u32)-b.n)
		}
	}
	return n
}

// Reset empties the block, keeping its memory for reuse.
func (b *Block) Reset() {
	for i := range b.cols {
		c := &b.cols[i]
		c.valid, c.ints, c.i32, c.u32, c.data, c.ends = c.valid[:0], c.ints[:0], c.i32[:0], c.u32[:0], c.data[:0], c.ends[:0]
		c.ids.reset()
		clear(c.table)
		c.last = 0
	}
	b.n, b.size = 0, 0
	b.First, b.Last = Pos{}, Pos{}
	b.MinTime, b.MaxTime = 0, 0
}

// Append adds r as a row. The string values are copied.
func (b *Block) Append(r *Record, pos Pos, t int64) {
	row := b.n
	word, bit := row>>6, uint64(1)<<(row&63)
	size := 0
	for i := range b.cols {
		c := &b.cols[i]
		id := b.Layout.Columns[i].Field
		if word >= len(c.valid) {
			c.valid = append(Reserve(c.valid, 1), 0)
		}
		set := r.IsSet(id)
		if set {
			c.valid[word] |= bit
		}
		if c.dict {
			e := uint32(0)
			if set {
				if v := r.Str[id]; c.last != 0 && bytes.Equal(c.entry(c.last-1), v) {
					e = c.last - 1
				} else {
					var grew int
					e, grew = c.intern(v)
					if grew > 0 {
						size += grew + c.ids.fit(len(c.ends))
					}
					c.last = e + 1
				}
			}
			c.ids.add(e)
			size += c.ids.width()
		} else if c.kind == KindString {
			if set {
				c.data = append(Reserve(c.data, len(r.Str[id])), r.Str[id]...)
				size += len(r.Str[id])
			}
			c.ends = append(Reserve(c.ends, 1), uint32(len(c.data)))
			size += 4
		} else {
			v := int64(0)
			if set {
				v = r.Int[id]
			}
			switch {
			case c.kind == KindInt32:
				c.i32 = append(Reserve(c.i32, 1), int32(v))
				size += 4
			case !c.wide && uint64(v) <= 1<<32-1:
				c.u32 = append(Reserve(c.u32, 1), uint32(v))
				size += 4
			default:
				size += c.widen()
				c.ints = append(Reserve(c.ints, 1), v)
				size += 8
			}
		}
	}
	b.size += size + rowOverhead
	b.note(pos, t)
	b.n++
}

func (b *Block) note(pos Pos, t int64) {
	if b.n == 0 {
		b.First, b.MinTime, b.MaxTime = pos, t, t
	}
	b.Last = pos
	if t < b.MinTime {
		b.MinTime = t
	}
	if t > b.MaxTime {
		b.MaxTime = t
	}
}

// AppendBlock appends every row of o, which must have the same layout.
func (b *Block) AppendBlock(o *Block) {
	if o.n == 0 {
		return
	}
	if b.n == 0 {
		b.First, b.MinTime, b.MaxTime = o.First, o.MinTime, o.MaxTime
	}
	b.Last = o.Last
	b.MinTime = min(b.MinTime, o.MinTime)
	b.MaxTime = max(b.MaxTime, o.MaxTime)
	for i := range b.cols {
		c, oc := &b.cols[i], &o.cols[i]
		c.valid = appendBits(c.valid, b.n, oc.valid, o.n)
		if c.dict {
			b.remap = Reserve(b.remap[:0], max(len(oc.ends), 1))
			for e := range uint32(len(oc.ends)) {
				id, grew := c.intern(oc.entry(e))
				b.remap = append(b.remap, id)
				b.size += grew
			}
			if len(b.remap) == 0 {
				b.remap = append(b.remap, 0) // every row is null
			}
			b.size += c.ids.fit(len(c.ends))
			c.ids.reserve(o.n)
			for row := range o.n {
				c.ids.add(b.remap[oc.ids.at(row)])
			}
			b.size += c.ids.width() * o.n
		} else if c.kind == KindString {
			base := uint32(len(c.data))
			c.data = append(Reserve(c.data, len(oc.data)), oc.data...)
			c.ends = Reserve(c.ends, len(oc.ends))
			for _, e := range oc.ends {
				c.ends = append(c.ends, base+e)
			}
		} else if c.kind == KindInt32 {
			c.i32 = append(Reserve(c.i32, len(oc.i32)), oc.i32...)
		} else if !c.wide && !oc.wide {
			c.u32 = append(Reserve(c.u32, len(oc.u32)), oc.u32...)
		} else {
			b.size += c.widen()
			if oc.wide {
				c.ints = append(Reserve(c.ints, len(oc.ints)), oc.ints...)
			} else {
				c.ints = Reserve(c.ints, len(oc.u32))
				for _, v := range oc.u32 {
					c.ints = append(c.ints, int64(v))
				}
				b.size += 4 * len(oc.u32) // o counted them at 4 bytes
			}
		}
	}
	b.n += o.n
	b.size += o.sizeNonDict()
}

// sizeNonDict is Size less what dictionary columns add (AppendBlock counts
// those itself, since shared entries are stored once).
func (b *Block) sizeNonDict() int {
	s := b.size
	for i := range b.cols {
		if c := &b.cols[i]; c.dict {
			s -= c.ids.len()*c.ids.width() + len(c.data) + 8*len(c.ends)
		}
	}
	return s
}

// appendBits appends the first m bits of src to dst, which holds n bits.
func appendBits(dst []uint64, n int, src []uint64, m int) []uint64 {
	need := (n + m + 63) >> 6
	dst = Reserve(dst[:(n+63)>>6], need-(n+63)>>6)
	for len(dst) < need {
		dst = append(dst, 0)
	}
	shift := uint(n & 63)
	base := n >> 6
	words := (m + 63) >> 6
	for i := 0; i < words; i++ {
		w := src[i]
		if i == words-1 && m&63 != 0 {
			w &= 1<<(uint(m)&63) - 1
		}
		dst[base+i] |= w << shift
		if shift != 0 && base+i+1 < need {
			dst[base+i+1] |= w >> (64 - shift)
		}
	}
	return dst
}

// Valid reports whether column col of row is non-null.
func (b *Block) Valid(col, row int) bool { return bitSet(b.cols[col].valid, row) }

// bitSet reports whether bit row of a validity bitmap is set.
func bitSet(bits []uint64, row int) bool { return bits[row>>6]&(1<<(row&63)) != 0 }

// Int returns the integer in column col of row (0 when null).
func (b *Block) Int(col, row int) int64 {
	c := &b.cols[col]
	switch {
	case c.kind == KindInt32:
		return int64(c.i32[row])
	case !c.wide:
		return int64(c.u32[row])
	}
	return c.ints[row]
}

// widen moves an int64 column's rows from 4 bytes to 8, once, and returns
// the bytes they grew by.
func (c *blockColumn) widen() int {
	if c.wide {
		return 0
	}
	c.ints = Reserve(c.ints[:0], len(c.u32))
	for _, v := range c.u32 {
		c.ints = append(c.ints, int64(v))
	}
	n := 4 * len(c.u32)
	c.u32, c.wide = nil, true
	return n
}

// Bytes returns the string in column col of row, aliasing the block.
func (b *Block) Bytes(col, row int) []byte {
	c := &b.cols[col]
	if c.dict {
		if len(c.ends) == 0 {
			return nil
		}
		return c.entry(c.ids.at(row))
	}
	start := uint32(0)
	if row > 0 {
		start = c.ends[row-1]
	}
	return c.data[start:c.ends[row]:c.ends[row]]
}
