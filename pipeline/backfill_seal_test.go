package pipeline_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"flowlake/internal/testenv"
	"flowlake/internal/testenv/sealcheck"
	"flowlake/pipeline"
	"flowlake/schema"
	lakearchive "flowlake/stages/archive"
	"flowlake/stages/batch"
	"flowlake/stages/deadletter"
	"flowlake/stages/parse"
	"flowlake/stages/seal"
	"flowlake/stages/source/archive"
	"flowlake/stages/verify"
)

// TestBackfillSeals backfills an archive of two accounts, two regions and
// three days in both layouts, bounded by --since/--until, with an hour at
// the end of the range whose records straddle into the next day's first
// object: every other hour is sealed with a manifest that matches its
// files (read with arrow) and names the archive objects, dead letters are
// attributed by object time, verify passes, and the edge hour stays open.
// A backfill of the next day then seals the edge hour with both files,
// and lists a late record of an hour sealed by the first in a revision.
func TestBackfillSeals(t *testing.T) {
	s3s := testenv.VersityGW(t)
	s3s.CreateBucket(t, "archive")
	arch := testenv.WriteFlowArchive(t, s3s, "archive", "flows", testenv.ArchiveSpec{
		Accounts: []string{"111111111111", "222222222222"}, Regions: []string{"us-east-1", "eu-west-1"},
		Days: archiveDays, ObjectsPerDay: 3, LinesPerObject: 300,
	})
	// Hour 23 of the last day: an object of 23:05, and the next day's
	// 00:05 object holding a flow that started at 23:58.
	last := archiveDays[len(archiveDays)-1]
	edge := putObject(t, s3s, last.Add(23*time.Hour+5*time.Minute), []int64{last.Add(23*time.Hour + 6*time.Minute).Unix(), last.Add(23*time.Hour + 7*time.Minute).Unix()})
	// It also holds a record of 15:30, far past that hour's window: a
	// late record, for a revision of an hour sealed by the first run.
	next := putObject(t, s3s, last.Add(24*time.Hour+5*time.Minute), []int64{last.Add(23*time.Hour + 58*time.Minute).Unix(), last.Add(24*time.Hour + time.Minute).Unix(), last.Add(15*time.Hour + 30*time.Minute).Unix()})
	lateHour := fmt.Sprintf("aws-region=us-east-1/year=%d/month=%02d/day=%02d/hour=15", last.Year(), int(last.Month()), last.Day())
	edgeHour := fmt.Sprintf("aws-region=us-east-1/year=%d/month=%02d/day=%02d/hour=23", last.Year(), int(last.Month()), last.Day())

	dir := t.TempDir()
	out := localSink(t, dir)
	run := func(since, until time.Time) *pipeline.Pipeline {
		t.Setenv("AWS_ACCESS_KEY_ID", s3s.AccessKey)
		t.Setenv("AWS_SECRET_ACCESS_KEY", s3s.SecretKey)
		client, err := archive.NewClient(context.Background(), archive.ClientConfig{Region: testenv.S3Region, Endpoint: s3s.Endpoint, HTTPClient: &http.Client{}})
		if err != nil {
			t.Fatal(err)
		}
		src, err := archive.New(archive.Config{Bucket: "archive", Prefix: "flows", Parallel: 2,
			Filter: archive.Filter{Range: archive.Range{Since: since, Until: until}}}, client, out, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		cfg := pipeline.Config{
			Parse:     parse.Config{Format: schema.DefaultFormat, Region: "us-east-1"},
			Batch:     batch.Config{MaxRows: 200, MaxBytes: 8 << 20, MaxAge: time.Minute, Grace: time.Minute},
			FlowLogID: "fl-0123456789abcdef0",
			Seal:      &seal.Config{Lateness: 15 * time.Minute, Interval: time.Second, MinGap: 100 * time.Millisecond},
		}
		p, err := pipeline.New(cfg, pipeline.Deps{Sink: out, Source: src, DeadLetters: deadletter.NewSinkWriter(out, "_dead_letters").WithLocator(src.Locate)}, testLogger(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.SealBackfill(src, true); err != nil {
			t.Fatal(err)
		}
		runDone(t, p)
		return p
	}

	p := run(archiveDays[0], last.AddDate(0, 0, 1))
	manifests := sealcheck.Lake(t, dir, func(folder string) bool { return strings.HasSuffix(folder, edgeHour) })
	// 2 accounts x 2 regions x 3 days x 3 objects, each its own hour.
	if len(manifests) != 36 {
		t.Fatalf("%d sealed hours, want 36", len(manifests))
	}
	done, _ := p.SealDone()
	if done.Sealed != 36 || done.Last.OpenBy[seal.WhyEdge] != 1 || done.Last.Open != 1 {
		t.Fatalf("sealer: %+v, want 36 sealed and the edge hour open", done)
	}
	want := arch.Rows
	deadByHour := map[string]int64{}
	for _, b := range arch.Bad {
		// Dead letters are filed by the time in their object's name.
		i := strings.Index(b, "_fl-0a1b2c3d4e5f60718_")
		deadByHour[b[i+22:i+22+11]]++ // 20240130T07
	}
	for folder, m := range manifests {
		if m.Revision != 1 || m.Watermark == nil || m.Watermark.Delivery == nil || m.Watermark.Delivery.Objects == 0 || len(m.Watermark.Partitions) == 0 {
			t.Fatalf("%s: revision %d, watermark %+v", folder, m.Revision, m.Watermark)
		}
		for _, f := range m.Files {
			if o := f.Source.Objects; o == nil || !strings.HasPrefix(o.FirstObject, "s3://archive/flows/AWSLogs/") || o.FirstLine < 2 || o.LastLine < o.FirstLine {
				t.Fatalf("%s: file %s names no archive lines: %+v", folder, f.Name, f.Source)
			}
		}
		h, _ := time.Parse(time.RFC3339, m.Hour)
		if want := deadByHour[h.Format("20060102T15")]; m.DeadLetters == nil || m.DeadLetters.Count != want {
			t.Fatalf("%s: dead letters %+v, want %d", folder, m.DeadLetters, want)
		}
	}
	rep, err := verify.Run(context.Background(), out, verify.Options{})
	if err != nil || !rep.OK || rep.Summary.Hours != 36 || rep.Summary.Unsealed != 1 {
		t.Fatalf("verify: %v %+v %v", err, rep.Summary, rep.Problems)
	}

	// The next day: the edge hour's window is now covered (the last day's
	// folders are complete in the lake), so it is sealed with both files.
	p = run(last.AddDate(0, 0, 1), last.AddDate(0, 0, 2))
	manifests = sealcheck.Lake(t, dir, nil)
	if len(manifests) != 38 {
		t.Fatalf("%d sealed hours, want 38", len(manifests))
	}
	for folder, m := range manifests {
		if strings.HasSuffix(folder, lateHour) && strings.Contains(folder, "111111111111") {
			if m.Revision != 2 || m.AddedRows != 1 || m.Totals.LateRows != 1 || len(m.Added) != 1 {
				t.Fatalf("%s: revision %d adding %d rows (%v), want the late record in revision 2", folder, m.Revision, m.AddedRows, m.Added)
			}
		}
		if !strings.HasSuffix(folder, edgeHour) {
			continue
		}
		objs := map[string]bool{}
		for _, f := range m.Files {
			objs[f.Source.Objects.FirstObject] = true
		}
		if m.Revision != 1 || m.Rows != 3 || !objs["s3://archive/"+edge] || !objs["s3://archive/"+next] {
			t.Fatalf("edge hour: revision %d, %d rows, objects %v", m.Revision, m.Rows, objs)
		}
	}
	if done, _ := p.SealDone(); done.Sealed != 2 || done.Revised != 1 || done.Last.Open != 0 {
		t.Fatalf("second backfill's sealer: %+v", done)
	}
	rep, err = verify.Run(context.Background(), out, verify.Options{})
	if err != nil || !rep.OK || rep.Summary.Hours != 38 || rep.Summary.Unsealed != 0 {
		t.Fatalf("verify: %v %+v %v", err, rep.Summary, rep.Problems)
	}
	// The archive takes a backfilled lake as it takes one fed by Kafka.
	cold := localSink(t, t.TempDir())
	res, err := lakearchive.New(lakearchive.Config{}, out, cold, testLogger(t)).Pass(context.Background())
	if err != nil || res.Hours != 38 || res.Rows != int64(len(want))+5 {
		t.Fatalf("archive: %+v %v", res, err)
	}
	rep, err = verify.Run(context.Background(), cold, verify.Options{Lake: out})
	if err != nil || !rep.OK || rep.Summary.Hours != 38 {
		t.Fatalf("verify the archive: %v %+v %v", err, rep.Summary, rep.Problems)
	}
}

// putObject writes a default-layout object of account 111111111111 in
// us-east-1 named at, with one record per start time, and returns its key.
func putObject(t *testing.T, s3s *testenv.S3Server, at time.Time, starts []int64) string {
	t.Helper()
	key := fmt.Sprintf("flows/AWSLogs/111111111111/vpcflowlogs/us-east-1/%s/111111111111_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60718_%s_0badcafe.log.gz",
		at.Format("2006/01/02"), at.Format("20060102T1504Z"))
	var text strings.Builder
	text.WriteString("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n")
	for i, s := range starts {
		fmt.Fprintf(&text, "2 111111111111 eni-0000000000000abcd 10.1.0.%d 10.9.0.1 %d 443 6 10 840 %d %d ACCEPT OK\n", i+1, 40000+i, s, s+60)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(text.String())); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s3s.Client(t).PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("archive"), Key: aws.String(key), Body: bytes.NewReader(buf.Bytes())}); err != nil {
		t.Fatal(err)
	}
	return key
}
