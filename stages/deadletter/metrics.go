package deadletter

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"flowlake/schema"
)

// Metrics count durable dead letters by the reason their records were
// rejected; a summary dead letter counts for every record it stands for.
type Metrics struct {
	dead      atomic.Int64
	byReason  map[schema.Reason]*atomic.Int64
	total     *prometheus.CounterVec
	summaries prometheus.Counter
}

// NewMetrics registers the dead-letter metrics with reg (nil: none).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		byReason: make(map[schema.Reason]*atomic.Int64, len(schema.Reasons)),
		total:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowlake_dead_letters_total", Help: "Rejected records and messages kept as dead letters, by reason (a summary dead letter counts for every record it stands for)."}, []string{"reason"}),
		summaries: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowlake_dead_letter_summaries_total",
			Help: "Summary dead letters: messages that yielded more rejected records than are kept one by one."}),
	}
	for _, r := range schema.Reasons {
		m.total.WithLabelValues(string(r))
		m.byReason[r] = new(atomic.Int64)
	}
	if reg != nil {
		reg.MustRegister(m.total, m.summaries)
	}
	return m
}

// Durable counts a durable dead letter.
func (m *Metrics) Durable(d *schema.DeadLetter) {
	m.dead.Add(d.Count())
	if len(d.ByReason) > 0 {
		for reason, n := range d.ByReason {
			m.add(reason, n)
		}
	} else {
		m.add(d.Reason, d.Count())
	}
	if d.Records > 0 {
		m.summaries.Inc()
	}
}

func (m *Metrics) add(r schema.Reason, n int64) {
	c, ok := m.byReason[r]
	if !ok {
		return
	}
	c.Add(n)
	m.total.WithLabelValues(string(r)).Add(float64(n))
}

// Records is the rejected records counted so far.
func (m *Metrics) Records() int64 { return m.dead.Load() }

// ByReason returns the rejected records by reason, without zeros.
func (m *Metrics) ByReason() map[string]int64 {
	out := map[string]int64{}
	for r, c := range m.byReason {
		if v := c.Load(); v > 0 {
			out[string(r)] = v
		}
	}
	return out
}
