package pipeline

import (
	"context"
	"fmt"
	"log/slog"

	"flowlake/stages/checkpoint"
	"flowlake/stages/source/kafka"
)

// offsetReset applies --on-offset-reset to a partition whose position is
// outside its log. Every case is logged and counted; only the earliest
// policy skips, and it starts the partition's durable state afresh at the
// log's first offset (the checkpoint goes down with the next round).
func (p *Pipeline) offsetReset(ctx context.Context, a *kafka.Assignment, logger *slog.Logger, e *kafka.OffsetResetError) (*checkpoint.Progress, error) {
	reason := p.observe.group.OffsetReset(e)
	if p.cfg.OnOffsetReset != kafka.ResetEarliest {
		logger.Error("partition position outside the log; stopping", "checkpoint", e.Offset, "log_start", e.First, "log_end", e.End, "policy", kafka.ResetFail)
		return nil, fmt.Errorf("partition %d: %w", a.Partition, e)
	}
	logger.Error("partition position outside the log; resuming at the log start (--on-offset-reset earliest)",
		"checkpoint", e.Offset, "log_start", e.First, "log_end", e.End, "reason", reason)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return checkpoint.New(e.First), nil
}
