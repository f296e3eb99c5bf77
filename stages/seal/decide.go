package seal

import (
	"math"
	"sort"

	"flowlake/schema"
)

// HourMark is a partition's hour not sealed yet (schema.HourMark): it
// lives in the partition's checkpoint until a manifest covers it.
type HourMark = schema.HourMark

// PartitionState is what sealing needs from a partition's checkpoint.
type PartitionState struct {
	Topic     string
	Partition int
	// Found is false when the partition has no checkpoint yet.
	Found bool
	// Next is the offset below which every record is durable.
	Next int64
	// Watermark is the event time (Unix seconds) the partition's durable
	// records have reached; 0 when unknown.
	Watermark int64
	// DurablePast holds, per hour, the highest offset at or past Next of
	// a file the checkpoint covers (files written before a crash that a
	// replay must not rewrite).
	DurablePast map[schema.PartitionKey]int64
	// Hours are the partition's hour marks.
	Hours []HourMark
	// First and End are the partition's offsets in Kafka.
	First, End int64
}

// CaughtUp reports whether everything in the partition is durable: an idle
// partition in this state does not hold seals back.
func (s *PartitionState) CaughtUp() bool {
	if !s.Found {
		return s.End <= s.First // empty (or emptied by retention)
	}
	return s.Next >= s.End
}

// Covers reports whether the checkpoint covers a file of hour k whose last
// record is at lastOffset: the file is final and a replay will not rewrite
// it.
func (s *PartitionState) Covers(k schema.PartitionKey, lastOffset int64) bool {
	if !s.Found {
		return false
	}
	if lastOffset < s.Next {
		return true
	}
	d, ok := s.DurablePast[k]
	return ok && lastOffset <= d
}

// Decision says which hours may be sealed.
type Decision struct {
	// Frontier: hours whose end plus the lateness is at or before it are
	// sealable. math.MinInt64 when nothing is.
	Frontier int64
	Lateness int64
	States   []PartitionState
	// Ready, when set, decides instead of the frontier which marked hours
	// may be sealed, and says why the others may not (a backfill decides
	// from its plan: see Plan).
	Ready func(k schema.PartitionKey) (bool, string)
	// Mark, when set, describes what allowed hour k's seal, in place of
	// every partition's watermark.
	Mark func(k schema.PartitionKey) *Watermark

	index map[stateKey]int
}

type stateKey struct {
	topic     string
	partition int
}

// indexed returns d with an index of its states (a backfill has one per
// folder, thousands of them).
func (d Decision) indexed() Decision {
	d.index = make(map[stateKey]int, len(d.States))
	for i := range d.States {
		d.index[stateKey{d.States[i].Topic, d.States[i].Partition}] = i
	}
	return d
}

// Decide computes the frontier from every partition's state, the
// lateness (seconds) and the clock (Unix seconds):
//
//   - a partition that is not caught up holds the frontier at its
//     watermark (a partition with no checkpoint and records to read holds
//     everything back);
//   - a caught-up partition does not hold it back;
//   - and the frontier never passes the newest watermark of any partition
//     or the clock, whichever is later, so hours are not sealed before they
//     ended, by record time or by wall time.
func Decide(states []PartitionState, lateness, now int64) Decision {
	d := Decision{Lateness: lateness, States: states}
	low, high := int64(math.MaxInt64), now
	for i := range states {
		s := &states[i]
		high = max(high, s.Watermark)
		if s.CaughtUp() {
			continue
		}
		if !s.Found || s.Watermark == 0 {
			low = math.MinInt64
			continue
		}
		low = min(low, s.Watermark)
	}
	if len(states) == 0 {
		low = math.MinInt64
	}
	d.Frontier = min(low, high)
	return d
}

// Sealable reports whether hour h (its start, Unix seconds) may be sealed.
func (d Decision) Sealable(h int64) bool {
	return d.Frontier != math.MinInt64 && h+3600+d.Lateness <= d.Frontier
}

// Candidates returns the hours some partition marked that may be sealed,
// and how many marked hours may not be sealed yet.
func (d Decision) Candidates() (sealable []schema.PartitionKey, open int) {
	sealable, why := d.candidates()
	for _, n := range why {
		open += n
	}
	return sealable, open
}

// OpenHour is a marked hour a decision leaves open, and why (a
// Decision.Ready reason, or "watermark").
type OpenHour struct {
	Key schema.PartitionKey
	Why string
}

// Judge splits the hours the states mark, each once, into the sealable
// ones and the open ones with why they are open, both in key order.
func (d Decision) Judge() (sealable []schema.PartitionKey, open []OpenHour) {
	seen := map[schema.PartitionKey]bool{}
	for i := range d.States {
		for _, m := range d.States[i].Hours {
			k := m.Key()
			if seen[k] {
				continue
			}
			seen[k] = true
			ok, why := d.Sealable(k.Hour), "watermark"
			if d.Ready != nil {
				ok, why = d.Ready(k)
			}
			if ok {
				sealable = append(sealable, k)
			} else {
				open = append(open, OpenHour{Key: k, Why: why})
			}
		}
	}
	sort.Slice(sealable, func(i, j int) bool { return sealable[i].Less(sealable[j]) })
	sort.Slice(open, func(i, j int) bool { return open[i].Key.Less(open[j].Key) })
	return sealable, open
}

// candidates is Candidates with the open hours counted by why they are
// open.
func (d Decision) candidates() (sealable []schema.PartitionKey, openBy map[string]int) {
	sealable, open := d.Judge()
	openBy = map[string]int{}
	for _, o := range open {
		openBy[o.Why]++
	}
	return sealable, openBy
}

// State returns the state of a partition, or nil.
func (d Decision) State(topic string, partition int) *PartitionState {
	if d.index != nil {
		if i, ok := d.index[stateKey{topic, partition}]; ok {
			return &d.States[i]
		}
		return nil
	}
	for i := range d.States {
		if d.States[i].Partition == partition && d.States[i].Topic == topic {
			return &d.States[i]
		}
	}
	return nil
}
