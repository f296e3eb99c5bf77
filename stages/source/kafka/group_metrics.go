package kafka

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// GroupMetrics are the consumer group's: lag of the partitions this
// instance owns, generations joined, partitions assigned and offset
// resets. Label values are bounded (the topic and its partitions).
type GroupMetrics struct {
	topic        string
	lag          *prometheus.GaugeVec
	rebalances   prometheus.Counter
	assigned     prometheus.Gauge
	offsetResets *prometheus.CounterVec
}

// Offset reset reasons (flowlake_offset_resets_total).
const (
	ResetBeforeStart = "before_log_start"
	ResetAfterEnd    = "after_log_end"
)

// NewGroupMetrics registers the group metrics of topic with reg (nil:
// none).
func NewGroupMetrics(reg prometheus.Registerer, topic string) *GroupMetrics {
	m := &GroupMetrics{
		topic: topic,
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "flowlake_source_lag_records",
			Help: "High watermark minus durable position, for the partitions this instance owns (refreshed every lag interval)."}, []string{"topic", "partition"}),
		rebalances: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowlake_source_rebalances_total",
			Help: "Consumer group generations this instance joined (every join or leave in the group is a full rebalance)."}),
		assigned: prometheus.NewGauge(prometheus.GaugeOpts{Name: "flowlake_source_assigned_partitions",
			Help: "Partitions assigned to this instance in the current generation."}),
		offsetResets: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowlake_offset_resets_total",
			Help: "Partitions whose durable position was outside the log (records lost or the topic re-created), by where it was; with --on-offset-reset earliest each one skipped a gap."},
			[]string{"reason"}),
	}
	m.offsetResets.WithLabelValues(ResetBeforeStart)
	m.offsetResets.WithLabelValues(ResetAfterEnd)
	if reg != nil {
		reg.MustRegister(m.lag, m.rebalances, m.assigned, m.offsetResets)
	}
	return m
}

// Joined counts a generation joined with n partitions assigned.
func (m *GroupMetrics) Joined(n int) {
	m.rebalances.Inc()
	m.assigned.Set(float64(n))
}

// Left records that the instance holds no partition (its generation
// ended).
func (m *GroupMetrics) Left() { m.assigned.Set(0) }

// SetLag sets an owned partition's lag.
func (m *GroupMetrics) SetLag(partition int, lag int64) {
	m.lag.WithLabelValues(m.topic, strconv.Itoa(partition)).Set(float64(lag))
}

// DeleteLag drops the lag of a partition this instance no longer owns.
func (m *GroupMetrics) DeleteLag(partition int) {
	m.lag.DeleteLabelValues(m.topic, strconv.Itoa(partition))
}

// OffsetReset counts a partition whose position was outside its log, and
// returns the reason it was counted under.
func (m *GroupMetrics) OffsetReset(e *OffsetResetError) string {
	reason := ResetBeforeStart
	if e.PastEnd() {
		reason = ResetAfterEnd
	}
	m.offsetResets.WithLabelValues(reason).Inc()
	return reason
}
