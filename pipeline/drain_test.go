package pipeline

import (
	"testing"

	"flowlake/stages/source"
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
		off   source.PartitionOffsets
		own   *own
		lag   int64 // 0: not lagging
	}{
		{"committed to the end", "earliest", source.PartitionOffsets{Start: 0, End: 100, Committed: 100}, nil, 0},
		{"committed behind", "earliest", source.PartitionOffsets{Start: 0, End: 100, Committed: 40}, nil, 60},
		{"empty, never committed", "earliest", source.PartitionOffsets{Start: 0, End: 0, Committed: -1}, nil, 0},
		{"never committed", "earliest", source.PartitionOffsets{Start: 10, End: 100, Committed: -1}, nil, 90},
		{"never committed, latest", "latest", source.PartitionOffsets{Start: 10, End: 100, Committed: -1}, nil, 0},
		{"retention passed the commit", "earliest", source.PartitionOffsets{Start: 50, End: 100, Committed: 20}, nil, 50},
		{"owned, durable ahead of the commit", "earliest", source.PartitionOffsets{Start: 0, End: 100, Committed: 40}, &own{100, 100, true}, 0},
		{"owned, open batches", "earliest", source.PartitionOffsets{Start: 0, End: 100, Committed: 40}, &own{60, 100, false}, 40},
		{"owned, merged records skipped as durable", "earliest", source.PartitionOffsets{Start: 0, End: 100, Committed: 40}, &own{40, 100, true}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Pipeline{owned: newOwnedSet()}
			p.cfg.Source.StartOffset = tt.start
			if tt.own != nil {
				st := p.owned.add(tt.off.Partition, tt.own.durable, tt.own.merged)
				st.clean.Store(tt.own.clean)
			}
			got := p.lagging([]source.PartitionOffsets{tt.off})
			switch {
			case tt.lag == 0 && len(got) != 0:
				t.Fatalf("lagging %+v, want none", got)
			case tt.lag != 0 && (len(got) != 1 || got[0].lag != tt.lag):
				t.Fatalf("lagging %+v, want lag %d", got, tt.lag)
			}
		})
	}
}
