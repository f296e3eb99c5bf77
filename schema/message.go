package schema

import "time"

// The types every stage shares: what a source yields (Message), where a
// row goes (GroupKey), how a key is named across restarts (SkipKey) and a
// record that could not be used (DeadLetter).

// Message is one message of a chunk (a Kafka message, or lines of an
// archive object).
type Message struct {
	Offset int64
	Value  []byte
	Time   time.Time
	// Fault, when set, says why the source could not read this part of
	// its stream (a corrupt gzip object): the message is a dead letter
	// whole, with this detail.
	Fault string
}

// GroupKey is where a row goes: one batch per key and partition.
type GroupKey struct {
	Account string
	Region  string
	Hour    int64
	Layout  *Layout
}

// Partition returns the key's Hive partition.
func (k GroupKey) Partition() PartitionKey {
	return PartitionKey{Account: k.Account, Region: k.Region, Hour: k.Hour}
}

// DeadLetter is a record or message that could not be used, kept with the
// reason and the raw bytes.
type DeadLetter struct {
	Topic     string
	Partition int
	Offset    int64
	// Line is the 1-based line (or CloudWatch event) inside the message; 0
	// when the whole message is rejected.
	Line   int32
	Reason Reason
	Detail string
	Raw    []byte
	Time   time.Time
	// Records is how many rejected records the dead letter stands for:
	// 0 means one. Only a summary (ReasonDeadLetterLimit) stands for more,
	// and ByReason then says why those records were rejected.
	Records  int64
	ByReason map[Reason]int64
}

// DeadLetterOverhead approximates the fixed memory of a kept dead letter.
const DeadLetterOverhead = 160

// Count is the number of rejected records d stands for.
func (d *DeadLetter) Count() int64 { return max(d.Records, 1) }

// Mem approximates the memory d holds, for the memory budget.
func (d *DeadLetter) Mem() int { return DeadLetterOverhead + len(d.Raw) + len(d.Detail) }

// SkipKey names a batch key across restarts: the layout by its stable ID.
type SkipKey struct {
	Account string `json:"account"`
	Region  string `json:"region"`
	Hour    int64  `json:"hour"`
	Layout  uint64 `json:"layout"`
}

// SkipKeyOf returns the restart-stable form of k.
func SkipKeyOf(k GroupKey) SkipKey {
	return SkipKey{Account: k.Account, Region: k.Region, Hour: k.Hour, Layout: k.Layout.ID}
}
