package pipeline

// CountedBytes is what the memory budget counts now, emptied blocks kept
// for reuse aside.
func (p *Pipeline) CountedBytes() int64 { return p.mem.used() }
