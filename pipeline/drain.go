package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"flowlake/pipeline/health"
	"flowlake/stages/source/kafka"
)

// ErrNotDrained is returned by a batch run (ExitWhenIdle) when the group did
// not make every partition durable up to its high watermark within
// DrainTimeout. The message names the lagging partitions, their lag and
// owners.
var ErrNotDrained = errors.New("topic not drained")

// outcome is how a run ended, for its last log line and its error.
type outcome struct {
	name   string // drained, not_drained, unreachable, failed, stopped
	detail string
	err    error
}

func outcomeStopped() *outcome { return &outcome{name: "stopped"} }

func outcomeFailed(err error) *outcome {
	name := "failed"
	switch {
	case errors.Is(err, kafka.ErrTopicNotFound):
		name = "topic_not_found"
	case errors.Is(err, kafka.ErrAuth):
		name = "access_refused"
	case errors.Is(err, kafka.ErrUnreachable):
		name = "unreachable"
	case errors.Is(err, ErrNotDrained):
		name = "not_drained"
	}
	return &outcome{name: name, detail: err.Error(), err: err}
}

func (p *Pipeline) batch() bool { return p.cfg.ExitWhenIdle > 0 }

// connect waits for a broker to answer for the topic before joining the
// group. A batch run gives up after the connect timeout, or at once on a
// missing topic or refused credentials; a service retries with backoff
// and reports why it is not ready.
func (p *Pipeline) connect(ctx context.Context) error {
	brokers := strings.Join(p.cfg.Source.Brokers, ",")
	p.health.Setf(health.Kafka, "connecting to brokers %s", brokers)
	timeout := time.Duration(0)
	if p.batch() {
		timeout = p.cfg.Source.ConnectTimeout
	}
	var last string
	var lastAt time.Time
	ids, err := p.kafka.Connect(ctx, timeout, func(err error) {
		reason, key := err.Error(), err.Error()
		if errors.Is(err, kafka.ErrUnreachable) {
			// The dial errors vary from attempt to attempt; log the
			// outage, not each variation.
			reason, key = "no broker answers: "+reason, "unreachable"
		}
		p.health.Set(health.Kafka, reason)
		switch {
		case key == last && time.Since(lastAt) < time.Minute:
			return
		case p.batch() && kafka.Permanent(err):
			return // the run fails with it at once
		case p.batch():
			p.logger.Warn("kafka: no broker answers; retrying until the connect timeout", "brokers", brokers, "connect_timeout", timeout, "err", err)
		case kafka.Permanent(err):
			p.logger.Error("kafka: cannot consume; retrying until an operator fixes it", "err", err)
		default:
			p.logger.Warn("kafka: no broker answers; retrying", "brokers", brokers, "err", err)
		}
		last, lastAt = key, time.Now()
	})
	if err != nil {
		if ctx.Err() == nil {
			p.health.Set(health.Kafka, err.Error())
		}
		return err
	}
	p.health.Setf(health.Kafka, "joining consumer group %s", p.cfg.Source.Group)
	p.logger.Info("kafka: topic found", "topic", p.cfg.Source.Topic, "partitions", len(ids), "brokers", brokers)
	return nil
}

// assignedHook runs on every new generation.
func (p *Pipeline) assignedHook(_ int32, partitions []int) {
	p.lastData.Store(time.Now().UnixNano()) // a rebalance is not idleness
	p.joined.Store(true)
	p.health.Set(health.Kafka, "")
	p.observe.group.Joined(len(partitions))
}

// joinFailedHook runs when the group cannot be joined.
func (p *Pipeline) joinFailedHook(err error) {
	reason := err.Error()
	if errors.Is(err, kafka.ErrUnreachable) {
		reason = "no broker answers: " + reason
	}
	p.health.Setf(health.Kafka, "consumer group %s: %s", p.cfg.Source.Group, reason)
	p.observe.group.Left()
}

// busy reports work in progress: a flush round, fetched chunks not merged
// yet (still parsing, or waiting behind a flush at the memory budget), or a
// fetch waiting for memory (Stalled).
func (p *Pipeline) busy() bool { return p.rounds.Load() > 0 || p.unmerged.Load() > 0 || p.Stalled() }

// watchOffsets polls the brokers for the topic's offsets every LagInterval
// and sets the lag gauges of the partitions this instance owns. In a batch
// run it also decides when the run ends: once nothing was merged for
// ExitWhenIdle and nothing is running (or sooner, once it has merged every
// partition it owns up to its high watermark), it asks every partition to
// flush what it holds, then stops the run (through stop) when every partition
// of the topic is durable up to its high watermark, or when DrainTimeout
// passed since the last record, rebalance or flush without that.
func (p *Pipeline) watchOffsets(ctx context.Context, stop context.CancelFunc) {
	every := p.cfg.LagInterval
	if p.batch() {
		every = min(every, max(p.cfg.ExitWhenIdle/4, 50*time.Millisecond), time.Second)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	defer p.health.Done("offsets")
	var wake <-chan struct{} // only a batch run ends when it has caught up
	if p.batch() {
		wake = p.wake
	}
	var lastPoll time.Time
	caughtAt := int64(0) // lastData when the run was last seen caught up
	sealedAt := int64(0) // lastData when a seal pass was last asked for at once
	for {
		p.health.Beat("offsets", p.cfg.WedgedAfter)
		p.checkFlushes()
		now := time.Now()
		busy := p.busy()
		if busy {
			p.lastBusy.Store(now.UnixNano())
		}
		idle := now.Sub(time.Unix(0, p.lastData.Load()))
		settled := p.batch() && !busy && idle >= p.cfg.ExitWhenIdle
		// A batch run also polls whenever its fetches wait for data, to
		// see whether it has merged everything up to the high watermarks.
		poll := settled || now.Sub(lastPoll) >= p.cfg.LagInterval || (p.batch() && !busy)
		if poll {
			lastPoll = now
			offs, err := p.kafka.Offsets(ctx)
			if err == nil {
				p.setLag(offs)
				if p.batch() && !busy && p.caughtUp(offs) {
					caughtAt = p.lastData.Load()
				}
				// Every partition of the topic durable up to its end makes
				// every hour the watermarks allow sealable at once: seal
				// them now rather than after the sealer's MinGap.
				if p.sealer != nil && !busy && sealedAt != p.lastData.Load() && len(p.lagging(offs)) == 0 {
					sealedAt = p.lastData.Load()
					p.sealer.KickNow()
				}
			} else if ctx.Err() == nil {
				p.logger.Debug("kafka: reading offsets failed", "err", err)
			}
			if p.batch() && ctx.Err() == nil {
				if o := p.judge(ctx, now, settled, offs, err); o != nil {
					p.outcome.Store(o)
					stop()
					return
				}
			}
		}
		if p.batch() {
			// A batch run flushes what it holds once it has merged
			// everything there is (until a new record is merged), rather
			// than only after the idle wait: the data is durable, and its
			// hours sealable, D sooner; the wait confirms nothing more
			// arrives.
			all := idle >= p.cfg.ExitWhenIdle || (caughtAt != 0 && caughtAt == p.lastData.Load())
			if !p.flushAll.Swap(all) && all {
				p.flushNow.Fire() // rather than at each partition's next tick
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
			// A round ended or the last fetched chunk was merged: look
			// again now rather than at the next tick, at most every
			// wakeGap.
			select {
			case <-ctx.Done():
				return
			case <-time.After(wakeGap - time.Since(now)):
			}
		}
	}
}

// wakeGap is the least time between two looks of the offsets watcher that
// events asked for (each polls the brokers).
const wakeGap = 20 * time.Millisecond

// nudge wakes the offsets watcher of a batch run (see wake).
func (p *Pipeline) nudge() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// broadcast wakes every waiter at once, as often as it fires.
type broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

// C is closed at the next Fire.
func (b *broadcast) C() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

// Fire closes the channel C returned, waking its waiters.
func (b *broadcast) Fire() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
}

// caughtUp reports whether this instance owns partitions and has merged
// every one of them up to its high watermark.
func (p *Pipeline) caughtUp(offs []kafka.PartitionOffsets) bool {
	owned := 0
	for _, o := range offs {
		m, ok := p.owned.merged(o.Partition)
		if !ok {
			continue
		}
		owned++
		if max(m, p.position(o)) < o.End {
			return false
		}
	}
	return owned > 0 && p.joined.Load()
}

// judge decides whether a batch run is over: drained, or not drained within
// the bound. It returns nil to keep going.
func (p *Pipeline) judge(ctx context.Context, now time.Time, settled bool, offs []kafka.PartitionOffsets, err error) *outcome {
	var lagging []lagInfo
	if err == nil {
		lagging = p.lagging(offs)
		// A member that leaves mid-join can keep partitions on some
		// brokers (kfake), so a run ends only once it has joined.
		if settled && len(lagging) == 0 && !p.busy() && p.joined.Load() {
			return &outcome{name: "drained", detail: fmt.Sprintf("every partition of %s is durable up to its high watermark (%d partitions)", p.cfg.Source.Topic, len(offs))}
		}
	}
	since := now.Sub(time.Unix(0, max(p.lastData.Load(), p.lastBusy.Load())))
	if since < p.cfg.DrainTimeout {
		return nil
	}
	if err != nil {
		return outcomeFailed(fmt.Errorf("%w: %s not drained within %v: %w", ErrNotDrained, p.cfg.Source.Topic, p.cfg.DrainTimeout, err))
	}
	if len(lagging) == 0 {
		return outcomeFailed(fmt.Errorf("%w: %s: this instance did not join group %s within %v", ErrNotDrained, p.cfg.Source.Topic, p.cfg.Source.Group, p.cfg.DrainTimeout))
	}
	owners, oerr := p.kafka.Owners(ctx)
	var parts []string
	total := int64(0)
	for i, l := range lagging {
		total += l.lag
		if i == maxNamedPartitions {
			parts = append(parts, fmt.Sprintf("and %d more", len(lagging)-i))
		}
		if i >= maxNamedPartitions {
			continue
		}
		who := owners[l.partition]
		switch {
		case p.owned.has(l.partition):
			who = "this instance"
		case who == "" && oerr != nil:
			who = "unknown"
		case who == "":
			who = "no member"
		}
		parts = append(parts, fmt.Sprintf("partition %d lag %d (position %d, high watermark %d, owner %s)", l.partition, l.lag, l.position, l.end, who))
	}
	if oerr != nil {
		parts = append(parts, "owners unknown: "+oerr.Error())
	}
	return outcomeFailed(fmt.Errorf("%w: group %s left %d of %d partitions of %s behind (total lag %d) after %v without progress: %s",
		ErrNotDrained, p.cfg.Source.Group, len(lagging), len(offs), p.cfg.Source.Topic, total, p.cfg.DrainTimeout, strings.Join(parts, "; ")))
}

// maxNamedPartitions caps the lagging partitions a failed batch run names
// in its one error line.
const maxNamedPartitions = 32

type lagInfo struct {
	partition          int
	lag, position, end int64
}

// position is the group's durable position of a partition: its committed
// offset, or what this instance knows is durable when it owns it. Without
// either, an "earliest" group starts at the log start (nothing is lost by
// that) and a "latest" one at the end.
func (p *Pipeline) position(o kafka.PartitionOffsets) int64 {
	pos := o.Committed
	if own, ok := p.owned.position(o.Partition); ok {
		pos = max(pos, own)
	}
	if pos < 0 {
		if p.cfg.Source.StartOffset == "latest" {
			return o.End
		}
		return o.Start
	}
	return pos
}

// lagging returns the partitions whose durable position is below the high
// watermark, in partition order.
func (p *Pipeline) lagging(offs []kafka.PartitionOffsets) []lagInfo {
	var out []lagInfo
	for _, o := range offs {
		pos := max(p.position(o), o.Start)
		if pos < o.End {
			out = append(out, lagInfo{partition: o.Partition, lag: o.End - pos, position: pos, end: o.End})
		}
	}
	slices.SortFunc(out, func(a, b lagInfo) int { return a.partition - b.partition })
	return out
}

// setLag sets the lag gauge of every owned partition.
func (p *Pipeline) setLag(offs []kafka.PartitionOffsets) {
	for _, o := range offs {
		lag := max(o.End-max(p.position(o), o.Start), 0)
		p.owned.ifOwned(o.Partition, func() { p.observe.group.SetLag(o.Partition, lag) })
	}
}

// checkFlushes makes the instance unready while a flush round has been
// running longer than FlushStuckAfter (a sink that keeps failing).
func (p *Pipeline) checkFlushes() {
	part, started := p.owned.oldestRound()
	if !started.IsZero() && time.Since(started) > p.cfg.FlushStuckAfter {
		p.health.Setf(health.Flush, "partition %d: flush round running for %v (the sink keeps failing?)", part, time.Since(started).Round(time.Second))
		return
	}
	p.health.Set(health.Flush, "")
}

// NewHealth returns the health state a pipeline starts with: not ready
// until it has joined the group and the sink was checked.
func NewHealth() *health.Health {
	return health.New(map[string]string{
		health.Kafka: "not connected yet",
		health.Sink:  "not checked yet",
		health.Flush: "",
	})
}
