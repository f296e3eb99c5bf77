package exactlyonce

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"flowlake/internal/testenv"
)

// probe GETs path on the instance's HTTP endpoint.
func (in *instance) probe(path string) (int, string) {
	in.tb.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://" + in.log.metricsAddr() + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestProbesAndMetrics starts a service (no --exit-when-idle) while its
// broker is down: the probes answer at once, /readyz 503 saying why. Once
// the broker is back the instance joins and becomes ready; after it has
// written every record, the lag, freshness, build, memory and membership
// metrics say so.
func TestProbesAndMetrics(t *testing.T) {
	const (
		group   = "probes"
		records = 6000
		parts   = 3
	)
	k := testenv.Kafka(t, testTopic, parts)
	if err := k.Broker.Stop(); err != nil {
		t.Fatal(err)
	}
	cfg := kafkaConfig(t, 6*time.Second, 10*time.Second)
	start := time.Now()
	in := startInstance(t, "service", runArgs(k, group, "file://"+t.TempDir(), cfg, "--batch-max-age", "1s"), childEnv())
	in.waitUntil(30*time.Second, "the HTTP endpoint", func() bool { return in.log.metricsAddr() != "" })
	in.waitUntil(30*time.Second, "/readyz saying no broker answers", func() bool {
		code, body := in.probe("/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "no broker answers") && strings.Contains(body, k.Brokers[0])
	})
	if code, body := in.probe("/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz while the broker is down: %d %s", code, body)
	}
	_, body := in.probe("/readyz")
	t.Logf("broker down: /readyz 503: %s", strings.TrimSpace(body))
	if m, err := scrape(http.DefaultClient, in.log.metricsAddr()); err != nil || m.get("flowlake_ready") != 0 {
		t.Fatalf("flowlake_ready while not ready: %v (%v)", m.get("flowlake_ready"), err)
	}

	if err := k.Broker.Resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	in.waitUntil(90*time.Second, "/readyz 200 after joining", func() bool { code, _ := in.probe("/readyz"); return code == http.StatusOK })
	prod := newProducer(t, k, genConfig(records, 3, 21, 0))
	if _, err := prod.produce(context.Background(), records); err != nil {
		t.Fatal(err)
	}
	ends := k.EndOffsets(t)
	var m metricsSample
	in.waitUntil(60*time.Second, "every row written and the lag at 0 on every partition", func() bool {
		last, _, _ := in.stats()
		if last.get("flowlake_rows_written_total") != records {
			return false
		}
		n := 0
		for p := range parts {
			series := `flowlake_source_lag_records{partition="` + string(rune('0'+p)) + `",topic="` + testTopic + `"}`
			if v, ok := last[series]; ok && v == 0 {
				n++
			}
		}
		m = last
		return n == parts
	})
	checks := []struct {
		what string
		ok   bool
	}{
		{"flowlake_ready 1", m.get("flowlake_ready") == 1},
		{"flowlake_source_assigned_partitions = partitions", m.get("flowlake_source_assigned_partitions") == parts},
		{"flowlake_source_rebalances_total >= 1", m.get("flowlake_source_rebalances_total") >= 1},
		{"flowlake_memory_budget_bytes within half the 256 MiB default --memory-limit", m.get("flowlake_memory_budget_bytes") > 32<<20 && m.get("flowlake_memory_budget_bytes") <= 128<<20},
		{"flowlake_memory_used_bytes at most the fetches in flight with nothing open", m.get("flowlake_memory_used_bytes") <= m.get("flowlake_memory_budget_bytes")/4},
		{"flowlake_oldest_open_batch_age_seconds 0 with nothing open", m.get("flowlake_oldest_open_batch_age_seconds") == 0},
		{"flowlake_last_durable_timestamp_seconds after the start", m.get("flowlake_last_durable_timestamp_seconds") > float64(start.Unix())},
		{"flowlake_build_info", m.sum("flowlake_build_info") == 1},
		{"no double prefix", m.sum("flowlake_dlq_flowlake_sink_s3_puts_total") == 0},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: no", c.what)
		}
	}
	for series, v := range m {
		if strings.HasPrefix(series, "flowlake_build_info{") && (!strings.Contains(series, `goversion="go`) || !strings.Contains(series, `version="`) || v != 1) {
			t.Errorf("build info: %s %v", series, v)
		}
	}
	t.Logf("end offsets %v; lag 0 on every partition, last durable %.0fs after start", ends, m.get("flowlake_last_durable_timestamp_seconds")-float64(start.Unix()))
	in.terminate()
	in.expectCleanExit(time.Minute)
	if !strings.Contains(in.log.tail(3), "outcome=stopped") {
		t.Fatalf("last lines:\n%s", in.log.tail(3))
	}
}
