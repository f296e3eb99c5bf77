package seal

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"flowlake/internal/testenv"
	"flowlake/schema"
	"flowlake/stages/sink"
)

// putFile writes a one-row lake file of stream (topic, 0) into k's folder.
func putFile(t *testing.T, st sink.Store, k schema.PartitionKey, name, topic string, last int64) {
	t.Helper()
	if err := st.Put(context.Background(), HourFolder(k)+"/"+name, testenv.LakeFile(t, topic, 0, last, last, 1)); err != nil {
		t.Fatal(err)
	}
}

// TestForeignFiles checks how a pass judges files of a stream its
// decision has no state for: never final without a ForeignFunc, read once
// per pass however many hours hold its files, and final only when every
// state the ForeignFunc returns covers the file.
func TestForeignFiles(t *testing.T) {
	st, err := sink.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC).Unix()
	keys := []schema.PartitionKey{{Account: "1", Region: "r", Hour: h}, {Account: "1", Region: "r", Hour: h + 3600}}
	own := PartitionState{Topic: "own", Found: true, Next: 100, End: 100}
	for i, k := range keys {
		own.Hours = append(own.Hours, HourMark{Account: k.Account, Region: k.Region, Hour: k.Hour, LastOffset: 10})
		putFile(t, st, k, "own.parquet", "own", 10)
		putFile(t, st, k, "other.parquet", "other", int64(50+i))
	}
	s, err := New(Config{}, st, func(context.Context) ([]PartitionState, error) { return []PartitionState{own}, nil }, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	pass := func(what string, sealed, postponed int) {
		t.Helper()
		res, err := s.Pass(context.Background())
		if err != nil || res.Sealed != sealed || res.Postponed != postponed {
			t.Fatalf("%s: %+v %v, want %d sealed and %d postponed", what, res, err, sealed, postponed)
		}
	}
	pass("no ForeignFunc", 0, 2)

	var calls atomic.Int32
	var states []PartitionState
	s.SetForeign(func() ForeignFunc {
		return func(_ context.Context, topic string, partition int) ([]PartitionState, error) {
			calls.Add(1)
			if topic != "other" || partition != 0 {
				t.Errorf("asked for %s/%d", topic, partition)
			}
			return states, nil
		}
	})
	pass("no record", 0, 2)
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d reads of the other stream's records in a pass, want 1", n)
	}
	states = []PartitionState{{Topic: "other", Found: true, Next: 100}, {Topic: "other", Found: true, Next: 51}}
	pass("a record short of the second hour's file", 1, 1)
	states[1].Next = 52
	pass("every record past the files", 1, 0)
	for _, k := range keys {
		m, err := LatestOf(context.Background(), st, k)
		if err != nil || m == nil || m.Revision != 1 || len(m.Files) != 2 || len(m.Sources) != 2 {
			t.Fatalf("%s: %+v %v", HourFolder(k), m, err)
		}
	}
}
