package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"flowlake/schema"
	"flowlake/stages/sink"
)

// What sealing needs from the archive source (see stages/seal, Plan):
// every folder of the run and of the days adjoining its range, whether
// each is durable, and the delivery times of its objects.

// SealFolder is a folder as sealing sees it.
type SealFolder struct {
	// Topic and CheckpointKey name the folder's stream and its progress.
	Topic, CheckpointKey string
	Account, Region      string
	Day                  time.Time
	// Around is set for a folder of a day adjoining the range: this run
	// does not read it; an earlier run may have.
	Around bool
	// Started: the folder's stream ran in this run (its checkpoint says
	// how far it is durable); Complete: every object is durable; Sealed:
	// complete, and every hour it wrote into was found sealed.
	Started, Complete, Sealed bool
	// Objects is how many objects the folder holds (its stream's end
	// offset is Offset(Objects, 0)).
	Objects int
	idx     *spanIndex
}

// spanIndex holds a folder's objects' delivery spans in stream order;
// sufFrom and sufTo bound each[i:]. Immutable once built.
type spanIndex struct {
	each           []span
	sufFrom, sufTo []int64
}

type span struct{ from, to int64 }

// objectSpan is the delivery time of an object as a span: the minute in
// its name, or its whole day folder when the name carries no time.
func objectSpan(key string, f Folder) span {
	t := objectTime(key, f)
	if t.Equal(f.Day) && !namedTime(key) {
		return span{f.Day.Unix(), f.Day.AddDate(0, 0, 1).Unix()}
	}
	return span{t.Unix(), t.Unix() + 1}
}

// namedTime reports whether the object's name carries a delivery time.
func namedTime(key string) bool {
	f := Folder{Day: time.Unix(0, 0).UTC()}
	return !objectTime(key, f).Equal(f.Day)
}

func newSealFolder(s *Source, p *folderPlan) SealFolder {
	objs := p.objects
	if p.manifest != nil {
		objs = p.manifest.Objects
	}
	sf := SealFolder{Topic: s.topic(p.folder), CheckpointKey: s.stateKey(p.folder, "checkpoint.json"),
		Account: p.folder.Account, Region: p.folder.Region, Day: p.folder.Day,
		Started: p.status == folderRunning, Complete: p.status == folderComplete, Sealed: p.sealed, Objects: len(objs)}
	if p.spans == nil || len(p.spans.each) != len(objs) || p.spansOf != p.manifest {
		p.spans, p.spansOf = newSpanIndex(objs, p.folder), p.manifest
	}
	sf.idx = p.spans
	return sf
}

func newSpanIndex(objs []Object, f Folder) *spanIndex {
	s := &spanIndex{each: make([]span, len(objs)), sufFrom: make([]int64, len(objs)+1), sufTo: make([]int64, len(objs)+1)}
	s.sufFrom[len(objs)], s.sufTo[len(objs)] = math.MaxInt64, math.MinInt64
	for i := len(objs) - 1; i >= 0; i-- {
		sp := objectSpan(objs[i].Key, f)
		s.each[i] = sp
		s.sufFrom[i], s.sufTo[i] = min(s.sufFrom[i+1], sp.from), max(s.sufTo[i+1], sp.to)
	}
	return s
}

// Pending returns the span of delivery times of the objects not durable
// when the folder's checkpoint says next (found false: no checkpoint):
// objects before next's object are durable. ok is false when none is
// pending.
func (f *SealFolder) Pending(next int64, found bool) (from, to int64, ok bool) {
	if f.Complete || f.Objects == 0 {
		return 0, 0, false
	}
	first := 0
	if found && next > 0 {
		first, _ = Split(next)
	}
	if first >= f.Objects {
		// Past the last object's messages: only the end of the run
		// (the folder complete) says the last one is whole.
		first = f.Objects - 1
	}
	return f.idx.sufFrom[first], f.idx.sufTo[first], true
}

// InWindow counts the folder's objects named in [from, to).
func (f *SealFolder) InWindow(from, to int64) int {
	n := 0
	for _, sp := range f.idx.each {
		if sp.from < to && sp.to > from {
			n++
		}
	}
	return n
}

// SealView is the source's plan as sealing sees it.
type SealView struct {
	// Range is the selected days; ListedAt is when the archive was
	// listed (objects AWS delivers later are not in the plan).
	Range    Range
	ListedAt time.Time
	Accounts []string // empty: all
	Regions  []string // empty: all
	Folders  []SealFolder
}

// SealView returns the plan as sealing sees it. The first call reads the
// progress records of the folders of the adjoining days (a GET each).
func (s *Source) SealView(ctx context.Context) (SealView, error) {
	if _, err := s.Plan(ctx); err != nil {
		return SealView{}, err
	}
	if err := s.loadAround(ctx); err != nil {
		return SealView{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v := SealView{Range: s.cfg.Filter.Range, ListedAt: s.listedAt, Accounts: s.cfg.Filter.Accounts, Regions: s.cfg.Filter.Regions}
	for _, p := range s.plan {
		v.Folders = append(v.Folders, newSealFolder(s, p))
	}
	for _, p := range s.around {
		f := newSealFolder(s, p)
		f.Around = true
		v.Folders = append(v.Folders, f)
	}
	return v, nil
}

// loadAround reads the progress manifests of the adjoining days' folders
// once: complete ones count as durable, the others as never read.
func (s *Source) loadAround(ctx context.Context) error {
	s.mu.Lock()
	var todo []*folderPlan
	for _, p := range s.around {
		if p.manifest == nil && p.status == folderWaiting {
			todo = append(todo, p)
		}
	}
	s.mu.Unlock()
	for _, p := range todo {
		b, err := s.state.Get(ctx, s.stateKey(p.folder, "manifest.json"))
		if errors.Is(err, sink.ErrNotFound) {
			// Never read, or read by a run that stopped before it stored
			// the folder's manifest (a checkpoint may say how far it got)
			// unless it holds no flow log file at all (a backfill writes
			// no manifest for such a folder): it then holds nothing.
			l := &lister{client: s.client, bucket: s.cfg.Bucket, retry: s.retry}
			objs, err := l.objects(ctx, p.folder.Prefix)
			if err != nil {
				return fmt.Errorf("list %s: %w", p.folder.Prefix, err)
			}
			st := folderComplete
			for _, o := range objs {
				if flowLogObject(o.Key) {
					st = folderRunning
					break
				}
			}
			s.setStatus(p, nil, st)
			continue
		}
		if err != nil {
			return fmt.Errorf("read progress of %s: %w", p.folder.Prefix, err)
		}
		m := &manifest{}
		if err := json.Unmarshal(b, m); err != nil {
			return fmt.Errorf("decode progress of %s: %w", p.folder.Prefix, err)
		}
		st := folderRunning
		if m.Done == len(m.Objects) && len(m.Objects) > 0 {
			st = folderComplete
		}
		s.setStatus(p, m, st)
	}
	return nil
}

// setStatus records a folder's progress for sealing.
func (s *Source) setStatus(p *folderPlan, m *manifest, st folderStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m != nil {
		p.manifest = m
		p.sealed = m.Sealed
	}
	p.status = st
}

// MarkSealed records in a complete folder's progress manifest that every
// hour it wrote into is sealed, so that sealing skips it from now on.
func (s *Source) MarkSealed(ctx context.Context, topic string) error {
	s.mu.Lock()
	if s.byTopic == nil {
		s.byTopic = make(map[string]*folderPlan, len(s.plan)+len(s.around))
		for _, q := range append(s.plan[:len(s.plan):len(s.plan)], s.around...) {
			s.byTopic[s.topic(q.folder)] = q
		}
	}
	p := s.byTopic[topic]
	if p == nil || p.status != folderComplete || p.manifest == nil || p.sealed {
		s.mu.Unlock()
		return nil
	}
	m := p.manifest
	s.mu.Unlock()
	m.Sealed = true
	if err := s.storeManifest(ctx, p.folder, m); err != nil {
		m.Sealed = false
		return err
	}
	s.mu.Lock()
	p.sealed = true
	s.mu.Unlock()
	return nil
}

// topic is a folder's stream topic (its URL).
func (s *Source) topic(f Folder) string { return "s3://" + s.cfg.Bucket + "/" + f.Prefix }

// LocatePos names the object and line of a position of one of the
// source's streams (files carry them in their metadata).
func (s *Source) LocatePos(topic string, pos schema.Pos) (string, int64) {
	return s.Locate(&schema.DeadLetter{Topic: topic, Offset: pos.Offset, Line: pos.Line})
}
