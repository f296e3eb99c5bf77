package pipeline

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"flowlake/schema"
	"flowlake/stages/batch"
)

// metrics are the pipeline's Prometheus metrics and the counters behind its
// progress logs.
type metrics struct {
	records, rows, dead, skipped, control, messages, bytes atomic.Int64
	files, fileBytes, rounds, commits                      atomic.Int64

	recordsTotal   prometheus.Counter
	rowsTotal      prometheus.Counter
	deadTotal      *prometheus.CounterVec
	skippedTotal   prometheus.Counter
	controlTotal   prometheus.Counter
	messagesTotal  prometheus.Counter
	bytesTotal     prometheus.Counter
	filesTotal     prometheus.Counter
	fileBytesTotal prometheus.Counter
	flushesTotal   *prometheus.CounterVec
	commitsTotal   prometheus.Counter
	bufferedBytes  prometheus.GaugeFunc
	openBatches    prometheus.Gauge
	roundSeconds   prometheus.Histogram
	deadByReason   map[schema.Reason]*atomic.Int64
	// Hostile input and environments (hostile.go).
	empty         atomic.Int64
	emptyTotal    prometheus.Counter
	deadSummaries prometheus.Counter
	offsetResets  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, buffered func() int64) *metrics {
	m := &metrics{
		recordsTotal:   prometheus.NewCounter(prometheus.CounterOpts{Name: "flowlake_records_total", Help: "Records read: rows written plus dead letters plus records skipped as already durable."}),
		rowsTotal:      prometheus.NewCounter(prometheus.CounterOpts{Name: "flowlake_rows_written_total", Help: "Rows in durable Parquet files."}),
		deadTotal:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowlake_dead_letters_total", Help: "Rejected records and messages kept as dead letters, by reason (a summary dead letter counts for every record it stands for)."}, []string{"reason"}),
		skippedTotal:   prometheus.NewCounter(prometheus.CounterOpts{Name: "flowlake_records_skipped_durable_total", Help: "Re-delivered records skipped because a file written before a restart holds them."}),
		controlTotal:   prometheus.NewCounter(prometheus.CounterOpts{Name: "flowlake_cloudwatch_control_messages_total", Help: "CloudWatch Logs control messages skipped."}),
		messagesTotal:  prometheus.NewCounter(prometheus.CounterOpts{Name: "flowlake_source_messages_total", Help: "Kafka messages read."}),
		bytesTotal:     prometheus.NewCounter(prometheus.CounterOpts{Name: "flowlake_source_bytes_total", Help: "Kafka message bytes read."}),
		filesTotal:     prometheus.NewCounter(prometheus.CounterOpts{Name: "flowlake_sink_files_total", Help: "Parquet files written."}),
		fileBytesTotal: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowlake_sink_file_bytes_total", Help: "Bytes of Parquet files written."}),
		flushesTotal:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowlake_batch_flushes_total", Help: "Batches flushed, by reason."}, []string{"reason"}),
		commitsTotal:   prometheus.NewCounter(prometheus.CounterOpts{Name: "flowlake_offset_commits_total", Help: "Partition checkpoints committed."}),
		bufferedBytes: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "flowlake_batch_buffered_bytes", Help: "Bytes held by open and flushing batches."},
			func() float64 { return float64(buffered()) }),
		openBatches:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "flowlake_batch_open", Help: "Open batches."}),
		roundSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "flowlake_flush_round_seconds", Help: "Time to make a flush round durable and commit it.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)}),
		deadByReason: make(map[schema.Reason]*atomic.Int64),
	}
	m.registerHostile(reg)
	for _, r := range schema.Reasons {
		m.deadTotal.WithLabelValues(string(r))
		m.deadByReason[r] = new(atomic.Int64)
	}
	for _, r := range []batch.Reason{batch.ReasonRows, batch.ReasonBytes, batch.ReasonAge, batch.ReasonHourOver, batch.ReasonMemory, batch.ReasonStop} {
		m.flushesTotal.WithLabelValues(string(r))
	}
	if reg != nil {
		reg.MustRegister(m.recordsTotal, m.rowsTotal, m.deadTotal, m.skippedTotal, m.controlTotal, m.messagesTotal,
			m.bytesTotal, m.filesTotal, m.fileBytesTotal, m.flushesTotal, m.commitsTotal, m.bufferedBytes, m.openBatches, m.roundSeconds)
	}
	return m
}

func (m *metrics) deadReason(r schema.Reason, n int64) {
	c, ok := m.deadByReason[r]
	if !ok {
		return
	}
	c.Add(n)
	m.deadTotal.WithLabelValues(string(r)).Add(float64(n))
}
