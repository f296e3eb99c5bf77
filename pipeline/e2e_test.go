package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"flowlake/internal/testenv"
	"flowlake/pipeline"
	"flowlake/schema"
	"flowlake/stages/batch"
	"flowlake/stages/generate"
	"flowlake/stages/parse"
	"flowlake/stages/sink"
	kafkasource "flowlake/stages/source/kafka"
)

// produceGenerated fills env's topic from the generator and returns every
// record line produced.
func produceGenerated(t *testing.T, env *testenv.KafkaEnv, cfg generate.Config) []string {
	t.Helper()
	g, err := generate.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []kafka.Message
	var lines []string
	for {
		msg, key, _, ok := g.Next(nil)
		if !ok {
			break
		}
		msgs = append(msgs, kafka.Message{Key: bytes.Clone(key), Value: bytes.Clone(msg)})
		for _, l := range strings.Split(strings.TrimRight(string(msg), "\n"), "\n") {
			lines = append(lines, l)
		}
	}
	env.ProduceBalanced(t, msgs)
	return lines
}

func testConfig(env *testenv.KafkaEnv, group string) pipeline.Config {
	return pipeline.Config{
		Source:           kafkasource.Config{Brokers: env.Brokers, Topic: env.Topic, Group: group, SessionTimeout: 10 * time.Second, HeartbeatInterval: time.Second},
		Parse:            parse.Config{Format: schema.DefaultFormat, Region: "us-east-1"},
		Batch:            batch.Config{MaxRows: 4000, MaxBytes: 8 << 20, MaxAge: time.Minute, Grace: time.Minute},
		FlowLogID:        "fl-0123456789abcdef0",
		ExitWhenIdle:     3 * time.Second,
		ProgressInterval: 0,
	}
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

// localSink opens a local-directory sink or fails the test.
func localSink(t testing.TB, dir string) *sink.Local {
	t.Helper()
	out, err := sink.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// runToIdle runs a pipeline until it stops on its own (idle) and returns it.
func runToIdle(t *testing.T, cfg pipeline.Config, deps pipeline.Deps) *pipeline.Pipeline {
	t.Helper()
	p, err := pipeline.New(cfg, deps, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	runDone(t, p)
	return p
}

// runDone runs p until it returns, within 2 minutes, and fails the test on
// an error.
func runDone(t *testing.T, p *pipeline.Pipeline) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := p.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// readLake reads every Parquet file under dir with arrow's reader and
// returns the rows rendered as flow log lines.
func readLake(t *testing.T, dir string, format *schema.Format) (rows []string, files map[string]*testenv.ParquetFile) {
	t.Helper()
	files = testenv.ReadParquetDir(t, dir)
	var cols []string
	for _, id := range format.Fields() {
		cols = append(cols, schema.Fields[id].Column)
	}
	for _, f := range files {
		rows = append(rows, f.RowStrings(cols)...)
	}
	return rows, files
}

// diffMultisets reports rows missing from got and rows got has too often.
func diffMultisets(t *testing.T, want, got []string) {
	t.Helper()
	counts := map[string]int{}
	for _, w := range want {
		counts[w]++
	}
	for _, g := range got {
		counts[g]--
	}
	missing, extra := 0, 0
	for line, c := range counts {
		if c > 0 {
			missing += c
			if missing <= 3 {
				t.Errorf("missing %dx: %s", c, line)
			}
		}
		if c < 0 {
			extra -= c
			if extra <= 3 {
				t.Errorf("duplicated %dx: %s", -c, line)
			}
		}
	}
	if missing > 0 || extra > 0 {
		t.Fatalf("want %d rows, got %d: %d missing, %d extra", len(want), len(got), missing, extra)
	}
}

var keyRE = regexp.MustCompile(`^AWSLogs/aws-account-id=(\d{12})/aws-service=vpcflowlogs/aws-region=([a-z0-9-]+)/year=(\d{4})/month=(\d{2})/day=(\d{2})/hour=(\d{2})/(\d{12})_vpcflowlogs_([a-z0-9-]+)_fl-0123456789abcdef0_(\d{8})T(\d{2})00Z_[0-9a-f]{16}\.log\.parquet$`)

func TestEndToEnd(t *testing.T) {
	env := testenv.Kafka(t, "flows", 4)
	want := produceGenerated(t, env, generate.Config{Records: 60_000, LinesPerMsg: 5, Accounts: 4, Hours: 3, Seed: 7})
	dir := t.TempDir()
	p := runToIdle(t, testConfig(env, "e2e"), pipeline.Deps{Sink: localSink(t, dir)})
	got, files := readLake(t, dir, schema.DefaultFormat)
	diffMultisets(t, want, got)

	st := p.Stats()
	if st.Records != int64(len(want)) || st.Rows != int64(len(want)) || st.DeadLetters != 0 {
		t.Fatalf("stats %+v, want %d records and rows", st, len(want))
	}
	if st.Records != st.Rows+st.DeadLetters+st.Skipped {
		t.Fatalf("invariant broken: %+v", st)
	}
	// Layout, names and Parquet types.
	wantTypes := map[string]string{"version": "INT32", "srcport": "INT32", "dstport": "INT32", "protocol": "INT32",
		"packets": "INT64", "bytes": "INT64", "start": "INT64", "end": "INT64"}
	hours := map[string]bool{}
	for rel, f := range files {
		m := keyRE.FindStringSubmatch(filepath.ToSlash(rel))
		if m == nil {
			t.Fatalf("key %s does not follow the Hive layout", rel)
		}
		if m[1] != m[7] || m[2] != m[8] || m[9] != m[3]+m[4]+m[5] || m[10] != m[6] {
			t.Fatalf("key %s: folder and file name disagree", rel)
		}
		hours[m[3]+m[4]+m[5]+m[6]] = true
		var names []string
		for _, c := range f.Columns {
			names = append(names, c.Name)
			wantPhys := wantTypes[c.Name]
			if wantPhys != "" && c.Logical != "" {
				t.Fatalf("%s: integer column %s has logical type %q; AWS's have none", rel, c.Name, c.Logical)
			}
			if wantPhys == "" {
				wantPhys = "BYTE_ARRAY"
				if c.Logical != "String" {
					t.Fatalf("%s: column %s logical type %q, want String", rel, c.Name, c.Logical)
				}
			}
			if c.Physical != wantPhys || !c.Optional {
				t.Fatalf("%s: column %s is %s optional=%v, want optional %s", rel, c.Name, c.Physical, c.Optional, wantPhys)
			}
		}
		if strings.Join(names, " ") != strings.ReplaceAll(schema.DefaultFormat.Header(), "-", "_") {
			t.Fatalf("%s: columns %v not in format order", rel, names)
		}
		if f.Codec != "ZSTD" || f.DataPageVersion != 1 {
			t.Fatalf("%s: codec %s, data page v%d", rel, f.Codec, f.DataPageVersion)
		}
		if f.KeyValue["flowlake.topic"] != "flows" || f.KeyValue["flowlake.format"] != schema.DefaultFormatText {
			t.Fatalf("%s: metadata %v", rel, f.KeyValue)
		}
	}
	if len(hours) < 3 {
		t.Fatalf("rows landed in %d hours, want at least 3", len(hours))
	}
	// Every offset is committed, in Kafka and in the checkpoints.
	committed, end := env.CommittedOffsets(t, "e2e"), env.EndOffsets(t)
	for part, off := range end {
		if committed[part] != off {
			t.Fatalf("partition %d committed %d, end %d", part, committed[part], off)
		}
	}
}

func TestRestartMidStream(t *testing.T) {
	env := testenv.Kafka(t, "flows", 3)
	want := produceGenerated(t, env, generate.Config{Records: 120_000, LinesPerMsg: 4, Accounts: 3, Hours: 2, Seed: 11})
	dir := t.TempDir()
	out := localSink(t, dir)
	cfg := testConfig(env, "restart")
	cfg.Batch.MaxRows = 2500
	// First run: stopped abruptly, without the final flush.
	p1, err := pipeline.New(cfg, pipeline.Deps{Sink: out}, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p1.Run(context.Background()) }()
	deadline := time.Now().Add(time.Minute)
	for p1.Stats().Rows < int64(len(want))/4 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	// A hard stop with no soft stop before it: rounds in flight are cut
	// short. That is an abandoned flush, never a sink failure, and Run
	// says so.
	p1.Abort()
	if err := <-done; !errors.Is(err, pipeline.ErrIncomplete) {
		t.Fatalf("first run: %v, want ErrIncomplete", err)
	}
	first := p1.Stats().Rows
	if first == 0 || first >= int64(len(want)) {
		t.Fatalf("first run wrote %d of %d rows; the test needs a stop mid-stream", first, len(want))
	}
	// Second run: resumes from the checkpoints and finishes.
	p2 := runToIdle(t, cfg, pipeline.Deps{Sink: out})
	got, _ := readLake(t, dir, schema.DefaultFormat)
	diffMultisets(t, want, got)
	t.Logf("first run wrote %d rows, second %d (%d re-read records skipped as durable)", first, p2.Stats().Rows, p2.Stats().Skipped)

}

// TestBatchRunFlushesOnceCaughtUp checks that a batch run makes what it
// holds durable as soon as it has merged the whole topic, not at the
// partitions' next age check: the age checks here are 30 s apart and the
// idle wait 20 s, so only flushing on catching up makes the rows durable
// within the 10 s the test allows.
func TestBatchRunFlushesOnceCaughtUp(t *testing.T) {
	env := testenv.Kafka(t, "flows", 4)
	want := produceGenerated(t, env, generate.Config{Records: 20_000, LinesPerMsg: 1, Accounts: 2, Hours: 2, Seed: 5})
	dir := t.TempDir()
	cfg := testConfig(env, "caught-up")
	cfg.Batch.MaxRows = 1_000_000 // nothing flushes by size
	cfg.TickInterval = 30 * time.Second
	cfg.ExitWhenIdle = 20 * time.Second
	p, err := pipeline.New(cfg, pipeline.Deps{Sink: localSink(t, dir)}, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- p.Run(ctx) }()
	for p.Stats().Rows < int64(len(want)) && time.Since(start) < 10*time.Second {
		time.Sleep(10 * time.Millisecond)
	}
	took, rows := time.Since(start), p.Stats().Rows
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if took >= 10*time.Second {
		t.Fatalf("%d of %d rows durable after %s: the run waited for its age checks instead of flushing once caught up", rows, len(want), took)
	}
	got, _ := readLake(t, dir, schema.DefaultFormat)
	diffMultisets(t, want, got)
	t.Logf("every row durable %s after the start", took.Round(time.Millisecond))
}

// TestTightMemoryBudget runs with a fetch buffer below partitions x
// --fetch-max-bytes and a memory budget that the batches exceed many times
// over: fetches shrink to fit, batches flush sooner, and every record is
// still written exactly once.
func TestTightMemoryBudget(t *testing.T) {
	env := testenv.Kafka(t, "flows", 8)
	want := produceGenerated(t, env, generate.Config{Records: 30_000, LinesPerMsg: 1, Accounts: 6, Hours: 4, Seed: 11})
	dir := t.TempDir()
	cfg := testConfig(env, "tight")
	cfg.MemoryLimit = 32 << 20
	cfg.FetchBufferBytes = 1 << 20 // 8 partitions x 4 MiB fetches do not fit
	cfg.Source.FetchMaxBytes = 4 << 20
	p := runToIdle(t, cfg, pipeline.Deps{Sink: localSink(t, dir)})
	got, files := readLake(t, dir, schema.DefaultFormat)
	diffMultisets(t, want, got)
	st := p.Stats()
	if st.Records != int64(len(want)) || st.Rows != int64(len(want)) {
		t.Fatalf("stats %+v, want %d records and rows", st, len(want))
	}
	if p.MemoryBudget() > 16<<20 || p.MemoryUsed() != 0 {
		t.Fatalf("budget %d of a 32 MiB limit, %d bytes still counted after the run", p.MemoryBudget(), p.MemoryUsed())
	}
	t.Logf("%d files for %d rows", len(files), len(got))
}
