package pipeline

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"flowlake/stages/source"
)

// offsetReset applies --on-offset-reset to a partition whose position is
// outside its log. Every case is logged and counted; only the earliest
// policy skips, and it starts the partition's durable state afresh at the
// log's first offset (the checkpoint goes down with the next round).
func (p *Pipeline) offsetReset(ctx context.Context, a *source.Assignment, logger *slog.Logger, e *source.OffsetResetError) (*progress, error) {
	reason := resetBeforeStart
	if e.PastEnd() {
		reason = resetAfterEnd
	}
	p.metrics.offsetResets.WithLabelValues(reason).Inc()
	if p.cfg.OnOffsetReset != source.ResetEarliest {
		logger.Error("partition position outside the log; stopping", "checkpoint", e.Offset, "log_start", e.First, "log_end", e.End, "policy", source.ResetFail)
		return nil, fmt.Errorf("partition %d: %w", a.Partition, e)
	}
	logger.Error("partition position outside the log; resuming at the log start (--on-offset-reset earliest)",
		"checkpoint", e.Offset, "log_start", e.First, "log_end", e.End, "reason", reason)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return newProgress(e.First), nil
}

// Offset reset reasons (flowlake_offset_resets_total).
const (
	resetBeforeStart = "before_log_start"
	resetAfterEnd    = "after_log_end"
)

// registerHostile creates the metrics of hostile input and environments:
// empty records, dead-letter summaries and offset resets.
func (m *metrics) registerHostile(reg prometheus.Registerer) {
	m.emptyTotal = prometheus.NewCounter(prometheus.CounterOpts{Name: "flowlake_empty_records_total",
		Help: "Blank lines and empty CloudWatch Logs events: they hold no record and are neither rows nor dead letters."})
	m.deadSummaries = prometheus.NewCounter(prometheus.CounterOpts{Name: "flowlake_dead_letter_summaries_total",
		Help: "Summary dead letters: messages that yielded more rejected records than are kept one by one."})
	m.offsetResets = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowlake_offset_resets_total",
		Help: "Partitions whose durable position was outside the log (records lost or the topic re-created), by where it was; with --on-offset-reset earliest each one skipped a gap."},
		[]string{"reason"})
	m.offsetResets.WithLabelValues(resetBeforeStart)
	m.offsetResets.WithLabelValues(resetAfterEnd)
	if reg != nil {
		reg.MustRegister(m.emptyTotal, m.deadSummaries, m.offsetResets)
	}
}

// registerDecodeGauge exports the parse workers' decode buffers (gunzip and
// base64), which the memory budget counts.
func (p *Pipeline) registerDecodeGauge(reg prometheus.Registerer) {
	if reg == nil {
		return
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "flowlake_parse_decode_buffer_bytes",
		Help: "Memory of the parse workers' decode buffers (at most one large buffer per worker, while it decodes)."},
		func() float64 { return float64(p.pool.DecodeBufferBytes()) }))
}
