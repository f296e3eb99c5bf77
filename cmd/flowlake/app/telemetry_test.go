package app

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"flowlake/stages/sink"
)

// TestSinkMetricNames: the data sink and a separate dead-letter sink both
// expose flowlake_sink_s3_*, told apart by a sink label (once the
// dead-letter sink's came out as flowlake_dlq_flowlake_sink_s3_*).
func TestSinkMetricNames(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := sink.S3Config{Region: "us-east-1", Endpoint: "http://127.0.0.1:1", PathStyle: true}
	for _, name := range []string{"data", "dlq"} {
		if _, err := sink.Open(context.Background(), "s3://bucket/"+name, cfg, nil, sinkRegisterer(reg, name)); err != nil {
			t.Fatal(err)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]map[string]bool{}
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "flowlake_sink_s3_") {
			t.Errorf("unexpected metric %s", f.GetName())
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "sink" {
					if seen[f.GetName()] == nil {
						seen[f.GetName()] = map[string]bool{}
					}
					seen[f.GetName()][l.GetValue()] = true
				}
			}
		}
	}
	if len(seen) == 0 {
		t.Fatal("no flowlake_sink_s3_* metrics")
	}
	for name, sinks := range seen {
		if !sinks["data"] || !sinks["dlq"] {
			t.Errorf("%s has sink labels %v, want data and dlq", name, sinks)
		}
	}
}
