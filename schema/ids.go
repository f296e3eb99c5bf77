package schema

// idList is a dictionary column's entry number per row, each in the fewest
// bytes (1, 2 or 4) the column's entries need, widened as entries are
// added. Most dictionary columns of a batch have fewer than 256 entries
// (actions, statuses, the account, the interface's subnet, VPC and tags),
// and a 4-byte number per row was a third of a batched row's memory: what
// a batch takes decides how soon the memory budget flushes it, so how many
// files a run writes.
type idList struct {
	u8  []uint8
	u16 []uint16
	u32 []uint32
	// wide is 0 (u8), 1 (u16) or 2 (u32).
	wide uint8
}

// width is the bytes one number takes.
func (l *idList) width() int { return 1 << l.wide }

// len is the number of rows.
func (l *idList) len() int {
	switch l.wide {
	case 0:
		return len(l.u8)
	case 1:
		return len(l.u16)
	}
	return len(l.u32)
}

// at returns row i's entry.
func (l *idList) at(i int) uint32 {
	switch l.wide {
	case 0:
		return uint32(l.u8[i])
	case 1:
		return uint32(l.u16[i])
	}
	return l.u32[i]
}

// add appends entry e, which fit has made room for.
func (l *idList) add(e uint32) {
	switch l.wide {
	case 0:
		l.u8 = append(Reserve(l.u8, 1), uint8(e))
	case 1:
		l.u16 = append(Reserve(l.u16, 1), uint16(e))
	default:
		l.u32 = append(Reserve(l.u32, 1), e)
	}
}

// reserve makes room for n more rows.
func (l *idList) reserve(n int) {
	switch l.wide {
	case 0:
		l.u8 = Reserve(l.u8, n)
	case 1:
		l.u16 = Reserve(l.u16, n)
	default:
		l.u32 = Reserve(l.u32, n)
	}
}

// fit widens the list, when needed, so that numbers below entries fit,
// and returns the bytes the rows' numbers grew by.
func (l *idList) fit(entries int) int {
	before := l.len() * l.width()
	switch {
	case l.wide == 0 && entries > 1<<8 && entries <= 1<<16:
		l.u16 = Reserve(l.u16[:0], len(l.u8))
		for _, e := range l.u8 {
			l.u16 = append(l.u16, uint16(e))
		}
		l.u8, l.wide = nil, 1
	case l.wide < 2 && entries > 1<<16:
		n := l.len()
		l.u32 = Reserve(l.u32[:0], n)
		for i := range n {
			l.u32 = append(l.u32, l.at(i))
		}
		l.u8, l.u16, l.wide = nil, nil, 2
	}
	return l.len()*l.width() - before
}

// capacity is how many rows the list holds without growing (at its
// width).
func (l *idList) capacity() int {
	switch l.wide {
	case 0:
		return cap(l.u8)
	case 1:
		return cap(l.u16)
	}
	return cap(l.u32)
}

// reset empties the list, keeping its width and memory.
func (l *idList) reset() { l.u8, l.u16, l.u32 = l.u8[:0], l.u16[:0], l.u32[:0] }

// mem is the memory the list holds.
func (l *idList) mem() int { return cap(l.u8) + 2*cap(l.u16) + 4*cap(l.u32) }
