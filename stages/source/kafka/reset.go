package kafka

import "fmt"

// Offset reset policies (--on-offset-reset): what a partition does when its
// durable position is outside the partition's log.
const (
	// ResetFail stops the partition, and flowlake, with an OffsetResetError.
	ResetFail = "fail"
	// ResetEarliest resumes at the log's first offset, logged and counted:
	// the records between are gone.
	ResetEarliest = "earliest"
)

// OffsetResetError says a partition's position is outside its log: records
// were deleted by retention before they were read (Offset < First), or the
// log is shorter than what was already consumed (Offset > End), after
// broker data loss or when the topic was deleted and re-created. Reading
// on from anywhere would skip records silently, so the fetcher returns
// this instead.
type OffsetResetError struct {
	Topic     string
	Partition int
	// Offset is the position the partition wanted to read (its checkpoint).
	Offset int64
	// First is the log's first offset, End its end (the next offset).
	First, End int64
}

// PastEnd reports whether the position is beyond the log's end.
func (e *OffsetResetError) PastEnd() bool { return e.Offset > e.End }

func (e *OffsetResetError) Error() string {
	if e.PastEnd() {
		return fmt.Sprintf("topic %s partition %d: checkpoint offset %d is past the log end %d: the broker lost records or the topic was re-created; "+
			"nothing was skipped. Restart with --on-offset-reset earliest to read the partition from offset %d on, or see README (Reprocessing)",
			e.Topic, e.Partition, e.Offset, e.End, e.First)
	}
	return fmt.Sprintf("topic %s partition %d: checkpoint offset %d is before the log start %d (log end %d): records %d to %d were deleted before they were read; "+
		"nothing was skipped. Restart with --on-offset-reset earliest to accept the gap and resume at %d",
		e.Topic, e.Partition, e.Offset, e.First, e.End, e.Offset, e.First-1, e.First)
}
