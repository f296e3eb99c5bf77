package pipeline_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"flowlake/internal/testenv"
	"flowlake/pipeline"
	"flowlake/schema"
	"flowlake/stages/batch"
	"flowlake/stages/deadletter"
	"flowlake/stages/parse"
	"flowlake/stages/source/archive"
)

// countingTransport records every request the archive source sends.
type countingTransport struct {
	mu   sync.Mutex
	reqs []string // "GET /bucket/key?query"
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.reqs = append(c.reqs, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *countingTransport) requests() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.reqs)
}

var archiveDays = []time.Time{
	time.Date(2024, 1, 30, 0, 0, 0, 0, time.UTC),
	time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC),
	time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC),
}

// TestBackfillEndToEnd reads an archive of several accounts, regions and
// days in both AWS layouts, with bad lines and corrupt objects, into a
// lake: every good record once, in its region's partition (from the path
// where the format has no region), every bad line a dead letter naming its
// object and line. A second run reads nothing again.
func TestBackfillEndToEnd(t *testing.T) {
	s3s := testenv.VersityGW(t)
	s3s.CreateBucket(t, "archive")
	arch := testenv.WriteFlowArchive(t, s3s, "archive", "flows", testenv.ArchiveSpec{
		Accounts: []string{"111111111111", "222222222222"}, Regions: []string{"us-east-1", "eu-west-1"},
		Days: archiveDays, ObjectsPerDay: 2, LinesPerObject: 400,
	})
	dir := t.TempDir()
	out := localSink(t, dir)
	run := func() (*pipeline.Pipeline, *archive.Source, []string) {
		ct := &countingTransport{}
		t.Setenv("AWS_ACCESS_KEY_ID", s3s.AccessKey)
		t.Setenv("AWS_SECRET_ACCESS_KEY", s3s.SecretKey)
		client, err := archive.NewClient(context.Background(), archive.ClientConfig{Region: testenv.S3Region, Endpoint: s3s.Endpoint, HTTPClient: &http.Client{Transport: ct}})
		if err != nil {
			t.Fatal(err)
		}
		src, err := archive.New(archive.Config{Bucket: "archive", Prefix: "flows", Parallel: 3}, client, out, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		cfg := pipeline.Config{
			Parse:     parse.Config{Format: schema.DefaultFormat, Region: "us-east-1"},
			Batch:     batch.Config{MaxRows: 500, MaxBytes: 8 << 20, MaxAge: time.Minute, Grace: time.Minute},
			FlowLogID: "fl-0123456789abcdef0",
		}
		p := runToIdle(t, cfg, pipeline.Deps{Sink: out, Source: src, DeadLetters: deadletter.NewSinkWriter(out, "_dead_letters").WithLocator(src.Locate)})
		return p, src, ct.requests()
	}
	p, src, _ := run()
	if got := testenv.LakeRows(t, dir); !slices.Equal(got, arch.Rows) {
		diffMultisets(t, arch.Rows, got)
		t.Fatal("rows differ")
	}
	if got := testenv.ArchiveDeadLetters(t, dir); !slices.Equal(got, arch.Bad) {
		t.Fatalf("dead letters:\n got %d %q\nwant %d %q", len(got), clip(got), len(arch.Bad), clip(arch.Bad))
	}
	st, ss := p.Stats(), src.Stats()
	if st.Records != st.Rows+st.DeadLetters || st.Rows != int64(len(arch.Rows)) || st.DeadLetters != int64(len(arch.Bad)) {
		t.Fatalf("stats %+v, want %d rows and %d dead letters", st, len(arch.Rows), len(arch.Bad))
	}
	if ss.FoldersDone != ss.Folders || ss.Corrupt != 2 || ss.Ignored != 1 || ss.ObjectsDone != int64(len(arch.Objects)) {
		t.Fatalf("source stats %+v, %d objects", ss, len(arch.Objects))
	}
	// Again: every folder is complete, nothing is read.
	p2, src2, reqs := run()
	if s := p2.Stats(); s.Records != 0 || s.Files != 0 {
		t.Fatalf("second run read %d records, wrote %d files", s.Records, s.Files)
	}
	for _, r := range reqs {
		if strings.HasPrefix(r, "GET ") && strings.Contains(r, ".log") {
			t.Fatalf("second run fetched %s", r)
		}
	}
	if ss := src2.Stats(); ss.SkippedObjects != int64(len(arch.Objects)) {
		t.Fatalf("second run: %+v", ss)
	}
}

func clip(s []string) []string {
	if len(s) > 6 {
		return s[:6]
	}
	return s
}

// TestBackfillDateRange checks that --since/--until select folders by
// their names: no listing under a day outside the range, no object of one
// fetched, and the rows are exactly those of the days inside.
func TestBackfillDateRange(t *testing.T) {
	s3s := testenv.VersityGW(t)
	s3s.CreateBucket(t, "archive")
	days := append(slices.Clone(archiveDays), time.Date(2023, 12, 31, 0, 0, 0, 0, time.UTC), time.Date(2024, 3, 15, 0, 0, 0, 0, time.UTC))
	arch := testenv.WriteFlowArchive(t, s3s, "archive", "", testenv.ArchiveSpec{
		Accounts: []string{"111111111111", "222222222222"}, Regions: []string{"us-east-1"},
		Days: days, ObjectsPerDay: 2, LinesPerObject: 50,
	})
	ct := &countingTransport{}
	t.Setenv("AWS_ACCESS_KEY_ID", s3s.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3s.SecretKey)
	client, err := archive.NewClient(context.Background(), archive.ClientConfig{Region: testenv.S3Region, Endpoint: s3s.Endpoint, HTTPClient: &http.Client{Transport: ct}})
	if err != nil {
		t.Fatal(err)
	}
	since, until := time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC), time.Date(2024, 2, 2, 0, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	out := localSink(t, dir)
	src, err := archive.New(archive.Config{Bucket: "archive", Filter: archive.Filter{Range: archive.Range{Since: since, Until: until}}}, client, out, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg := pipeline.Config{Parse: parse.Config{Format: schema.DefaultFormat, Region: "us-east-1"}, FlowLogID: "fl-0123456789abcdef0"}
	runToIdle(t, cfg, pipeline.Deps{Sink: out, Source: src, DeadLetters: deadletter.NewSinkWriter(out, "_dead_letters").WithLocator(src.Locate)})

	inRange := func(s string) bool {
		for _, d := range []string{"2024/01/31/", "2024/02/01/", "year=2024/month=01/day=31/", "year=2024/month=02/day=01/"} {
			if strings.Contains(s, d) {
				return true
			}
		}
		return false
	}
	gets, wantGets, dayLists := 0, 0, 0
	for _, k := range arch.Objects {
		if inRange(k) {
			wantGets++
		}
	}
	for _, r := range ct.requests() {
		method, rest, _ := strings.Cut(r, " ")
		path, query, _ := strings.Cut(rest, "?")
		switch {
		case method == "GET" && strings.Contains(query, "list-type=2"):
			// A listing names its prefix: never a day outside the range,
			// never a month or year outside it.
			if strings.Contains(query, "%2F2024%2F01%2F31%2F") || strings.Contains(query, "day%3D31%2F") {
				dayLists++
			}
			for _, out := range []string{"2023", "month=03", "/03/", "day=30", "/30/", "month=12", "/12/"} {
				if strings.Contains(query, strings.ReplaceAll(strings.ReplaceAll(out, "/", "%2F"), "=", "%3D")) {
					t.Errorf("listing outside the range: %s", r)
				}
			}
		case method == "GET" && strings.Contains(path, "/archive/"):
			gets++
			if !inRange(path) {
				t.Errorf("fetched an object outside the range: %s", r)
			}
		}
	}
	if dayLists != 2 {
		t.Errorf("%d listings of the day 2024-01-31, want 2 (one per account): are prefixes encoded as this test reads them?", dayLists)
	}
	if gets != wantGets {
		t.Errorf("fetched %d objects, want the %d inside the range", gets, wantGets)
	}
	var want []string
	for _, row := range arch.Rows {
		// start is the last column: keep the rows whose day is in range.
		f := strings.Fields(row)
		if start, _ := time.Parse("2006-01-02", time.Unix(atoi(f[len(f)-1]), 0).UTC().Format("2006-01-02")); !start.Before(since) && start.Before(until) {
			want = append(want, row)
		}
	}
	if got := testenv.LakeRows(t, dir); !slices.Equal(got, want) {
		diffMultisets(t, want, got)
		t.Fatal("rows differ")
	}
	t.Logf("%d requests, %d objects fetched of %d", len(ct.requests()), gets, len(arch.Objects))
}

func atoi(s string) int64 {
	var n int64
	for _, c := range s {
		n = n*10 + int64(c-'0')
	}
	return n
}

// flakyTransport breaks the body of the first GET of every object after a
// few hundred bytes, the way a dropped connection does.
type flakyTransport struct {
	mu     sync.Mutex
	broken map[string]bool
}

type brokenBody struct {
	r    io.ReadCloser
	left int
}

func (b *brokenBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errors.New("read tcp: connection reset by peer")
	}
	n, err := b.r.Read(p[:min(len(p), b.left)])
	b.left -= n
	return n, err
}

func (b *brokenBody) Close() error { return b.r.Close() }

func (f *flakyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || r.Method != "GET" || !strings.Contains(r.URL.Path, ".log") {
		return resp, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.broken[r.URL.Path] {
		f.broken[r.URL.Path] = true
		resp.Body = &brokenBody{r: resp.Body, left: 300 + len(f.broken)*97}
	}
	return resp, nil
}

// TestBackfillConnectionDropped checks that a connection that drops in the
// middle of an object is retried (the object read again, what was
// delivered skipped), not taken for a corrupt object.
func TestBackfillConnectionDropped(t *testing.T) {
	s3s := testenv.VersityGW(t)
	s3s.CreateBucket(t, "archive")
	arch := testenv.WriteFlowArchive(t, s3s, "archive", "", testenv.ArchiveSpec{
		Accounts: []string{"111111111111", "222222222222"}, Regions: []string{"us-east-1"},
		Days: archiveDays[:1], ObjectsPerDay: 3, LinesPerObject: 5000,
	})
	t.Setenv("AWS_ACCESS_KEY_ID", s3s.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3s.SecretKey)
	ft := &flakyTransport{broken: map[string]bool{}}
	client, err := archive.NewClient(context.Background(), archive.ClientConfig{Region: testenv.S3Region, Endpoint: s3s.Endpoint, HTTPClient: &http.Client{Transport: ft}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := localSink(t, dir)
	src, err := archive.New(archive.Config{Bucket: "archive"}, client, out, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg := pipeline.Config{Parse: parse.Config{Format: schema.DefaultFormat, Region: "us-east-1"}, FlowLogID: "fl-0123456789abcdef0"}
	runToIdle(t, cfg, pipeline.Deps{Sink: out, Source: src, DeadLetters: deadletter.NewSinkWriter(out, "_dead_letters").WithLocator(src.Locate)})
	if got := testenv.LakeRows(t, dir); !slices.Equal(got, arch.Rows) {
		diffMultisets(t, arch.Rows, got)
		t.Fatal("rows differ")
	}
	if got := testenv.ArchiveDeadLetters(t, dir); !slices.Equal(got, arch.Bad) {
		t.Fatalf("dead letters:\n got %d %q\nwant %d %q", len(got), clip(got), len(arch.Bad), clip(arch.Bad))
	}
	if ss := src.Stats(); ss.Corrupt != 2 || len(ft.broken) < 6 {
		t.Fatalf("corrupt objects %d (want the 2 really corrupt), %d connections broken", ss.Corrupt, len(ft.broken))
	}
}
