package archive

import (
	"strings"
	"sync"

	"flowlake/schema"
	"flowlake/stages/source"
)

// stream is one folder: it implements source.Stream.
type stream struct {
	src      *Source
	folder   Folder
	objects  []Object
	manifest *manifest
	maxBytes int

	mu        sync.Mutex
	committed int64
	rd        *reader
}

// ID implements source.Stream: the folder's URL, so files and dead
// letters of two folders never share a name.
func (st *stream) ID() source.StreamID {
	return source.StreamID{Topic: st.src.topic(st.folder)}
}

// CheckpointKey implements source.Stream:
// `_flowlake/backfill/<bucket>/<folder>/checkpoint.json`.
func (st *stream) CheckpointKey() string { return st.src.stateKey(st.folder, "checkpoint.json") }

// TopicCheckpointKey returns the checkpoint key of the folder stream
// whose topic (ID: the folder's URL, as its files name it in
// flowlake.topic) is topic, whichever backfill read it; ok is false when
// topic is no folder's URL (a Kafka topic).
func TopicCheckpointKey(topic string) (key string, ok bool) {
	rest, ok := strings.CutPrefix(topic, "s3://")
	if !ok || !strings.HasSuffix(rest, "/") || strings.Index(rest, "/") < 1 {
		return "", false
	}
	return topicStateKey(topic, "checkpoint.json"), true
}

// Resume implements source.Stream: the checkpoint alone says where.
func (st *stream) Resume() int64 { return 0 }

// Open implements source.Stream.
func (st *stream) Open(start int64, maxBytes int) source.Reader {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.maxBytes = max(maxBytes, msgMaxBytes)
	start = max(start, 0)
	st.rd = &reader{st: st, start: start, last: -1, skipTo: -1}
	if st.committed < start {
		st.committed = start
	}
	return st.rd
}

// Commit implements source.Stream.
func (st *stream) Commit(next int64) error {
	st.mu.Lock()
	st.committed = max(st.committed, next)
	st.mu.Unlock()
	return nil
}

// Placement implements source.Stream: the account and region of the
// folder, as AWS wrote them in the path.
func (st *stream) Placement() (string, string) { return st.folder.Account, st.folder.Region }

// complete reports whether the whole folder was read and is durable.
func (st *stream) complete() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	rd := st.rd
	return rd != nil && rd.done && st.committed > rd.last
}

// Locate maps a dead letter of one of the source's streams to its object
// URL and line (deadletter.Locator).
func (s *Source) Locate(d *schema.DeadLetter) (string, int64) {
	s.mu.Lock()
	st := s.streams[d.Topic]
	s.mu.Unlock()
	idx, base := Split(d.Offset)
	if st == nil || idx >= len(st.objects) {
		return d.Topic, int64(d.Line)
	}
	line := int64(0)
	if d.Line > 0 {
		line = base + int64(d.Line)
	}
	return "s3://" + s.cfg.Bucket + "/" + st.objects[idx].Key, line
}
