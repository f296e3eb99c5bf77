package exactlyonce

import (
	"context"
	"strconv"
	"testing"
	"time"

	"flowlake/internal/testenv"
)

// TestS3Outage stops the S3 server for 20 s in the middle of a run while
// records keep arriving. flowlake must neither exit nor grow without bound:
// buffered rows stay within --max-buffered-bytes plus one batch, the RSS
// stays bounded, and once S3 is back it resumes on its own and finishes
// with every record exactly once. --exit-when-idle is shorter than the
// outage: reading paused by backpressure is not idleness.
func TestS3Outage(t *testing.T) {
	const (
		group       = "outage"
		budget      = 32 << 20 // --max-buffered-bytes
		batchBytes  = 4 << 20  // --batch-max-bytes: one batch's worth
		rssLimit    = 400 << 20
		outage      = 20 * time.Second
		before      = 100_000
		during      = 250_000
		after       = 50_000
		linesPerMsg = 10
	)
	s3srv := testenv.VersityGW(t)
	s3srv.CreateBucket(t, "lake")
	k := testenv.Kafka(t, testTopic, 4)
	cfg := kafkaConfig(t, 10*time.Second, 30*time.Second)
	prod := newProducer(t, k, genConfig(before+during+after, linesPerMsg, 3, 0))
	args := runArgs(k, group, "s3://lake", cfg, append(s3Args(s3srv),
		"--batch-max-rows", "20000", "--batch-max-bytes", strconv.Itoa(batchBytes), "--batch-max-age", "2s",
		"--max-buffered-bytes", strconv.Itoa(budget), "--fetch-buffer-bytes", strconv.Itoa(16<<20),
		"--exit-when-idle", "8s")...)
	in := startInstance(t, "flowlake", args, childEnv(s3srv.Env()...))
	in.waitAssigned(1, 90*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	wait := background(t, func() error { return prod.produceSpread(ctx, before, 10, 3*time.Second) })
	wait()
	in.waitUntil(time.Minute, "rows written before the outage", func() bool {
		last, _, _ := in.stats()
		return last.get("flowlake_rows_written_total") > 0
	})
	last, _, _ := in.stats()
	t.Logf("before the outage: %.0f rows written, %.0f S3 PUTs", last.get("flowlake_rows_written_total"), last.get("flowlake_sink_s3_puts_total"))

	s3srv.Stop()
	down := time.Now()
	t.Logf("S3 server stopped; producing %d records during the %v outage", during, outage)
	wait = background(t, func() error { return prod.produceSpread(ctx, during, 20, outage/2) })
	for time.Since(down) < outage {
		if !in.running() {
			t.Fatalf("flowlake exited during the S3 outage (status %d):\n%s", in.exitCode(), in.log.tail(40))
		}
		time.Sleep(100 * time.Millisecond)
	}
	wait()
	last, peakBuf, peakRSS := in.stats()
	produced, _, _ := prod.produced()
	t.Logf("end of outage: flowlake read %.0f of %d records, %.0f rows written, %.0f S3 retries; peak buffered %.1f MiB, peak RSS %.1f MiB",
		last.get("flowlake_records_total"), produced, last.get("flowlake_rows_written_total"),
		last.sum("flowlake_sink_s3_retries_total"), peakBuf/(1<<20), float64(peakRSS)/(1<<20))
	if last.sum("flowlake_sink_s3_retries_total") == 0 {
		t.Errorf("no S3 retries counted during the outage")
	}
	if err := s3srv.Start(); err != nil {
		t.Fatalf("restart S3 server: %v", err)
	}
	up := time.Now()
	t.Log("S3 server started again")
	if _, err := prod.produce(ctx, after); err != nil {
		t.Fatal(err)
	}
	k.WaitCommitted(t, group, 3*time.Minute)
	t.Logf("caught up %v after S3 came back", time.Since(up).Round(100*time.Millisecond))
	in.expectCleanExit(2 * time.Minute)
	t.Log(in.summary())
	t.Logf("timeline (S3 down from %.1fs to %.1fs):\n%s", down.Sub(in.started).Seconds(), up.Sub(in.started).Seconds(), in.timeline(2))

	_, peakBuf, peakRSS = in.stats()
	if peakBuf > budget+batchBytes {
		t.Errorf("flowlake_batch_buffered_bytes peaked at %.1f MiB, budget %d MiB + one batch %d MiB", peakBuf/(1<<20), budget>>20, batchBytes>>20)
	}
	if peakRSS == 0 {
		t.Log("RSS not sampled on this OS")
	} else if peakRSS > rssLimit {
		t.Errorf("RSS peaked at %.1f MiB, limit %d MiB", float64(peakRSS)/(1<<20), rssLimit>>20)
	}

	want := expectFromTopic(t, k)
	checkProduced(t, want, prod, false)
	got := readS3Lake(t, s3srv, "lake", "")
	verify(t, want, got)
	checkCommitted(t, k, group, want.ends, got)
}
