package seal

import (
	"context"
	"sync"

	"flowlake/schema"
)

// Two writers may write files into the same hour folder: `flowlake run`
// (Kafka partitions) and a backfill (archive folders), or two pipelines of
// different topics. A sealer's decision holds the states of its own
// writer's streams only; a file of another writer's stream is final once
// that stream's own durable progress record covers it, which a ForeignFunc
// reads. Whether an hour is sealable stays the sealer's own rule; the
// foreign records only say whether the other writer's files are final.

// ForeignFunc reads the durable progress of a stream the decision has no
// state for (another writer's), for deciding whether that stream's files
// are final. It returns one state per progress record that may have
// written the stream's files (a Kafka partition has one per consumer
// group with a checkpoint for it): a file is final once every one of them
// covers it. It returns none when there is no record (nothing is final).
type ForeignFunc func(ctx context.Context, topic string, partition int) ([]PartitionState, error)

// ForeignReader returns the ForeignFunc of one pass, which may read what
// all streams share (a listing of progress records) once and reuse it
// for that pass; the next pass gets a fresh one.
type ForeignReader func() ForeignFunc

// SetForeign makes the sealer read other writers' progress records with
// r's ForeignFuncs (nil: another writer's files are never final, and hold
// their hours open). Call it before the first pass.
func (s *Sealer) SetForeign(r ForeignReader) { s.foreign = r }

// foreignStates reads each foreign stream's records once per pass.
type foreignStates struct {
	load ForeignFunc
	mu   sync.Mutex
	m    map[stateKey]*foreignEntry
}

type foreignEntry struct {
	once   sync.Once
	states []PartitionState
	err    error
}

func newForeignStates(load ForeignFunc) *foreignStates {
	return &foreignStates{load: load, m: map[stateKey]*foreignEntry{}}
}

// covers reports whether the progress records of stream (topic,
// partition), which the decision has no state for, cover a file of hour k
// whose last record is at lastOffset.
func (f *foreignStates) covers(ctx context.Context, topic string, partition int, k schema.PartitionKey, lastOffset int64) (bool, error) {
	if f == nil || f.load == nil {
		return false, nil
	}
	key := stateKey{topic, partition}
	f.mu.Lock()
	e, ok := f.m[key]
	if !ok {
		e = &foreignEntry{}
		f.m[key] = e
	}
	f.mu.Unlock()
	e.once.Do(func() { e.states, e.err = f.load(ctx, topic, partition) })
	if e.err != nil {
		return false, e.err
	}
	if len(e.states) == 0 {
		return false, nil
	}
	for i := range e.states {
		if !e.states[i].Covers(k, lastOffset) {
			return false, nil
		}
	}
	return true, nil
}
