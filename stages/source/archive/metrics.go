package archive

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Register exposes the source's counters as Prometheus metrics
// (flowlake_archive_*) on reg.
func (s *Source) Register(reg prometheus.Registerer) error {
	c := &s.stats
	counter := func(name, help string, v interface{ Load() int64 }) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "flowlake_archive_" + name, Help: help}, func() float64 { return float64(v.Load()) })
	}
	gauge := func(name, help string, v interface{ Load() int64 }) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "flowlake_archive_" + name, Help: help}, func() float64 { return float64(v.Load()) })
	}
	var errs []error
	for _, col := range []prometheus.Collector{
		gauge("planned_objects", "Flow log objects in the selected folders.", &c.plannedObjects),
		gauge("planned_bytes", "Bytes of the flow log objects in the selected folders.", &c.plannedBytes),
		gauge("folders", "Selected day folders.", &c.folders),
		counter("folders_done_total", "Folders complete in the lake (this run or an earlier one).", &c.foldersDone),
		counter("objects_skipped_total", "Objects of folders an earlier run completed.", &c.skippedObjects),
		counter("objects_read_total", "Objects read to their end.", &c.objectsDone),
		counter("bytes_read_total", "Bytes read from S3.", &c.bytes),
		counter("objects_corrupt_total", "Objects that could not be read whole (dead-lettered).", &c.corrupt),
		counter("objects_ignored_total", "Objects in the folders that are no flow log text files.", &c.ignored),
	} {
		errs = append(errs, reg.Register(col))
	}
	return errors.Join(errs...)
}
