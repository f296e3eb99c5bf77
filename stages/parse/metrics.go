package parse

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what parsed chunks held, once each chunk is merged (in
// offset order, so a chunk dropped by a revoke is not counted): records
// seen, records skipped as already durable, control messages and empty
// records. The atomic totals feed progress lines and summaries.
type Metrics struct {
	records, skipped, control, empty atomic.Int64

	recordsTotal, skippedTotal, controlTotal, emptyTotal prometheus.Counter
}

// NewMetrics registers the parse stage's metrics with reg (nil: none),
// including the gauge of pool's decode buffers.
func NewMetrics(reg prometheus.Registerer, pool *Pool) *Metrics {
	m := &Metrics{
		recordsTotal: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowlake_records_total", Help: "Records read: rows written plus dead letters plus records skipped as already durable."}),
		skippedTotal: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowlake_records_skipped_durable_total", Help: "Re-delivered records skipped because a file written before a restart holds them."}),
		controlTotal: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowlake_cloudwatch_control_messages_total", Help: "CloudWatch Logs control messages skipped."}),
		emptyTotal: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowlake_empty_records_total",
			Help: "Blank lines and empty CloudWatch Logs events: they hold no record and are neither rows nor dead letters."}),
	}
	if reg != nil {
		reg.MustRegister(m.recordsTotal, m.skippedTotal, m.controlTotal, m.emptyTotal,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "flowlake_parse_decode_buffer_bytes",
				Help: "Memory of the parse workers' decode buffers (at most one large buffer per worker, while it decodes)."},
				func() float64 { return float64(pool.DecodeBufferBytes()) }))
	}
	return m
}

// Merged counts a merged chunk's stats.
func (m *Metrics) Merged(s Stats) {
	m.records.Add(s.Records)
	m.skipped.Add(s.Skipped)
	m.control.Add(s.Control)
	m.empty.Add(s.Empty)
	m.recordsTotal.Add(float64(s.Records))
	m.skippedTotal.Add(float64(s.Skipped))
	m.controlTotal.Add(float64(s.Control))
	m.emptyTotal.Add(float64(s.Empty))
}

// Records is the records seen so far: rows plus dead letters plus records
// skipped as already durable.
func (m *Metrics) Records() int64 { return m.records.Load() }

// Skipped is the records skipped as already durable.
func (m *Metrics) Skipped() int64 { return m.skipped.Load() }

// Control is the CloudWatch Logs control messages skipped.
func (m *Metrics) Control() int64 { return m.control.Load() }

// Empty is the blank lines and empty events seen.
func (m *Metrics) Empty() int64 { return m.empty.Load() }
