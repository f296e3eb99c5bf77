package pipeline

import (
	"runtime"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"flowlake/stages/encode"
	"flowlake/stages/source/kafka"
)

// observed are the metrics an operator alerts on: freshness, memory
// against its budget and readiness, with the consumer group's (lag,
// membership; defined by the source). Label values are bounded (topic and
// partition of owned partitions, build version).
type observed struct {
	group       *kafka.GroupMetrics
	lastDurable atomic.Int64 // UnixNano of the last durable round (process start before the first)
}

func newObserved(reg prometheus.Registerer, p *Pipeline) *observed {
	o := &observed{group: kafka.NewGroupMetrics(reg, p.cfg.Source.Topic)}
	o.lastDurable.Store(time.Now().UnixNano())
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "flowlake_build_info",
		Help: "Always 1; the labels name the build."}, []string{"version", "goversion"})
	build.WithLabelValues(encode.Version, runtime.Version()).Set(1)
	budget := prometheus.NewGauge(prometheus.GaugeOpts{Name: "flowlake_memory_budget_bytes",
		Help: "The bytes flowlake lets what it holds take: the part of --memory-limit left after the rest of the process."})
	budget.Set(float64(p.MemoryBudget()))
	collectors := []prometheus.Collector{build, budget,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "flowlake_memory_used_bytes",
			Help: "Memory counted against flowlake_memory_budget_bytes."}, func() float64 { return float64(p.memoryUsed()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "flowlake_last_durable_timestamp_seconds",
			Help: "When the last flush round became durable (Unix seconds); the process start time before the first."},
			func() float64 { return float64(o.lastDurable.Load()) / 1e9 }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "flowlake_oldest_open_batch_age_seconds",
			Help: "Age of the oldest batch not yet durable (open or flushing), 0 when none."},
			func() float64 {
				t := p.owned.oldestBatch()
				if t.IsZero() {
					return 0
				}
				return time.Since(t).Seconds()
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "flowlake_ready",
			Help: "1 when /readyz answers 200."},
			func() float64 {
				if ok, _ := p.health.Ready(); ok {
					return 1
				}
				return 0
			}),
	}
	if reg != nil {
		reg.MustRegister(collectors...)
	}
	return o
}

// memoryUsed is what counts against the memory budget: the rows held in
// open and flushing batches.
func (p *Pipeline) memoryUsed() int64 { return p.MemoryUsed() }

// durableNow records that a round became durable.
func (o *observed) durableNow() { o.lastDurable.Store(time.Now().UnixNano()) }
