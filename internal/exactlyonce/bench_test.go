package exactlyonce

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"flowlake/internal/testenv"
)

// BenchmarkSinks consumes one pre-filled topic (1M records, 10 per
// message, 8 partitions) with the default flush limits, once into S3
// (Versity Gateway, through a proxy that counts requests) and once into a
// directory. Each iteration is a fresh group and destination; it is timed
// from the process start to its exit, after a SIGTERM sent once every
// record has been read, so the final flush is included. The output is read
// back and checked like in the tests, outside the timing.
//
// Custom metrics, over all iterations: records/s; for S3, PUT requests
// (retries included) and all requests per 1M records, as the server saw
// them.
func BenchmarkSinks(b *testing.B) {
	const (
		records     = 1_000_000
		linesPerMsg = 10
	)
	k := testenv.Kafka(b, testTopic, 8)
	prod := newProducer(b, k, genConfig(records, linesPerMsg, 9, 0))
	start := time.Now()
	if _, err := prod.produce(context.Background(), records); err != nil {
		b.Fatal(err)
	}
	b.Logf("filled the topic with %d records in %v", records, time.Since(start).Round(time.Millisecond))
	want := expectFromTopic(b, k)
	checkProduced(b, want, prod, false)
	s3srv := testenv.VersityGW(b)
	s3srv.CreateBucket(b, "bench")
	proxy := newCountingProxy(b, s3srv.Endpoint)
	flowlakeBin(b)

	// run benchmarks one sink; dest returns a fresh destination's URL and
	// a function reading it back.
	run := func(b *testing.B, name string, extra, env []string, dest func(group string) (string, func() *lake)) {
		cfg := kafkaConfig(b, 10*time.Second, 30*time.Second)
		var (
			total time.Duration
			reqs  = requestCounts{}
		)
		for range b.N {
			// The framework may call this more than once: every
			// iteration needs a group of its own.
			group := name + "-" + strconv.Itoa(int(benchRuns.Add(1)))
			sinkURL, readLake := dest(group)
			before := proxy.snapshot()
			in := startInstance(b, group, runArgs(k, group, sinkURL, cfg, extra...), env)
			in.waitUntil(5*time.Minute, "read of all records", func() bool {
				last, _, _ := in.stats()
				return last.get("flowlake_records_total") >= records
			})
			read := in.runtime()
			in.terminate()
			in.expectCleanExit(5 * time.Minute)
			took := in.runtime()
			total += took
			runReqs := proxy.snapshot().minus(before)
			reqs.add(runReqs)

			b.StopTimer()
			got := readLake()
			verify(b, want, got)
			checkCommitted(b, k, group, want.ends, got)
			b.StartTimer()

			_, _, peakRSS := in.stats()
			msg := fmt.Sprintf("%s: %v to read every record, %v to exit (final flush included): %.0f records/s; %d Parquet files, %d objects, peak RSS %.0f MiB",
				group, read.Round(time.Millisecond), took.Round(time.Millisecond), records/took.Seconds(), got.files, got.objects, float64(peakRSS)/(1<<20))
			if name == "s3" {
				msg += fmt.Sprintf("; S3 requests: %v", runReqs)
			}
			b.Log(msg)
		}
		b.ReportMetric(float64(b.N)*records/total.Seconds(), "records/s")
		if name == "s3" {
			per1M := float64(1_000_000) / (float64(b.N) * records)
			b.ReportMetric(float64(reqs[http.MethodPut])*per1M, "PUTs/1M-records")
			b.ReportMetric(float64(reqs.total())*per1M, "requests/1M-records")
		}
	}
	b.Run("s3", func(b *testing.B) {
		run(b, "s3", []string{"--s3-endpoint", proxy.URL(), "--s3-region", testenv.S3Region}, childEnv(s3srv.Env()...),
			func(group string) (string, func() *lake) {
				return "s3://bench/" + group, func() *lake { return readS3Lake(b, s3srv, "bench", group) }
			})
	})
	b.Run("local", func(b *testing.B) {
		run(b, "local", nil, childEnv(), func(group string) (string, func() *lake) {
			dir := b.TempDir()
			return "file://" + dir, func() *lake { return readLocalLake(b, dir) }
		})
	})
}

// benchRuns numbers benchmark iterations across calls.
var benchRuns atomic.Int64

// countingProxy forwards HTTP requests to an S3 endpoint, keeping the Host
// header the client signed, and counts them by method.
type countingProxy struct {
	srv    *httptest.Server
	mu     sync.Mutex
	counts requestCounts
}

type requestCounts map[string]int

func (c requestCounts) minus(o requestCounts) requestCounts {
	d := requestCounts{}
	for k, v := range c {
		if v-o[k] != 0 {
			d[k] = v - o[k]
		}
	}
	return d
}

func (c requestCounts) total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

func (c requestCounts) add(o requestCounts) {
	for k, v := range o {
		c[k] += v
	}
}

func newCountingProxy(tb testing.TB, target string) *countingProxy {
	tb.Helper()
	u, err := url.Parse(target)
	if err != nil {
		tb.Fatal(err)
	}
	p := &countingProxy{counts: requestCounts{}}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(u)
		r.Out.Host = r.In.Host // part of the SigV4 signature
	}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.counts[r.Method]++
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	tb.Cleanup(p.srv.Close)
	return p
}

func (p *countingProxy) URL() string { return p.srv.URL }

func (p *countingProxy) snapshot() requestCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := requestCounts{}
	for k, v := range p.counts {
		c[k] = v
	}
	return c
}
