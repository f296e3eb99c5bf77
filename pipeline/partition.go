package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"flowlake/stages/batch"
	"flowlake/stages/checkpoint"
	"flowlake/stages/parse"
	"flowlake/stages/source"
	"flowlake/stages/source/kafka"
)

// partition runs one assigned partition: a fetch goroutine feeds chunks to
// the shared parse pool and, in order, to this loop, which merges them into
// batches and runs flush rounds one at a time.
type partition struct {
	p  *Pipeline
	s  source.Stream
	id source.StreamID
	// fetchErr is why the fetch loop ended, set before it closes its
	// channel: io.EOF at the end of a finite stream, an
	// *kafka.OffsetResetError, or ctx's error.
	fetchErr error
	// ownKey names the stream in the owned set: the Kafka partition, or
	// a number of the run for streams of other sources.
	ownKey  int
	logger  *slog.Logger
	batcher *batch.Batcher
	prog    *checkpoint.Progress
	skip    *parse.Skip
	// skipUntil is the highest offset skip can match; later chunks skip
	// nothing and are not checked.
	skipUntil int64

	inflight chan error // result of the running round, nil when none
	// roundCtx is what rounds run under; cancelRounds ends it at the stop
	// deadline (see stop).
	roundCtx     context.Context
	cancelRounds context.CancelFunc
	want         bool // a round is due but another one is running
	more         bool // the running round left due batches for the next
	open         int  // open batches last reported to the gauge
	// rows and files count what this assignment wrote (for its stop log);
	// only the goroutine running rounds touches them.
	rows, files int64
	// state is what the loop publishes for the offsets watcher and the
	// metrics; roundOldest is the first-row time of the running round's
	// oldest batch.
	state       *partState
	roundOldest time.Time
	loop        string // name of the loop for /healthz
}

// syncOpen reports the change in open batches to the gauge.
func (pt *partition) syncOpen() {
	n := pt.batcher.Open()
	pt.p.metrics.batch.AddOpen(n - pt.open)
	if n != pt.open {
		pt.open = n
		pt.publishOldest()
	}
	pt.publish()
}

func (p *Pipeline) handle(ctx context.Context, s source.Stream) error {
	id := s.ID()
	logger := p.logger.With("topic", id.Topic, "partition", id.Partition)
	prog, found, err := checkpoint.Load(ctx, p.sink, s.CheckpointKey(), id.Topic, id.Partition)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	committed := s.Resume()
	start := committed
	if found && prog.Next > start {
		start = prog.Next
	}
	if start >= 0 && prog.Next < start {
		prog.Next = start
	}
	// Waiting to join the group is not idleness: count from the assignment.
	p.lastData.Store(time.Now().UnixNano())
	p.assignedParts.Add(1)
	defer p.assignedParts.Add(-1)
	logger.Info("partition started", "committed", committed, "checkpoint", prog.Next, "resume", start, "durable_keys", prog.Durable())
	if found && prog.Next >= 0 && prog.Next > committed {
		// A crash between a checkpoint and its Kafka commit leaves the
		// commit behind; bring it up to the checkpoint now, or it stays
		// behind (and lag alerts fire) until the partition gets records.
		if err := s.Commit(prog.Next); err != nil {
			logger.Debug("kafka offset commit failed", "offset", prog.Next, "err", err)
		}
	}
	for {
		err := p.newPartition(s, id, logger, prog, start).run(ctx, start)
		var reset *kafka.OffsetResetError
		if !errors.As(err, &reset) || ctx.Err() != nil {
			return err
		}
		a, ok := s.(*kafka.Assignment)
		if !ok {
			return err
		}
		if prog, err = p.offsetReset(ctx, a, logger, reset); err != nil {
			return err
		}
		start = prog.Next
	}
}

func (p *Pipeline) newPartition(s source.Stream, id source.StreamID, logger *slog.Logger, prog *checkpoint.Progress, start int64) *partition {
	pt := &partition{p: p, s: s, id: id, logger: logger, batcher: batch.New(p.cfg.Batch, start), prog: prog, skip: prog.Skip()}
	pt.batcher.NewBlock = p.blocks.Get
	pt.ownKey = id.Partition
	if p.kafka == nil {
		pt.ownKey = int(p.streams.Add(1)) // streams of other sources share partition 0
	}
	pt.state = p.owned.add(pt.ownKey, prog.Next, start) // run releases it
	pt.roundCtx, pt.cancelRounds = context.WithCancel(p.hardCtx)
	if pt.skip != nil {
		pt.skipUntil = pt.skip.Dead.Offset
		for _, pos := range pt.skip.Groups {
			pt.skipUntil = max(pt.skipUntil, pos.Offset)
		}
	}
	return pt
}

func (pt *partition) run(ctx context.Context, start int64) error {
	defer pt.release()
	defer pt.cancelRounds()
	p := pt.p
	fetchCtx, stopFetch := context.WithCancel(ctx)
	pending := make(chan *fetched, p.cfg.PendingChunks)
	go pt.fetchLoop(fetchCtx, start, pending) // closes pending when it returns
	defer func() {
		stopFetch()
		// Drain so the fetch goroutine can exit, and release the budget of
		// chunks nobody will merge.
		for f := range pending {
			p.mem.addFetched(-f.reserved)
			p.unmerged.Add(-1)
		}
	}()
	tick := time.NewTicker(p.cfg.TickInterval)
	defer tick.Stop()

	for {
		pt.beat()
		in := pending
		if pt.want && pt.inflight != nil {
			in = nil // backpressure: wait for the running round first
		}
		select {
		case <-ctx.Done():
			return pt.stop(ctx)
		case f, ok := <-in:
			if !ok {
				// The fetch loop ends with ctx, at the end of a finite
				// stream, when the position is outside the log (Kafka) or
				// when the stream fails: what is held is flushed first (it
				// is good data), then the caller applies the policy.
				err := pt.stop(ctx)
				var reset *kafka.OffsetResetError
				if errors.As(pt.fetchErr, &reset) && err == nil {
					return reset
				}
				if err != nil {
					return err
				}
				if ferr := pt.fetchErr; ferr != nil && !errors.Is(ferr, io.EOF) && ctx.Err() == nil {
					return fmt.Errorf("read %s: %w", pt.id.Topic, ferr)
				}
				return nil
			}
			if err := f.chunk.Wait(ctx); err != nil {
				p.mem.addFetched(-f.reserved)
				p.unmerged.Add(-1)
				return pt.stop(ctx)
			}
			pt.merge(f)
			if pt.batcher.Size() > 0 && p.overBudget() {
				// Over the memory budget: flush now, and read no more
				// while a round is still running (want pauses reading).
				pt.want = true
			}
			if pt.want {
				pt.maybeRound(time.Now(), false)
			}
		case <-tick.C:
			pt.maybeRound(time.Now(), false)
		case <-p.flushNow.C():
			pt.maybeRound(time.Now(), false)
		case err := <-pt.inflight:
			pt.inflight = nil
			pt.roundDone()
			if err != nil && p.hardCtx.Err() != nil {
				// Aborted before ctx ended: the round was cut short by
				// the hard stop, not failed.
				return pt.abandoned(ctx, err)
			}
			if err != nil {
				return pt.fail(ctx, err)
			}
			if pt.more {
				pt.want = true // due batches were left for the next round
			}
			if pt.want || p.flushAll.Load() {
				pt.maybeRound(time.Now(), false)
			}
		}
	}
}

// merge adds a parsed chunk to the batches.
func (pt *partition) merge(f *fetched) {
	p := pt.p
	c := f.chunk
	before := pt.batcher.Size()
	parsed := int64(0)
	for _, g := range c.Groups {
		parsed += int64(g.Block.Mem())
	}
	p.learnParse(c.Stats.Bytes+c.Stats.Messages*messageOverhead, parsed)
	full := pt.batcher.Add(c, f.last, time.Now())
	grown := int64(pt.batcher.Size() - before)
	p.mem.addBatches(grown)
	p.resizePool()
	p.pool.Release(c)
	f.msgs.release()
	p.mem.addFetched(-f.reserved)
	if p.unmerged.Add(-1) == 0 {
		p.nudge() // nothing left to merge: the run may have caught up
	}
	p.lastData.Store(time.Now().UnixNano()) // the idle clock counts from the last merge
	p.metrics.merged(c.Stats)
	pt.syncOpen()
	if full {
		pt.want = true
	}
}

// maybeRound starts a flush round if one is due and none is running.
func (pt *partition) maybeRound(now time.Time, stop bool) {
	if pt.inflight != nil {
		return
	}
	r := pt.batcher.Due(now, pt.p.overBudget(), stop || pt.p.flushAll.Load())
	pt.want = false
	if r == nil {
		pt.syncOpen()
		return
	}
	pt.more = r.More
	done := make(chan error, 1)
	pt.inflight = done
	pt.roundStarted(r)
	pt.syncOpen()
	// Rounds survive the end of the generation (a revoke or a soft stop
	// waits for them) but not the stop deadline nor a hard stop.
	pt.p.rounds.Add(1)
	go func() {
		err := pt.p.runRound(pt.roundCtx, pt, r)
		pt.p.rounds.Add(-1)
		pt.p.nudge() // the run may now be durable up to its end
		done <- err
	}()
}

// stop ends the partition after a revoke or a soft stop: it waits for the
// running round, flushes every open batch in a last round and commits.
//
// Once the generation has ended this member no longer heartbeats, so after
// the session timeout the coordinator may give the partition to another
// member, which resumes from the last checkpoint. Anything this member
// wrote after that would race the new owner, so all of the work here, the
// running round included, is cancelled at the stop deadline, which stays
// well inside the session timeout. Abandoned records are re-read by the
// next owner.
func (pt *partition) stop(ctx context.Context) error {
	p := pt.p
	deadline := time.AfterFunc(p.stopTimeout(), pt.cancelRounds)
	defer deadline.Stop()
	defer pt.cancelRounds()
	if pt.inflight != nil {
		err := <-pt.inflight
		pt.inflight = nil
		pt.roundDone()
		if err != nil {
			return pt.abandoned(ctx, err)
		}
	}
	// The final flush runs in bounded rounds (batch.Config.MaxRoundBatches),
	// each durable and checkpointed: the deadline cuts at most one round
	// short, and a restart resumes after the last one.
	rounds := 0
	for {
		r := pt.batcher.Due(time.Now(), false, true)
		pt.syncOpen()
		if r == nil && pt.batcher.Next() > pt.prog.Next {
			// Nothing to write, but records were read since the last
			// round (skipped as durable, or control messages): record
			// how far.
			r = &batch.Round{Commit: pt.batcher.Next()}
		}
		if r == nil {
			break
		}
		pt.roundStarted(r)
		err := p.runRound(pt.roundCtx, pt, r)
		pt.roundDone()
		if err != nil {
			if rounds > 0 {
				pt.logger.Warn("final flush cut short", "rounds_done", rounds, "batches_left", pt.batcher.Open()+len(r.Batches))
			}
			return pt.abandoned(ctx, err)
		}
		rounds++
	}
	pt.logger.Info("partition stopped", "next_offset", pt.prog.Next, "rows_written", pt.rows, "files", pt.files, "final_rounds", rounds)
	return nil
}

// abandoned reports a round that the stop deadline or a hard stop cut
// short (harmless: the records are re-read), or a real failure.
func (pt *partition) abandoned(ctx context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		pt.logger.Warn("flush abandoned at the stop deadline; its records will be re-read from the last checkpoint", "err", err)
		if pt.p.stopping.Load() {
			pt.p.incomplete.Add(1)
		}
		return nil
	}
	return pt.fail(ctx, err)
}

func (pt *partition) fail(ctx context.Context, err error) error {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return nil
	}
	return fmt.Errorf("flush: %w", err)
}
