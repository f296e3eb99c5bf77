package schema

// Record is one parsed flow log record. Values are indexed by FieldID; a
// field is null unless its bit is set. Str values alias the buffer the record
// was parsed from: they are valid only until that buffer is reused.
type Record struct {
	has [2]uint64
	Int [NumFields]int64
	Str [NumFields][]byte
}

// Reset makes every field null.
func (r *Record) Reset() { r.has = [2]uint64{} }

// IsSet reports whether the field holds a value.
func (r *Record) IsSet(id FieldID) bool { return r.has[id>>6]&(1<<(id&63)) != 0 }

// SetInt stores an integer value.
func (r *Record) SetInt(id FieldID, v int64) {
	r.Int[id] = v
	r.has[id>>6] |= 1 << (id & 63)
}

// SetStr stores a string value; b is aliased, not copied.
func (r *Record) SetStr(id FieldID, b []byte) {
	r.Str[id] = b
	r.has[id>>6] |= 1 << (id & 63)
}

// Clear makes the field null.
func (r *Record) Clear(id FieldID) { r.has[id>>6] &^= 1 << (id & 63) }

// Pos is the position of a record in its source: the Kafka offset of the
// message and the record's index inside the message.
type Pos struct {
	Offset int64 `json:"offset"`
	Line   int32 `json:"line"`
}

// Less orders positions.
func (p Pos) Less(q Pos) bool {
	return p.Offset < q.Offset || (p.Offset == q.Offset && p.Line < q.Line)
}
