package pipeline_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"flowlake/internal/testenv"
	"flowlake/internal/testenv/sealcheck"
	"flowlake/pipeline"
	"flowlake/stages/generate"
	"flowlake/stages/seal"
)

// TestSealHours streams four hours over four partitions to two instances
// of one group, then late records for the first hour: every account-hour
// is sealed exactly once (one revision 1, one winner across instances),
// each manifest agrees with an independent read of its folder, and the
// late rows make later revisions listing only the new files.
func TestSealHours(t *testing.T) {
	env := testenv.Kafka(t, "flows", 4)
	start := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	produceGenerated(t, env, generate.Config{Records: 24_000, LinesPerMsg: 4, Accounts: 3, Regions: []string{"us-east-1"}, Hours: 4, Start: start, Seed: 11})
	// Records of the hour in progress: it has not ended, by record time
	// or by the clock, so it must stay open.
	now := time.Now().UTC().Truncate(time.Hour)
	produceGenerated(t, env, generate.Config{Records: 1_000, LinesPerMsg: 4, Accounts: 3, Regions: []string{"us-east-1"}, Hours: 1, Start: now, Seed: 11})
	current := now.Format("year=2006/month=01/day=02/hour=15")
	dir := t.TempDir()
	cfg := testConfig(env, "seal")
	cfg.Seal = &seal.Config{Lateness: 15 * time.Minute, Interval: time.Second, MinGap: 200 * time.Millisecond}

	regs := []*prometheus.Registry{prometheus.NewRegistry(), prometheus.NewRegistry()}
	var wg sync.WaitGroup
	for _, reg := range regs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := pipeline.New(cfg, pipeline.Deps{Sink: localSink(t, dir)}, testLogger(t), reg)
			if err != nil {
				t.Error(err)
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := p.Run(ctx); err != nil {
				t.Errorf("Run: %v", err)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	folders := checkManifests(t, dir, 1, current)
	if open, _ := filepath.Glob(filepath.Join(dir, "AWSLogs", "*", "*", "*", current)); len(open) != 3 {
		t.Fatalf("%d folders of the hour in progress, want 3", len(open))
	}
	if len(folders) != 3*4 {
		t.Fatalf("%d sealed account-hours, want 12", len(folders))
	}
	if n := metricSum(t, regs, "flowlake_sealed_hours_total"); n != 12 {
		t.Fatalf("instances sealed %v hours between them, want 12 (each exactly once)", n)
	}

	// Late records for the first hour, after it was sealed.
	late := produceGenerated(t, env, generate.Config{Records: 600, LinesPerMsg: 3, Accounts: 3, Regions: []string{"us-east-1"}, Hours: 1, Start: start, Seed: 11})
	reg := prometheus.NewRegistry()
	p, err := pipeline.New(cfg, pipeline.Deps{Sink: localSink(t, dir)}, testLogger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	runDone(t, p)
	revised := 0
	var lateRows int64
	for folder, m := range checkManifests(t, dir, 0, current) {
		if !strings.HasSuffix(folder, "hour=10") {
			if m.Revision != 1 {
				t.Fatalf("%s: revision %d, want 1 (no late records there)", folder, m.Revision)
			}
			continue
		}
		// The late files come in the rounds of four partitions: a pass
		// between two of them makes a revision of its own.
		if m.Revision < 2 || len(m.Added) == 0 || m.Previous == nil || m.Previous.Revision != m.Revision-1 {
			t.Fatalf("%s: revision %d adding %v, want revision 2 or more adding the late files", folder, m.Revision, m.Added)
		}
		for _, f := range m.Files {
			if (f.Revision == m.Revision) != contains(m.Added, f.Name) {
				t.Fatalf("%s: file %s revision %d, added %v", folder, f.Name, f.Revision, m.Added)
			}
			if f.Revision >= 2 {
				lateRows += f.Rows
			}
		}
		revised++
	}
	if revised != 3 || lateRows != int64(len(late)) {
		t.Fatalf("%d hours revised with %d late rows, want 3 with %d", revised, lateRows, len(late))
	}
	if n := metricSum(t, []*prometheus.Registry{reg}, "flowlake_late_records_total"); n != float64(len(late)) {
		t.Fatalf("flowlake_late_records_total %v, want %d", n, len(late))
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// checkManifests checks every hour folder under dir against its latest
// manifest (sealcheck.Lake: names, sizes, SHA-256, rows read with arrow),
// and that every file carries its Kafka partition and every manifest the
// watermarks of the topic's 4 partitions. It returns the manifests by
// folder. wantRev > 0 also requires that revision. Folders ending in open
// must have no manifest.
func checkManifests(t *testing.T, dir string, wantRev int, open string) map[string]*seal.Manifest {
	t.Helper()
	out := sealcheck.Lake(t, dir, func(folder string) bool { return strings.HasSuffix(folder, open) })
	for key, pf := range testenv.ReadParquetDir(t, dir) {
		if pf.KeyValue["flowlake.partition"] == "" {
			t.Fatalf("%s: no source partition in the file's metadata", key)
		}
	}
	for folder, m := range out {
		if wantRev > 0 && m.Revision != wantRev {
			t.Fatalf("%s: revision %d, want %d", folder, m.Revision, wantRev)
		}
		if len(m.Watermark.Partitions) != 4 {
			t.Fatalf("%s: watermark of %d partitions, want 4", folder, len(m.Watermark.Partitions))
		}
	}
	return out
}

func metricSum(t *testing.T, regs []*prometheus.Registry, name string) float64 {
	t.Helper()
	var sum float64
	for _, reg := range regs {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

var _ = kafka.Message{}

// TestSealBuffersCounted checks that the memory budget counts the read
// buffers the sealer hashes files with, sized from the budget: a 32nd of
// it for the hours sealed at once.
func TestSealBuffersCounted(t *testing.T) {
	env := testenv.Kafka(t, "flows", 1)
	for _, limit := range []int64{256 << 20, 1 << 30} {
		build := func(sealing bool) (used, budget int64) {
			cfg := testConfig(env, "buffers")
			cfg.MemoryLimit = limit
			if sealing {
				cfg.Seal = &seal.Config{Concurrency: 4}
			}
			p, err := pipeline.New(cfg, pipeline.Deps{Sink: localSink(t, t.TempDir())}, testLogger(t), prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			return p.MemoryUsed(), p.MemoryBudget()
		}
		plain, _ := build(false) // the idle writers' bound, counted either way
		sealing, budget := build(true)
		want := 4 * min(max(budget/32/4, 64<<10), 8<<20)
		if sealing-plain != want {
			t.Fatalf("limit %d: sealing adds %d bytes to the counted memory, want %d (4 buffers of a 128th of the %d budget)", limit, sealing-plain, want, budget)
		}
	}
}
