package batch

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the batching stage's: flushes by reason, open batches and
// the bytes batches hold.
type Metrics struct {
	flushes *prometheus.CounterVec
	open    prometheus.Gauge
}

// NewMetrics registers the batch metrics with reg (nil: none); buffered
// reports the bytes held by open and flushing batches.
func NewMetrics(reg prometheus.Registerer, buffered func() int64) *Metrics {
	m := &Metrics{
		flushes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowlake_batch_flushes_total", Help: "Batches flushed, by reason."}, []string{"reason"}),
		open:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "flowlake_batch_open", Help: "Open batches."}),
	}
	for _, r := range []Reason{ReasonRows, ReasonBytes, ReasonAge, ReasonHourOver, ReasonMemory, ReasonStop} {
		m.flushes.WithLabelValues(string(r))
	}
	if reg != nil {
		reg.MustRegister(m.flushes, m.open, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "flowlake_batch_buffered_bytes", Help: "Bytes held by open and flushing batches."},
			func() float64 { return float64(buffered()) }))
	}
	return m
}

// Flushed counts the batches of a durable round by their flush reason.
func (m *Metrics) Flushed(r *Round) {
	for _, bt := range r.Batches {
		m.flushes.WithLabelValues(string(bt.Reason)).Inc()
	}
}

// AddOpen adds delta to the open batches.
func (m *Metrics) AddOpen(delta int) { m.open.Add(float64(delta)) }
