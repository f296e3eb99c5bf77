package source

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts the messages a source delivered and the pipeline merged
// (whichever source: Kafka messages, archive chunks).
type Metrics struct {
	messages, bytes           atomic.Int64
	messagesTotal, bytesTotal prometheus.Counter
}

// NewMetrics registers the source metrics with reg (nil: none).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		messagesTotal: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowlake_source_messages_total", Help: "Kafka messages read."}),
		bytesTotal:    prometheus.NewCounter(prometheus.CounterOpts{Name: "flowlake_source_bytes_total", Help: "Kafka message bytes read."}),
	}
	if reg != nil {
		reg.MustRegister(m.messagesTotal, m.bytesTotal)
	}
	return m
}

// Read counts messages and their bytes.
func (m *Metrics) Read(messages, bytes int64) {
	m.messages.Add(messages)
	m.bytes.Add(bytes)
	m.messagesTotal.Add(float64(messages))
	m.bytesTotal.Add(float64(bytes))
}

// Messages is the messages counted so far.
func (m *Metrics) Messages() int64 { return m.messages.Load() }

// Bytes is the message bytes counted so far.
func (m *Metrics) Bytes() int64 { return m.bytes.Load() }
