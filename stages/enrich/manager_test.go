package enrich

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// value reads a single-series counter or gauge.
func value(c prometheus.Collector) float64 {
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		panic(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

// gather returns every series in reg as name{labels} -> value.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += fmt.Sprintf("{%s=%q}", l.GetName(), l.GetValue())
			}
			out[key] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return out
}

// syncBuffer is a log sink that tests can read while the manager writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// writeENIFile writes a describe-network-interfaces file with one interface
// per "id subnet" pair and gives it a distinct modification time, since
// real file clocks can be coarser than a test's steps.
func writeENIFile(t *testing.T, path string, mtime time.Time, pairs ...string) {
	t.Helper()
	var elems []string
	for _, p := range pairs {
		f := strings.Fields(p)
		elems = append(elems, fmt.Sprintf(`{"NetworkInterfaceId": %q, "SubnetId": %q, "AvailabilityZone": "us-east-1a"}`, f[0], f[1]))
	}
	writeFile(t, path, mtime, `{"NetworkInterfaces": [`+strings.Join(elems, ",")+`]}`)
}

func writeFile(t *testing.T, path string, mtime time.Time, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func subnetOf(t *testing.T, inv *Inventory, id string) string {
	t.Helper()
	it, ok := inv.Interface([]byte(id))
	if !ok {
		return ""
	}
	return it.SubnetID()
}

func TestManagerReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		a := filepath.Join(dir, "a.json")
		writeENIFile(t, a, base, "eni-0a1b2c3d4e5f60718 subnet-old")

		var logs syncBuffer
		reg := prometheus.NewRegistry()
		m, err := NewManager(Config{InterfaceFiles: []string{dir}, PollInterval: time.Second}, slog.New(slog.NewTextHandler(&logs, nil)), reg)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Load(t.Context()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- m.Run(ctx) }()
		refreshes := m.metrics.refreshes.WithLabelValues(sourceFile)
		failures := m.metrics.failures.WithLabelValues(sourceFile)

		first := m.Current()
		step := func() {
			time.Sleep(1500 * time.Millisecond)
			synctest.Wait()
		}

		// Nothing changed: no reload, however many polls.
		step()
		step()
		if m.Current() != first || value(refreshes) != 1 {
			t.Fatalf("reloaded unchanged files (refreshes %v)", value(refreshes))
		}
		// Unchanged files are a successful check: not stale.
		lastSuccess := m.metrics.lastSuccess.WithLabelValues(sourceFile)
		successAge := func() time.Duration {
			return time.Since(time.Unix(0, int64(value(lastSuccess)*1e9)))
		}
		if a := successAge(); a > time.Second {
			t.Errorf("unchanged files: last success %s ago", a)
		}
		if value(m.metrics.interval.WithLabelValues(sourceFile)) != 1 {
			t.Error("poll interval gauge not set")
		}

		// A new file with a new interface, and an interface that moved.
		writeENIFile(t, a, base.Add(time.Second), "eni-0a1b2c3d4e5f60718 subnet-new")
		writeENIFile(t, filepath.Join(dir, "b.json"), base, "eni-0000000000000000b subnet-b")
		step()
		second := m.Current()
		if got := subnetOf(t, second, "eni-0a1b2c3d4e5f60718"); got != "subnet-new" {
			t.Errorf("moved interface: subnet %q, want subnet-new", got)
		}
		if got := subnetOf(t, second, "eni-0000000000000000b"); got != "subnet-b" {
			t.Errorf("new interface: subnet %q, want subnet-b", got)
		}
		if got := subnetOf(t, first, "eni-0a1b2c3d4e5f60718"); got != "subnet-old" {
			t.Errorf("the old inventory changed: subnet %q", got)
		}
		if value(refreshes) != 2 {
			t.Errorf("refreshes = %v, want 2", value(refreshes))
		}
		if value(m.metrics.interfaces) != 2 {
			t.Errorf("interfaces gauge = %v, want 2", value(m.metrics.interfaces))
		}

		// A bad file: the last good inventory stays, the failure is counted
		// and logged with the file's name, once.
		bad := filepath.Join(dir, "c.json")
		writeFile(t, bad, base, `{"NetworkInterfaces": [{"NetworkInterfaceId": "eni-0c"}, {"SubnetId": "subnet-c"}]}`)
		step()
		step()
		if m.Current() != second {
			t.Error("a bad file replaced the inventory")
		}
		if value(failures) != 1 {
			t.Errorf("failures = %v, want 1", value(failures))
		}
		if a := successAge(); a < 2*time.Second {
			t.Errorf("a broken file still counts as a success (%s ago)", a)
		}
		if l := logs.String(); !strings.Contains(l, bad) || !strings.Contains(l, "network interface 1") || !strings.Contains(l, "level=ERROR") {
			t.Errorf("log does not name the bad file and element:\n%s", l)
		}

		// Fixed: picked up on the next poll.
		writeENIFile(t, bad, base.Add(time.Second), "eni-0c subnet-c")
		step()
		if got := subnetOf(t, m.Current(), "eni-0c"); got != "subnet-c" {
			t.Errorf("after fixing the file: subnet %q, want subnet-c", got)
		}
		if a := successAge(); a > time.Second {
			t.Errorf("fixed file: last success %s ago", a)
		}
		if value(refreshes) != 3 || value(failures) != 1 {
			t.Errorf("refreshes = %v, failures = %v; want 3, 1", value(refreshes), value(failures))
		}

		// A vanished file is a failure too; its return is a change.
		if err := os.Rename(dir, dir+".moved"); err != nil {
			t.Fatal(err)
		}
		step()
		if value(failures) != 2 || m.Current().Len() != 3 {
			t.Errorf("missing directory: failures = %v, Len() = %d; want 2, 3", value(failures), m.Current().Len())
		}
		if err := os.Rename(dir+".moved", dir); err != nil {
			t.Fatal(err)
		}
		step()
		if value(refreshes) != 4 {
			t.Errorf("refreshes = %v, want 4", value(refreshes))
		}

		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v", err)
		}
		if value(m.metrics.lastRefresh) == 0 {
			t.Error("last refresh timestamp not set")
		}
	})
}

func TestManagerLoadFailsOnBadFile(t *testing.T) {
	var logs syncBuffer
	m, err := NewManager(Config{InterfaceFiles: []string{"testdata/interfaces", "testdata/bad/missing-id.json"}}, slog.New(slog.NewTextHandler(&logs, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = m.Load(t.Context())
	if err == nil || !strings.Contains(err.Error(), "testdata/bad/missing-id.json") {
		t.Fatalf("Load error = %v, want one naming the file", err)
	}
	if m.Current() == nil || m.Current().Len() != 0 {
		t.Errorf("Current() after a failed Load: %v", m.Current())
	}
	if got := value(m.metrics.failures.WithLabelValues(sourceFile)); got != 1 {
		t.Errorf("failures = %v, want 1", got)
	}
}

func TestManagerLoadTestdata(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewManager(Config{InterfaceFiles: []string{"testdata/interfaces"}, SubnetFiles: []string{"testdata/subnets"}, TagKeys: testTagKeys}, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if m.Current().Len() != 6 || m.Current().Subnets() != 5 {
		t.Errorf("Len() = %d, Subnets() = %d; want 6, 5", m.Current().Len(), m.Current().Subnets())
	}
	want := map[string]float64{
		"flowlake_enrich_inventory_interfaces":                    6,
		"flowlake_enrich_inventory_subnets":                       5,
		`flowlake_enrich_refreshes_total{source="file"}`:          1,
		`flowlake_enrich_refreshes_total{source="ec2"}`:           0,
		`flowlake_enrich_refresh_failures_total{source="file"}`:   0,
		`flowlake_enrich_refresh_failures_total{source="ec2"}`:    0,
		`flowlake_enrich_refresh_interval_seconds{source="file"}`: 10,
	}
	got := gather(t, reg)
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if ts := got["flowlake_enrich_last_refresh_timestamp_seconds"]; ts < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("last refresh timestamp = %v, want about now", ts)
	}
	if ts := got[`flowlake_enrich_last_success_timestamp_seconds{source="file"}`]; ts < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("last success timestamp = %v, want about now", ts)
	}
	if len(got) != len(want)+2 {
		t.Errorf("registered series: %v", got)
	}
}

func TestManagerConcurrentReaders(t *testing.T) {
	// Readers never block or see a torn inventory while reloads swap.
	dir := t.TempDir()
	path := filepath.Join(dir, "eni.json")
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	writeENIFile(t, path, base, "eni-01 subnet-0")
	m, err := NewManager(Config{InterfaceFiles: []string{path}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			id := []byte("eni-01")
			for {
				select {
				case <-stop:
					return
				default:
				}
				it, ok := m.Current().Interface(id)
				if !ok || !strings.HasPrefix(it.SubnetID(), "subnet-") {
					t.Errorf("reader saw %+v, %v", fields(it), ok)
					return
				}
			}
		})
	}
	for i := 1; i <= 20; i++ {
		writeENIFile(t, path, base.Add(time.Duration(i)*time.Second), fmt.Sprintf("eni-01 subnet-%d", i))
		m.pollFiles(t.Context())
		if got := subnetOf(t, m.Current(), "eni-01"); got != fmt.Sprintf("subnet-%d", i) {
			t.Fatalf("after reload %d: subnet %q", i, got)
		}
	}
	close(stop)
	wg.Wait()
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"no source", Config{}, "no inventory source"},
		{"roles without regions", Config{InterfaceFiles: []string{"x"}, RoleARNs: []string{"arn:aws:iam::1:role/r"}}, "need at least one region"},
		{"negative refresh", Config{Regions: []string{"us-east-1"}, RefreshInterval: -time.Second}, "negative refresh interval"},
		{"negative poll", Config{InterfaceFiles: []string{"x"}, PollInterval: -time.Second}, "negative poll interval"},
		{"too many EC2 targets", Config{Regions: make([]string, 300), RoleARNs: make([]string, 300)}, "90000 EC2 targets"},
		{"files only", Config{InterfaceFiles: []string{"x"}}, ""},
		{"subnets only", Config{SubnetFiles: []string{"x"}}, ""},
		{"regions only", Config{Regions: []string{"us-east-1"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewManager(tt.cfg, nil, nil)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if m.cfg.PollInterval != DefaultPollInterval || m.cfg.RefreshInterval != DefaultRefreshInterval {
					t.Errorf("defaults not applied: %+v", m.cfg)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestMetricsRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := NewManager(Config{InterfaceFiles: []string{"x"}}, nil, reg); err != nil {
		t.Fatal(err)
	}
	if _, err := NewManager(Config{InterfaceFiles: []string{"x"}}, nil, reg); err == nil {
		t.Error("registering twice on one registry: no error")
	}
}
