package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"flowlake/schema"
	"flowlake/stages/backoff"
	"flowlake/stages/checkpoint"
	"flowlake/stages/seal"
	"flowlake/stages/sink"
	"flowlake/stages/source/archive"
)

// A backfill seals hours from its plan (stages/seal, Plan): an hour is
// sealed once every object of the archive that may hold its records (those
// named in its delivery window) is durable by its folder's progress record,
// and the window lies inside what the backfill covers: its --since/--until
// days, widened by a day on either side when every folder of that day was
// made durable by an earlier backfill, and never past the listing time
// less the lateness (AWS may still be delivering). Hours outside that
// (the edges of the range) are left open and logged; a backfill of the
// adjoining days seals them.

// SealBackfill makes the pipeline seal as a backfill of src does, when
// sealing is on.
func (p *Pipeline) SealBackfill(src *archive.Source, deadLetters bool) error {
	p.output.Locate = src.LocatePos
	if p.cfg.Seal == nil {
		return nil
	}
	st, ok := p.sink.(sink.Store)
	if !ok {
		return fmt.Errorf("sealing needs a sink that lists and writes conditionally; %s does not", p.sink)
	}
	cfg := p.sealConfig()
	if deadLetters {
		cfg.DeadLetterPrefix = deadLetterPrefix
		cfg.DeadLetterAttribution = "the delivery time in the archive object's name, in the hour; all accounts (a dead letter has no trusted account)"
	}
	pl := &backfillPlanner{src: src, sink: p.sink, lateness: int64(cfg.Lateness / time.Second),
		logger: p.logger.With("stage", "seal"), marks: map[string][]seal.HourMark{}, around: map[string]seal.PartitionState{}, sealedBefore: map[schema.PartitionKey]bool{}}
	sl, err := seal.NewPlanned(cfg, st, pl, pl.logger, p.reg)
	if err != nil {
		return err
	}
	p.useSealer(sl, st)
	p.planner = pl
	return nil
}

// backfillPlanner decides seals from the archive source's plan
// (seal.Planner).
type backfillPlanner struct {
	src      *archive.Source
	sink     sink.Sink
	lateness int64
	logger   *slog.Logger

	mu sync.Mutex
	// marks are the hour marks of complete folders' final checkpoints,
	// by topic (read once).
	marks map[string][]seal.HourMark
	// around are the states of incomplete folders of the adjoining days,
	// by topic (read once: this run does not write them).
	around map[string]seal.PartitionState
	// sealedBefore caches whether an hour the plan cannot seal (an edge,
	// an account not selected) has a manifest already: its late files are
	// then listed by a new revision.
	sealedBefore map[schema.PartitionKey]bool
	// final makes Passed log the hours left open.
	final bool
}

// Decide implements seal.Planner: the folders' states (checkpoints read
// before the plan's pending objects are computed from them) and the rule.
func (b *backfillPlanner) Decide(ctx context.Context, now time.Time) (seal.Decision, error) {
	v, err := b.src.SealView(ctx)
	if err != nil {
		return seal.Decision{}, err
	}
	states := make([]seal.PartitionState, 0, len(v.Folders))
	var pending []seal.Span
	for i := range v.Folders {
		f := &v.Folders[i]
		st := seal.PartitionState{Topic: f.Topic, End: archive.Offset(f.Objects, 0), First: 0}
		switch {
		case f.Complete:
			st.Found, st.Next = true, st.End
			if !f.Sealed {
				hours, err := b.finalMarks(ctx, f)
				if err != nil {
					return seal.Decision{}, err
				}
				st.Hours = hours
			}
		case f.Started && f.Around:
			// Not read by this run: its checkpoint does not change.
			if err := b.aroundState(ctx, f, &st); err != nil {
				return seal.Decision{}, err
			}
		case f.Started:
			if err := b.load(ctx, f, &st); err != nil {
				return seal.Decision{}, err
			}
		}
		if from, to, ok := f.Pending(st.Next, st.Found); ok && !f.Around {
			pending = append(pending, seal.Span{From: from, To: to})
		}
		states = append(states, st)
	}
	lo, hi := coverage(v, b.lateness)
	plan := seal.NewPlan(b.lateness, lo, hi, pending)
	if len(v.Accounts) > 0 || len(v.Regions) > 0 {
		plan.Selected = func(account, region string) bool {
			return (len(v.Accounts) == 0 || slices.Contains(v.Accounts, account)) && (len(v.Regions) == 0 || slices.Contains(v.Regions, region))
		}
	}
	if err := b.checkSealedBefore(ctx, plan, states); err != nil {
		return seal.Decision{}, err
	}
	b.mu.Lock()
	before := maps.Clone(b.sealedBefore)
	b.mu.Unlock()
	d := seal.Decision{Lateness: b.lateness, States: states}
	d.Ready = func(k schema.PartitionKey) (bool, string) {
		ok, why := plan.Ready(k)
		if !ok && why != seal.WhyPending && before[k] {
			return true, "" // sealed before: list its late files
		}
		return ok, why
	}
	byDay := map[int64][]int{}
	for i := range v.Folders {
		day := v.Folders[i].Day.Unix()
		byDay[day] = append(byDay[day], i)
	}
	d.Mark = func(k schema.PartitionKey) *seal.Watermark { return mark(v, byDay, plan, states, k) }
	return d, nil
}

// load reads a running (or earlier-run) folder's checkpoint into st.
func (b *backfillPlanner) load(ctx context.Context, f *archive.SealFolder, st *seal.PartitionState) error {
	prog, found, err := checkpoint.Load(ctx, b.sink, f.CheckpointKey, f.Topic, 0)
	if err != nil {
		return err
	}
	first, end := st.First, st.End
	*st = streamState(f.Topic, 0, prog, found)
	st.First, st.End = first, end
	return nil
}

// aroundState reads, once, the checkpoint of a folder of an adjoining day
// that an earlier run left incomplete (or never read).
func (b *backfillPlanner) aroundState(ctx context.Context, f *archive.SealFolder, st *seal.PartitionState) error {
	b.mu.Lock()
	cached, ok := b.around[f.Topic]
	b.mu.Unlock()
	if ok {
		*st = cached
		return nil
	}
	if err := b.load(ctx, f, st); err != nil {
		return err
	}
	b.mu.Lock()
	b.around[f.Topic] = *st
	b.mu.Unlock()
	return nil
}

// finalMarks returns the hour marks of a complete folder's last checkpoint
// (read once: nothing writes it any more).
func (b *backfillPlanner) finalMarks(ctx context.Context, f *archive.SealFolder) ([]seal.HourMark, error) {
	b.mu.Lock()
	hours, ok := b.marks[f.Topic]
	b.mu.Unlock()
	if ok {
		return hours, nil
	}
	var st seal.PartitionState
	if err := b.load(ctx, f, &st); err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.marks[f.Topic] = st.Hours
	b.mu.Unlock()
	return st.Hours, nil
}

// checkSealedBefore looks up, once per hour, whether a marked hour that
// the plan cannot seal for lack of coverage already has a manifest.
func (b *backfillPlanner) checkSealedBefore(ctx context.Context, plan *seal.Plan, states []seal.PartitionState) error {
	for i := range states {
		for _, m := range states[i].Hours {
			k := m.Key()
			ok, why := plan.Ready(k)
			if ok || why == seal.WhyPending {
				continue
			}
			b.mu.Lock()
			_, known := b.sealedBefore[k]
			b.mu.Unlock()
			if known {
				continue
			}
			man, err := seal.LatestOf(ctx, b.sink, k)
			if err != nil {
				return err
			}
			b.mu.Lock()
			b.sealedBefore[k] = man != nil
			b.mu.Unlock()
		}
	}
	return nil
}

// coverage returns the object times [lo, hi) the backfill holds whole.
func coverage(v archive.SealView, lateness int64) (lo, hi int64) {
	lo, hi = math.MinInt64, math.MaxInt64
	complete := func(day time.Time) bool {
		for _, f := range v.Folders {
			if f.Around && f.Day.Equal(day) && !f.Complete {
				return false
			}
		}
		return true
	}
	if s := v.Range.Since; !s.IsZero() {
		lo = s.Unix()
		if prev := s.AddDate(0, 0, -1); complete(prev) {
			lo = prev.Unix()
		}
	}
	if u := v.Range.Until; !u.IsZero() {
		hi = u.Unix()
		if complete(u) {
			hi = u.AddDate(0, 0, 1).Unix()
		}
	}
	// Objects AWS had not delivered when the archive was listed are not
	// in the plan.
	return lo, min(hi, v.ListedAt.Unix()-lateness)
}

// deliveryRule is the rule in words, for manifests.
const deliveryRule = "the records of an hour are in the objects named (by delivery time) from the hour's start to its end plus the lateness; every such object of the selected archive was durable"

// mark describes a backfill seal for hour k's manifest.
// byDay indexes v's folders by day (Unix seconds of its midnight).
func mark(v archive.SealView, byDay map[int64][]int, plan *seal.Plan, states []seal.PartitionState, k schema.PartitionKey) *seal.Watermark {
	w := plan.Window(k.Hour)
	rfc := func(t int64) string { return time.Unix(t, 0).UTC().Format(time.RFC3339) }
	d := &seal.Delivery{Rule: deliveryRule, WindowStart: rfc(w.From), WindowEnd: rfc(w.To)}
	if plan.Lo != math.MinInt64 {
		d.CoveredFrom = rfc(plan.Lo)
	}
	if plan.Hi != math.MaxInt64 {
		d.CoveredUntil = rfc(plan.Hi)
	}
	wm := &seal.Watermark{LatenessSeconds: plan.Lateness, Delivery: d}
	// Objects are filed under their day: look at the window's days and
	// one on either side.
	var idx []int
	for day := w.From/86400*86400 - 86400; day <= w.To+86400; day += 86400 {
		idx = append(idx, byDay[day]...)
	}
	sort.Ints(idx)
	for _, i := range idx {
		f := &v.Folders[i]
		n := f.InWindow(w.From, w.To)
		if n == 0 {
			continue
		}
		d.Objects += n
		st := &states[i]
		pm := seal.PartitionMark{Topic: st.Topic, NextOffset: st.Next, EndOffset: st.End, CaughtUp: f.Complete}
		if st.Watermark > 0 {
			pm.Watermark = rfc(st.Watermark)
		}
		wm.Partitions = append(wm.Partitions, pm)
	}
	return wm
}

// Passed implements seal.Planner: a complete folder whose every marked
// hour is now current is recorded as sealed, so that later passes and
// runs skip its checkpoint.
func (b *backfillPlanner) Passed(ctx context.Context, d seal.Decision, r seal.Result) {
	current := make(map[schema.PartitionKey]bool, len(r.Current))
	for _, k := range r.Current {
		current[k] = true
	}
	for i := range d.States {
		st := &d.States[i]
		if !st.Found || st.Next < st.End || st.End == 0 {
			continue // not complete
		}
		all := true
		for _, m := range st.Hours {
			all = all && current[m.Key()]
		}
		if !all {
			continue
		}
		if err := b.src.MarkSealed(ctx, st.Topic); err != nil {
			b.logger.Debug("recording a folder as sealed failed; the next pass tries again", "folder", st.Topic, "err", err)
			continue
		}
		b.mu.Lock()
		delete(b.marks, st.Topic)
		b.mu.Unlock()
	}
	b.mu.Lock()
	final := b.final
	b.mu.Unlock()
	if final {
		b.logOpen(d)
	}
}

// logOpen logs the hours a finished backfill leaves open, and why.
func (b *backfillPlanner) logOpen(d seal.Decision) {
	_, open := d.Judge()
	for i, o := range open {
		if i == maxOpenLogged {
			b.logger.Info("more hours left open", "count", len(open)-maxOpenLogged)
			break
		}
		b.logger.Info("hour left open", "hour", seal.HourFolder(o.Key), "reason", o.Why, "help", openHelp[o.Why])
	}
}

// maxOpenLogged bounds the hours a backfill names when it ends.
const maxOpenLogged = 20

var openHelp = map[string]string{
	seal.WhyEdge:        "its records may sit in objects outside --since/--until, or not delivered when the archive was listed: a backfill of the adjoining days seals it",
	seal.WhyNotSelected: "its account or region is outside --accounts/--regions: a backfill of it seals it",
	seal.WhyPending:     "objects that may hold its records are not durable: run the same command again",
}

// finalBackfillSeal seals what a finished backfill can, retrying a pass
// that failed; an error means hours were left unsealed that could be.
func (p *Pipeline) finalBackfillSeal(ctx context.Context) error {
	if st := p.planner.src.Stats(); ctx.Err() != nil && st.FoldersDone < st.Folders {
		return nil // stopped mid-run: the next run reads the rest and seals
	}
	p.planner.mu.Lock()
	p.planner.final = true
	p.planner.mu.Unlock()
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		var res seal.Result
		res, err = p.sealer.Pass(ctx)
		if ctx.Err() != nil {
			return fmt.Errorf("sealing stopped: %w; run the same command again to seal", ctx.Err())
		}
		if err == nil {
			p.logger.Info("final seal pass", "sealed", res.Sealed, "revised", res.Revised, "postponed", res.Postponed, "open", res.Open, "open_by", res.OpenBy)
			return nil
		}
		p.logger.Warn("final seal pass failed; retrying", "attempt", attempt, "err", err)
		if serr := backoff.Sleep(ctx, backoff.Delay(attempt, time.Second, 10*time.Second)); serr != nil {
			break
		}
	}
	return fmt.Errorf("seal hours: %w; the lake is complete, run the same command again to seal them", err)
}
