package pipeline

import (
	"fmt"
	"time"

	"flowlake/stages/batch"
)

// publish updates what the offsets watcher reads about this partition.
func (pt *partition) publish() {
	pt.state.merged.Store(pt.batcher.Next())
	pt.state.clean.Store(pt.inflight == nil && pt.batcher.Empty())
}

// publishOldest recomputes the first-row time of the oldest batch not yet
// durable: open, or in the running round.
func (pt *partition) publishOldest() {
	oldest := pt.batcher.Oldest()
	if !pt.roundOldest.IsZero() && (oldest.IsZero() || pt.roundOldest.Before(oldest)) {
		oldest = pt.roundOldest
	}
	if oldest.IsZero() {
		pt.state.oldest.Store(0)
		return
	}
	pt.state.oldest.Store(oldest.UnixNano())
}

func (pt *partition) roundStarted(r *batch.Round) {
	pt.roundOldest = time.Time{}
	for _, bt := range r.Batches {
		if pt.roundOldest.IsZero() || bt.Created.Before(pt.roundOldest) {
			pt.roundOldest = bt.Created
		}
	}
	pt.state.roundStart.Store(time.Now().UnixNano())
	pt.publishOldest()
}

func (pt *partition) roundDone() {
	pt.roundOldest = time.Time{}
	pt.state.roundStart.Store(0)
	pt.publishOldest()
	pt.publish()
}

// beat tells /healthz the loop is alive.
func (pt *partition) beat() {
	pt.p.health.Beat(pt.loopName(), pt.p.cfg.WedgedAfter)
}

func (pt *partition) loopName() string {
	if pt.loop == "" {
		pt.loop = fmt.Sprintf("partition %d loop", pt.id.Partition)
		if pt.p.kafka == nil {
			pt.loop = "stream " + pt.id.Topic + " loop"
		}
	}
	return pt.loop
}

// release forgets the partition when its assignment ends (revoke or stop):
// its lag series goes, and the idle clock restarts.
func (pt *partition) release() {
	p := pt.p
	p.owned.remove(pt.ownKey, pt.state, func() {
		if p.kafka != nil {
			p.observe.group.DeleteLag(pt.id.Partition)
		}
	})
	p.health.Done(pt.loopName())
	p.lastData.Store(time.Now().UnixNano())
}
