package pipeline

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"flowlake/schema"
	"flowlake/stages/batch"
	"flowlake/stages/parse"
)

// runRound makes a round durable, in this order: every batch's file and the
// dead letters (in parallel), then the partition's checkpoint, then the
// Kafka offset. A crash between any two steps leaves files the checkpoint
// does not cover yet; the replay rewrites them under the same names (see
// README, "Exactly once").
func (p *Pipeline) runRound(ctx context.Context, pt *partition, r *batch.Round) error {
	start := time.Now()
	// The round's rows leave memory when it ends, durable or not (a
	// failed round ends its partition; the records are re-read).
	defer func() {
		p.mem.addBatches(-int64(r.Bytes))
		p.resizePool()
		for _, bt := range r.Batches {
			bt.Rows.Release(p.blocks.Put)
		}
	}()
	files := make(map[parse.SkipKey]schema.Pos, len(r.Batches))
	var (
		mu              sync.Mutex
		rows, fileBytes int64
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.cfg.FlushConcurrency)
	for _, bt := range r.Batches {
		g.Go(func() error {
			n, err := p.output.Write(gctx, pt.id.Topic, pt.id.Partition, bt)
			if err != nil {
				return err
			}
			mu.Lock()
			files[parse.SkipKeyOf(bt.Key)] = bt.Rows.Last
			rows += int64(bt.Rows.Len())
			fileBytes += int64(n)
			mu.Unlock()
			return nil
		})
	}
	if len(r.Dead) > 0 {
		g.Go(func() error { return p.dlq.Write(gctx, r.Dead) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	var dead *schema.Pos
	if n := len(r.Dead); n > 0 {
		dead = &schema.Pos{Offset: r.Dead[n-1].Offset, Line: r.Dead[n-1].Line}
	}
	pt.prog.Advance(r.Commit, files, dead)
	if err := p.noteSeal(ctx, pt, r); err != nil {
		return err
	}
	if err := pt.prog.Store(ctx, p.sink, pt.s.CheckpointKey(), pt.id.Topic, pt.id.Partition); err != nil {
		return err
	}
	pt.state.durable.Store(pt.prog.Next)
	p.observe.durableNow()
	if pt.prog.Next >= 0 {
		if err := pt.s.Commit(pt.prog.Next); err != nil {
			// The checkpoint in the sink is what a restart trusts; a failed
			// Kafka commit (say, after a revoke) only delays lag metrics.
			pt.logger.Debug("kafka offset commit failed", "offset", pt.prog.Next, "err", err)
		}
	}
	if p.sealer != nil {
		p.sealer.Kick()
	}
	m := p.metrics
	m.output.Durable(int64(len(r.Batches)), rows, fileBytes)
	for i := range r.Dead {
		d := &r.Dead[i]
		// Metrics count rejected records by why they were rejected; a
		// summary counts for the records it stands for.
		m.dead.Durable(d)
		// Every dead letter is logged; the process's logger samples them
		// (cmd/flowlake/app.NewLogger) and counts what it suppresses.
		pt.logger.Warn("dead letter", "reason", d.Reason, "offset", d.Offset, "line", d.Line, "records", d.Count(), "detail", d.Detail)
	}
	pt.rows += rows
	pt.files += int64(len(r.Batches))
	m.batch.Flushed(r)
	m.rounds.Add(1)
	m.commitsTotal.Inc()
	m.roundSeconds.Observe(time.Since(start).Seconds())
	pt.logger.Debug("round durable", "files", len(r.Batches), "rows", rows, "bytes", r.Bytes, "dead_letters", len(r.Dead), "next_offset", pt.prog.Next, "took", time.Since(start))
	return nil
}
