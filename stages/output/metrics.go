package output

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics count what the output made durable: rows, files and their
// bytes, counted once the round holding them is durable (a file rewritten
// after a failed round counts once).
type Metrics struct {
	rows, files, fileBytes                atomic.Int64
	rowsTotal, filesTotal, fileBytesTotal prometheus.Counter
}

// NewMetrics registers the output metrics with reg (nil: none).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		rowsTotal:      prometheus.NewCounter(prometheus.CounterOpts{Name: "flowlake_rows_written_total", Help: "Rows in durable Parquet files."}),
		filesTotal:     prometheus.NewCounter(prometheus.CounterOpts{Name: "flowlake_sink_files_total", Help: "Parquet files written."}),
		fileBytesTotal: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowlake_sink_file_bytes_total", Help: "Bytes of Parquet files written."}),
	}
	if reg != nil {
		reg.MustRegister(m.rowsTotal, m.filesTotal, m.fileBytesTotal)
	}
	return m
}

// Durable counts files holding rows rows and bytes bytes that became
// durable.
func (m *Metrics) Durable(files, rows, bytes int64) {
	m.rows.Add(rows)
	m.files.Add(files)
	m.fileBytes.Add(bytes)
	m.rowsTotal.Add(float64(rows))
	m.filesTotal.Add(float64(files))
	m.fileBytesTotal.Add(float64(bytes))
}

// Rows is the rows in durable files so far.
func (m *Metrics) Rows() int64 { return m.rows.Load() }

// Files is the durable files so far.
func (m *Metrics) Files() int64 { return m.files.Load() }

// FileBytes is the bytes of durable files so far.
func (m *Metrics) FileBytes() int64 { return m.fileBytes.Load() }
