package pipeline

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"flowlake/stages/batch"
	"flowlake/stages/deadletter"
	"flowlake/stages/output"
	"flowlake/stages/parse"
	"flowlake/stages/source"
)

// metrics are the stages' metrics, which the pipeline feeds as rounds
// become durable and chunks merge, and its own: rounds and commits. The
// stages' totals are the counters behind the progress logs and Stats.
type metrics struct {
	source *source.Metrics
	parse  *parse.Metrics
	batch  *batch.Metrics
	output *output.Metrics
	dead   *deadletter.Metrics

	rounds       atomic.Int64
	commitsTotal prometheus.Counter
	roundSeconds prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, pool *parse.Pool, buffered func() int64) *metrics {
	m := &metrics{
		source: source.NewMetrics(reg),
		parse:  parse.NewMetrics(reg, pool),
		batch:  batch.NewMetrics(reg, buffered),
		output: output.NewMetrics(reg),
		dead:   deadletter.NewMetrics(reg),

		commitsTotal: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowlake_offset_commits_total", Help: "Partition checkpoints committed."}),
		roundSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "flowlake_flush_round_seconds", Help: "Time to make a flush round durable and commit it.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)}),
	}
	if reg != nil {
		reg.MustRegister(m.commitsTotal, m.roundSeconds)
	}
	return m
}

// merged counts a merged chunk.
func (m *metrics) merged(s parse.Stats) {
	m.parse.Merged(s)
	m.source.Read(s.Messages, s.Bytes)
}
