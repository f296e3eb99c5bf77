package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"flowlake/schema"
	"flowlake/stages/batch"
	"flowlake/stages/checkpoint"
	"flowlake/stages/seal"
	"flowlake/stages/sink"
	"flowlake/stages/source/archive"
	"flowlake/stages/source/kafka"
)

// pruneEvery bounds how often a partition looks for manifests covering
// its hour marks (one GET per sealable mark).
const pruneEvery = 30 * time.Second

// newSealer builds the sealer when cfg.Seal is set.
func (p *Pipeline) newSealer(s sink.Sink, deadLetters bool) error {
	if p.cfg.Seal == nil {
		return nil
	}
	st, ok := s.(sink.Store)
	if !ok {
		return fmt.Errorf("sealing needs a sink that lists and writes conditionally; %s does not", s)
	}
	cfg := p.sealConfig()
	if deadLetters {
		cfg.DeadLetterPrefix = deadLetterPrefix
	}
	sl, err := seal.New(cfg, st, func(ctx context.Context) ([]seal.PartitionState, error) {
		return p.sealStates(ctx)
	}, p.logger.With("stage", "seal"), p.reg)
	if err != nil {
		return err
	}
	p.useSealer(sl, st)
	return nil
}

// useSealer makes sl the pipeline's sealer: it counts its read buffers in
// the memory budget for the whole run, like idle writers, and lets it judge
// the files another writer (a backfill, or `run`) put into its hours by
// that writer's progress records in st.
func (p *Pipeline) useSealer(sl *seal.Sealer, st sink.Store) {
	sl.SetForeign(foreignStates(st))
	p.sealer = sl
	p.mem.addEncoding(sl.BufferBytes())
}

// sealConfig is cfg.Seal with read buffers sized from the memory budget:
// the hours sealed at once hash files through a 32nd of it together,
// between 64 KiB and 8 MiB each (on S3, one ranged GET per read).
func (p *Pipeline) sealConfig() seal.Config {
	cfg := *p.cfg.Seal
	if cfg.ReadBuffer <= 0 {
		conc := int64(cmp.Or(cfg.Concurrency, seal.Defaults.Concurrency))
		cfg.ReadBuffer = int(min(max(p.mem.limit/32/conc, 64<<10), 8<<20))
	}
	return cfg
}

// deadLetterPrefix is where dead letters go when no --dlq is given.
const deadLetterPrefix = "_dead_letters"

// sealStates reads every partition's checkpoint, then the partitions' end
// offsets (in that order, so a partition is never taken for caught up with
// records its checkpoint does not cover).
func (p *Pipeline) sealStates(ctx context.Context) ([]seal.PartitionState, error) {
	if p.kafka == nil {
		return nil, errors.New("sealing needs the Kafka source")
	}
	ids, err := p.kafka.Partitions(ctx)
	if err != nil {
		return nil, err
	}
	sort.Ints(ids)
	topic := p.cfg.Source.Topic
	states := make([]seal.PartitionState, 0, len(ids))
	for _, id := range ids {
		prog, found, err := checkpoint.Load(ctx, p.sink, kafka.CheckpointKey(p.cfg.Source.Group, topic, id), topic, id)
		if err != nil {
			return nil, err
		}
		states = append(states, streamState(topic, id, prog, found))
	}
	offs, err := p.kafka.Offsets(ctx)
	if err != nil {
		return nil, err
	}
	ends := make(map[int]kafka.PartitionOffsets, len(offs))
	for _, o := range offs {
		ends[o.Partition] = o
	}
	for i := range states {
		o, ok := ends[states[i].Partition]
		if !ok {
			return nil, errors.New("a partition vanished from the topic")
		}
		states[i].First, states[i].End = o.Start, o.End
	}
	return states, nil
}

// streamState is what sealing needs from a stream's checkpoint (a Kafka
// partition's or an archive folder's); First and End are left to the
// caller.
func streamState(topic string, partition int, prog *checkpoint.Progress, found bool) seal.PartitionState {
	st := seal.PartitionState{Topic: topic, Partition: partition, Found: found, Next: prog.Next, Watermark: prog.Watermark,
		Hours: prog.HourMarks(), DurablePast: map[schema.PartitionKey]int64{}}
	for k, pos := range prog.DurablePast() {
		pk := schema.PartitionKey{Account: k.Account, Region: k.Region, Hour: k.Hour}
		st.DurablePast[pk] = max(st.DurablePast[pk], pos.Offset)
	}
	return st
}

// foreignStates reads the progress records of another writer's stream
// whose files share an hour folder with this writer's (seal.ForeignFunc):
// `run` and a backfill both write an hour, or two topics do. Files name
// their stream in flowlake.topic: a backfill's the archive folder's URL,
// whose checkpoint is under _flowlake/backfill/; `run`'s the Kafka topic,
// whose partition has a checkpoint per consumer group that read it (all
// of them must cover a file: which group wrote it is not recorded). A
// seal pass lists the groups' checkpoints once, however many partitions
// it asks about (keys begin with the group, so the listing cannot be
// narrowed to a topic).
func foreignStates(store sink.Store) seal.ForeignReader {
	return func() seal.ForeignFunc {
		var (
			once    sync.Once
			objs    []sink.ObjectInfo
			listErr error
		)
		return func(ctx context.Context, topic string, partition int) ([]seal.PartitionState, error) {
			if key, ok := archive.TopicCheckpointKey(topic); ok {
				prog, found, err := checkpoint.Load(ctx, store, key, topic, partition)
				if err != nil || !found {
					return nil, err
				}
				return []seal.PartitionState{streamState(topic, partition, prog, true)}, nil
			}
			once.Do(func() { objs, listErr = store.List(ctx, kafka.CheckpointPrefix) })
			if listErr != nil {
				return nil, fmt.Errorf("list checkpoints: %w", listErr)
			}
			var states []seal.PartitionState
			for _, o := range objs {
				if _, t, p, ok := kafka.ParseCheckpointKey(o.Key); !ok || t != topic || p != partition {
					continue // another stream's checkpoint, or a segment
				}
				prog, found, err := checkpoint.Load(ctx, store, o.Key, topic, partition)
				if err != nil {
					return nil, err
				}
				if found {
					states = append(states, streamState(topic, partition, prog, true))
				}
			}
			return states, nil
		}
	}
}

// noteSeal records a round in the partition's sealing state before the
// checkpoint is stored: the watermark the round made durable, and the
// hours its files went into. Marks that a manifest covers are dropped.
func (p *Pipeline) noteSeal(ctx context.Context, pt *partition, r *batch.Round) error {
	prog := pt.prog
	prog.Watermark = max(prog.Watermark, r.Watermark)
	if p.sealer == nil {
		return nil
	}
	for _, bt := range r.Batches {
		k := bt.Key.Partition()
		if last, ok := prog.Hours[k]; !ok || bt.Rows.Last.Offset > last {
			prog.Hours[k] = bt.Rows.Last.Offset
		}
	}
	if time.Since(prog.Pruned) < pruneEvery {
		return nil
	}
	prog.Pruned = time.Now()
	lateness := int64(p.cfg.Seal.Lateness / time.Second)
	for k, last := range prog.Hours {
		if k.Hour+3600+lateness > prog.Watermark {
			continue // this partition still holds the hour open
		}
		m, err := seal.LatestOf(ctx, p.sink, k)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			pt.logger.Debug("reading a manifest failed; keeping the hour mark", "err", err)
			continue
		}
		if seal.CoversMark(m, pt.id.Topic, pt.id.Partition, last) {
			delete(prog.Hours, k)
		}
	}
	return nil
}

// finalSeal runs a last seal pass after a clean stop. For Kafka it is
// best effort (the next run seals what it leaves); a backfill's final
// pass is bounded only by a stop, and fails when hours it could seal are
// left unsealed.
func (p *Pipeline) finalSeal(stop context.Context) error {
	if p.sealer == nil {
		return nil
	}
	if p.planner != nil {
		return p.finalBackfillSeal(stop)
	}
	ctx, cancel := context.WithTimeout(context.Background(), finalSealTimeout)
	defer cancel()
	res, err := p.sealer.Pass(ctx)
	if err != nil {
		p.logger.Warn("final seal pass failed; the next run seals these hours", "err", err)
		return nil
	}
	p.logger.Info("final seal pass", "sealed", res.Sealed, "revised", res.Revised, "postponed", res.Postponed, "open", res.Open)
	return nil
}

// SealDone returns what sealing did in this process; ok is false when
// sealing is off.
func (p *Pipeline) SealDone() (d seal.Done, ok bool) {
	if p.sealer == nil {
		return seal.Done{}, false
	}
	return p.sealer.Done(), true
}

// finalSealTimeout bounds the seal pass at exit: it is best effort (the
// next run seals what it leaves) and must not hold up a shutdown.
const finalSealTimeout = 20 * time.Second
