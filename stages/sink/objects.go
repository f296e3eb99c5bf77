package sink

import "io"

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	// Key is relative to the sink's root, like the keys of Put.
	Key  string
	Size int64
}

// Object is a stored object opened for random access (Parquet readers need
// it). Reads go to the store: nothing is held in memory beyond what the
// caller reads.
type Object interface {
	io.ReaderAt
	io.Closer
	Size() int64
}
