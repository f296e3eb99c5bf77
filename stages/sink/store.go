package sink

import (
	"context"
	"errors"
)

var (
	// ErrExists is returned (wrapped) by Create when the key already holds
	// an object.
	ErrExists = errors.New("object already exists")
	// ErrChanged is returned (wrapped) by ReplaceIf when the object is no
	// longer the version the caller read.
	ErrChanged = errors.New("object changed since it was read")
)

// Store is a Sink that can also list objects, read them in ranges and write
// conditionally. Sealing, the archive and verification need it; the data
// path needs only Sink. Local and S3 implement it.
//
// Conditional writes are how several flowlake instances agree on one
// writer without any other coordination:
//   - Create stores an object only if the key is free: on S3 a PutObject with
//     `If-None-Match: *`; on a local directory a temp file hard-linked into
//     place (link(2) fails when the name exists).
//   - ReplaceIf replaces an object only if it is still the version read with
//     GetTag: on S3 a PutObject with `If-Match: <ETag>`; locally a
//     compare-and-rename under an exclusive flock(2) of a sidecar lock file.
type Store interface {
	Sink
	// List returns every object whose key starts with prefix, in key
	// order. Temp files of interrupted local writes are not listed.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
	// Open opens an object for ranged reads; a missing object returns an
	// error wrapping ErrNotFound.
	Open(ctx context.Context, key string) (Object, error)
	// Create stores data under key if no object exists there; otherwise it
	// returns an error wrapping ErrExists. A Create that is retried after a
	// lost reply and finds its own bytes in place returns nil.
	Create(ctx context.Context, key string, data []byte) error
	// GetTag returns the object and an opaque tag of its version for
	// ReplaceIf.
	GetTag(ctx context.Context, key string) (data []byte, tag string, err error)
	// ReplaceIf stores data under key if the object there still has tag;
	// otherwise it returns an error wrapping ErrChanged.
	ReplaceIf(ctx context.Context, key string, data []byte, tag string) error
	// PutFile stores the file at path under key, streaming it: large
	// objects are never held in memory whole.
	PutFile(ctx context.Context, key, path string) error
}

var (
	_ Store = (*Local)(nil)
	_ Store = (*S3)(nil)
)
