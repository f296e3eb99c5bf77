package exactlyonce

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"flowlake/internal/testenv"
)

// TestSecondSignalDuringOutage stops flowlake while S3 is down and a flush
// is retrying: the first SIGTERM waits for the flush (the stop deadline is
// 20 s here), the second abandons it at once. flowlake must exit within
// seconds with status 1 and say the records are unflushed, not that the
// sink failed; a second run once S3 is back writes every record exactly
// once.
func TestSecondSignalDuringOutage(t *testing.T) {
	const (
		group   = "second-signal"
		records = 40_000
	)
	s3srv := testenv.VersityGW(t)
	s3srv.CreateBucket(t, "lake")
	k := testenv.Kafka(t, testTopic, 4)
	cfg := kafkaConfig(t, 30*time.Second, 30*time.Second)
	prod := newProducer(t, k, genConfig(records, 10, 5, 0))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := prod.produce(ctx, records/2); err != nil {
		t.Fatal(err)
	}
	args := runArgs(k, group, "s3://lake", cfg, append(s3Args(s3srv), "--batch-max-age", "1s")...)
	env := childEnv(s3srv.Env()...)
	in := startInstance(t, "first", args, env)
	in.waitAssigned(1, 90*time.Second)
	in.waitUntil(time.Minute, "rows written", func() bool {
		last, _, _ := in.stats()
		return last.get("flowlake_rows_written_total") > 0
	})
	s3srv.Stop()
	if _, err := prod.produce(ctx, records-records/2); err != nil {
		t.Fatal(err)
	}
	in.waitUntil(time.Minute, "S3 retries", func() bool {
		last, _, _ := in.stats()
		return last.sum("flowlake_sink_s3_retries_total") > 0
	})
	in.terminate()
	if in.wait(2 * time.Second) {
		t.Fatalf("exited %v after the first SIGTERM with a flush retrying (status %d):\n%s", 2*time.Second, in.exitCode(), in.log.tail(20))
	}
	second := time.Now()
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	if !in.wait(10 * time.Second) {
		t.Fatalf("still running 10s after the second SIGTERM:\n%s", in.log.tail(20))
	}
	t.Logf("%s; exited %v after the second SIGTERM", in.summary(), time.Since(second).Round(time.Millisecond))
	if code := in.exitCode(); code != 1 {
		t.Fatalf("exit status %d after an abandoned flush, want 1:\n%s", code, in.log.tail(20))
	}
	errLine := in.log.errorLine()
	t.Logf("stderr: %s", errLine)
	if !strings.Contains(errLine, "stopped with unflushed records") || strings.Contains(errLine, "flush:") {
		t.Errorf("error line %q: want the records unflushed, not a sink failure", errLine)
	}

	if err := s3srv.Start(); err != nil {
		t.Fatalf("restart S3 server: %v", err)
	}
	again := startInstance(t, "second", append(args, "--exit-when-idle", "3s"), env)
	again.expectCleanExit(3 * time.Minute)
	want := expectFromTopic(t, k)
	checkProduced(t, want, prod, false)
	got := readS3Lake(t, s3srv, "lake", "")
	verify(t, want, got)
	checkCommitted(t, k, group, want.ends, got)
}
