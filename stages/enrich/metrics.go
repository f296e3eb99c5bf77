package enrich

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Values of the source label.
const (
	sourceFile = "file"
	sourceEC2  = "ec2"
)

type metrics struct {
	interfaces  prometheus.Gauge
	subnets     prometheus.Gauge
	refreshes   *prometheus.CounterVec
	failures    *prometheus.CounterVec
	lastRefresh prometheus.Gauge
	// lastSuccess and interval let an alert tell a source that stopped
	// answering from one whose data did not change (files that stay the
	// same for a day are healthy).
	lastSuccess *prometheus.GaugeVec
	interval    *prometheus.GaugeVec
}

// newMetrics builds the manager's metrics and registers them on reg, if any.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		interfaces: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flowlake_enrich_inventory_interfaces",
			Help: "Interfaces in the current ENI inventory.",
		}),
		subnets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flowlake_enrich_inventory_subnets",
			Help: "Subnets in the current ENI inventory.",
		}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flowlake_enrich_refreshes_total",
			Help: "Successful inventory loads: one per file load or per EC2 target (region and role) described.",
		}, []string{"source"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flowlake_enrich_refresh_failures_total",
			Help: "Failed inventory loads; the last good inventory stays in use.",
		}, []string{"source"}),
		lastRefresh: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flowlake_enrich_last_refresh_timestamp_seconds",
			Help: "Unix time at which the current inventory was swapped in.",
		}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "flowlake_enrich_last_success_timestamp_seconds",
			Help: "Unix time of the last successful check of a source: files stat'ed and readable (changed or not), or every EC2 target described.",
		}, []string{"source"}),
		interval: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "flowlake_enrich_refresh_interval_seconds",
			Help: "Configured interval between checks of a source (file poll interval, EC2 refresh interval); set only for configured sources.",
		}, []string{"source"}),
	}
	for _, s := range []string{sourceFile, sourceEC2} {
		m.refreshes.WithLabelValues(s)
		m.failures.WithLabelValues(s)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.interfaces, m.subnets, m.refreshes, m.failures, m.lastRefresh, m.lastSuccess, m.interval} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register enrich metrics: %w", err)
		}
	}
	return m, nil
}
