package pipeline

import (
	"strings"
	"testing"
	"time"

	"flowlake/pipeline/health"
	"flowlake/stages/source/kafka"
)

// TestLagging: a partition's durable position is the group's commit, or
// what this instance knows is durable when it owns the partition; without
// either, where the group would start.
func TestLagging(t *testing.T) {
	type own struct {
		durable, merged int64
		clean           bool
	}
	tests := []struct {
		name  string
		start string
		off   kafka.PartitionOffsets
		own   *own
		lag   int64 // 0: not lagging
	}{
		{"committed to the end", "earliest", kafka.PartitionOffsets{Start: 0, End: 100, Committed: 100}, nil, 0},
		{"committed behind", "earliest", kafka.PartitionOffsets{Start: 0, End: 100, Committed: 40}, nil, 60},
		{"empty, never committed", "earliest", kafka.PartitionOffsets{Start: 0, End: 0, Committed: -1}, nil, 0},
		{"never committed", "earliest", kafka.PartitionOffsets{Start: 10, End: 100, Committed: -1}, nil, 90},
		{"never committed, latest", "latest", kafka.PartitionOffsets{Start: 10, End: 100, Committed: -1}, nil, 0},
		{"retention passed the commit", "earliest", kafka.PartitionOffsets{Start: 50, End: 100, Committed: 20}, nil, 50},
		{"owned, durable ahead of the commit", "earliest", kafka.PartitionOffsets{Start: 0, End: 100, Committed: 40}, &own{100, 100, true}, 0},
		{"owned, open batches", "earliest", kafka.PartitionOffsets{Start: 0, End: 100, Committed: 40}, &own{60, 100, false}, 40},
		{"owned, merged records skipped as durable", "earliest", kafka.PartitionOffsets{Start: 0, End: 100, Committed: 40}, &own{40, 100, true}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Pipeline{owned: newOwnedSet()}
			p.cfg.Source.StartOffset = tt.start
			if tt.own != nil {
				st := p.owned.add(tt.off.Partition, tt.own.durable, tt.own.merged)
				st.clean.Store(tt.own.clean)
			}
			got := p.lagging([]kafka.PartitionOffsets{tt.off})
			switch {
			case tt.lag == 0 && len(got) != 0:
				t.Fatalf("lagging %+v, want none", got)
			case tt.lag != 0 && (len(got) != 1 || got[0].lag != tt.lag):
				t.Fatalf("lagging %+v, want lag %d", got, tt.lag)
			}
		})
	}
}

// TestFlushReadiness: a round running longer than FlushStuckAfter makes the
// instance unready, naming the partition; it is ready again once the round
// ends.
func TestFlushReadiness(t *testing.T) {
	p := &Pipeline{owned: newOwnedSet(), health: NewHealth()}
	p.health.Set(health.Kafka, "")
	p.health.Set(health.Sink, "")
	p.cfg.FlushStuckAfter = time.Minute
	st := p.owned.add(7, 0, 0)
	st.roundStart.Store(time.Now().Add(-30 * time.Second).UnixNano())
	p.checkFlushes()
	if ok, why := p.health.Ready(); !ok {
		t.Fatalf("a 30s round made it unready: %v", why)
	}
	st.roundStart.Store(time.Now().Add(-3 * time.Minute).UnixNano())
	p.checkFlushes()
	if ok, why := p.health.Ready(); ok || len(why) != 1 || !strings.Contains(why[0], "partition 7") {
		t.Fatalf("a 3m round: ready %v %v", ok, why)
	}
	st.roundStart.Store(0)
	p.checkFlushes()
	if ok, why := p.health.Ready(); !ok {
		t.Fatalf("no round running: %v", why)
	}
}
