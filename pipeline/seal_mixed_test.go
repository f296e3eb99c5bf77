package pipeline_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"flowlake/internal/testenv"
	"flowlake/internal/testenv/sealcheck"
	"flowlake/pipeline"
	"flowlake/schema"
	"flowlake/stages/batch"
	"flowlake/stages/parse"
	"flowlake/stages/seal"
	"flowlake/stages/source/archive"
	"flowlake/stages/verify"
)

// TestSealHoursOfRunAndBackfill has `run` (Kafka) and a backfill write the
// same account-hours into one lake, each leaving an hour open by its own
// rule while the other's files are in its folder:
//
//   - 10:00 is written first by `run`, whose lateness keeps it open, then
//     by the backfill of its day, which seals it listing both writers'
//     files (`run`'s are final by their partitions' checkpoints);
//   - 23:00 is written first by the backfill, which leaves it open (its
//     records may sit in the next day's objects, not backfilled), then by
//     `run`, which seals it listing both (the backfill's file is final by
//     its folder's checkpoint), along with late records of 10:00 in a
//     revision.
//
// Every hour ends up sealed with every row listed, and verify passes.
func TestSealHoursOfRunAndBackfill(t *testing.T) {
	day := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	h10, h23 := day.Add(10*time.Hour), day.Add(23*time.Hour)
	s3s := testenv.VersityGW(t)
	s3s.CreateBucket(t, "archive")
	putObject(t, s3s, h10.Add(5*time.Minute), []int64{h10.Unix() + 60, h10.Unix() + 120, h10.Unix() + 180})
	putObject(t, s3s, h23.Add(5*time.Minute), []int64{h23.Unix() + 60, h23.Unix() + 120})
	// The next day is not backfilled: hour 23's records may be there.
	putObject(t, s3s, h23.Add(65*time.Minute), []int64{h23.Unix() + 3660})
	const archiveRows = 5 // in the backfilled day

	env := testenv.Kafka(t, "flows", 2)
	produce := func(from int, starts ...time.Time) int {
		var msgs []kafka.Message
		for i, s := range starts {
			msgs = append(msgs, kafka.Message{Value: []byte(fmt.Sprintf("2 111111111111 eni-0000000000000abcd 10.2.0.%d 10.9.0.1 %d 443 6 10 840 %d %d ACCEPT OK",
				(from+i)%250+1, 30000+from+i, s.Unix(), s.Unix()+60))})
		}
		env.ProduceBalanced(t, msgs)
		return len(msgs)
	}
	dir := t.TempDir()
	out := localSink(t, dir)
	runKafka := func(lateness time.Duration) *pipeline.Pipeline {
		cfg := testConfig(env, "mixed")
		cfg.Seal = &seal.Config{Lateness: lateness, Interval: time.Second, MinGap: 100 * time.Millisecond}
		return runToIdle(t, cfg, pipeline.Deps{Sink: out})
	}
	folder := func(h time.Time) string {
		return seal.HourFolder(schema.PartitionKey{Account: "111111111111", Region: "us-east-1", Hour: h.Unix()})
	}
	latest := func(h time.Time) *seal.Manifest {
		t.Helper()
		m, err := seal.Latest(context.Background(), out, folder(h))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	topics := func(m *seal.Manifest) (kafkaRows, archiveRows int64) {
		for _, f := range m.Files {
			if strings.HasPrefix(f.Source.Topic, "s3://archive/flows/AWSLogs/111111111111/") {
				archiveRows += f.Rows
			} else if f.Source.Topic == "flows" {
				kafkaRows += f.Rows
			}
		}
		return kafkaRows, archiveRows
	}

	// `run` writes 10:00 and, by its lateness, leaves it open.
	kafka10 := produce(0, h10.Add(10*time.Minute), h10.Add(20*time.Minute), h10.Add(30*time.Minute), h10.Add(40*time.Minute))
	p := runKafka(100 * 24 * 365 * time.Hour)
	if done, _ := p.SealDone(); done.Sealed != 0 || latest(h10) != nil {
		t.Fatalf("run sealed %+v before the backfill", done)
	}

	// The backfill of the day writes 10:00 and 23:00; it seals 10:00 with
	// `run`'s files, and leaves 23:00 open as an edge.
	t.Setenv("AWS_ACCESS_KEY_ID", s3s.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3s.SecretKey)
	client, err := archive.NewClient(context.Background(), archive.ClientConfig{Region: testenv.S3Region, Endpoint: s3s.Endpoint, HTTPClient: &http.Client{}})
	if err != nil {
		t.Fatal(err)
	}
	src, err := archive.New(archive.Config{Bucket: "archive", Prefix: "flows",
		Filter: archive.Filter{Range: archive.Range{Since: day, Until: day.AddDate(0, 0, 1)}}}, client, out, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	bp, err := pipeline.New(pipeline.Config{
		Parse:     parse.Config{Format: schema.DefaultFormat, Region: "us-east-1"},
		Batch:     batch.Config{MaxRows: 200, MaxBytes: 8 << 20, MaxAge: time.Minute, Grace: time.Minute},
		FlowLogID: "fl-0123456789abcdef0",
		Seal:      &seal.Config{Lateness: 15 * time.Minute, Interval: time.Second, MinGap: 100 * time.Millisecond},
	}, pipeline.Deps{Sink: out, Source: src}, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bp.SealBackfill(src, true); err != nil {
		t.Fatal(err)
	}
	runDone(t, bp)
	m := latest(h10)
	if m == nil {
		t.Fatalf("10:00 not sealed by the backfill (sealer: %+v)", must(bp.SealDone()))
	}
	if k, a := topics(m); m.Revision != 1 || k != int64(kafka10) || a != 3 {
		t.Fatalf("10:00 revision %d lists %d rows of run and %d of the backfill, want 1 listing %d and 3", m.Revision, k, a, kafka10)
	}
	if latest(h23) != nil {
		t.Fatal("23:00 sealed by the backfill: its next day is not backfilled")
	}

	// `run` writes 23:00 and late records of 10:00: it seals 23:00 with the
	// backfill's file, and lists the late records in a revision.
	kafka23 := produce(100, h23.Add(10*time.Minute), h23.Add(15*time.Minute), h23.Add(20*time.Minute))
	late10 := produce(200, h10.Add(50*time.Minute), h10.Add(55*time.Minute))
	p = runKafka(15 * time.Minute)
	m = latest(h23)
	if m == nil {
		t.Fatalf("23:00 not sealed by run (sealer: %+v)", must(p.SealDone()))
	}
	if k, a := topics(m); m.Revision != 1 || k != int64(kafka23) || a != 2 {
		t.Fatalf("23:00 revision %d lists %d rows of run and %d of the backfill, want 1 listing %d and 2", m.Revision, k, a, kafka23)
	}
	if m = latest(h10); m.Revision < 2 || m.Totals.LateRows != int64(late10) {
		t.Fatalf("10:00 revision %d with %d late rows, want a revision with %d", m.Revision, m.Totals.LateRows, late10)
	}

	manifests := sealcheck.Lake(t, dir, nil)
	var rows int64
	for _, m := range manifests {
		rows += m.Rows
	}
	if want := int64(kafka10 + kafka23 + late10 + archiveRows); len(manifests) != 2 || rows != want {
		t.Fatalf("%d sealed hours listing %d rows, want 2 listing %d", len(manifests), rows, want)
	}
	rep, err := verify.Run(context.Background(), out, verify.Options{})
	if err != nil || !rep.OK || rep.Summary.Hours != 2 || rep.Summary.Unsealed != 0 {
		t.Fatalf("verify: %v %+v %v", err, rep.Summary, rep.Problems)
	}
}

func must[T any](v T, _ bool) T { return v }
