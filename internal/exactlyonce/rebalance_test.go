package exactlyonce

import (
	"context"
	"testing"
	"time"

	"flowlake/internal/testenv"
)

// TestRebalance runs two instances in one group against one S3 sink, adds a
// third mid-run, then stops the first with SIGTERM; the other two finish on
// idleness. Every join and leave is an eager rebalance (kafka-go), so
// partitions move with open batches each time.
func TestRebalance(t *testing.T) {
	const (
		group   = "rebalance"
		records = 300_000
	)
	s3srv := testenv.VersityGW(t)
	s3srv.CreateBucket(t, "lake")
	k := testenv.Kafka(t, testTopic, 6)
	cfg := kafkaConfig(t, 10*time.Second, 30*time.Second)
	prod := newProducer(t, k, genConfig(records, 5, 4, 0))
	args := runArgs(k, group, "s3://lake/shared", cfg, append(s3Args(s3srv),
		"--batch-max-rows", "3000", "--batch-max-age", "2s", "--exit-when-idle", "12s")...)
	env := childEnv(s3srv.Env()...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	a := startInstance(t, "A", args, env)
	b := startInstance(t, "B", args, env)
	a.waitAssigned(1, 90*time.Second)
	b.waitAssigned(1, 90*time.Second)
	t.Logf("A and B joined: A has %v, B has %v", a.log.partitions(), b.log.partitions())
	wait := background(t, func() error { return prod.produceSpread(ctx, records, 60, 30*time.Second) })

	rowsOf := func(in *instance) float64 { last, _, _ := in.stats(); return last.get("flowlake_rows_written_total") }
	a.waitUntil(time.Minute, "rows written by A and B", func() bool { return rowsOf(a) > 0 && rowsOf(b) > 0 })
	produced, _, _ := prod.produced()
	t.Logf("A wrote %.0f rows, B %.0f (%d produced); starting C", rowsOf(a), rowsOf(b), produced)
	c := startInstance(t, "C", args, env)
	c.waitAssigned(1, 90*time.Second)
	t.Logf("C joined with %v (A assigned %d times, B %d times)", c.log.partitions(), a.log.assignments(), b.log.assignments())
	c.waitUntil(time.Minute, "rows written by C", func() bool { return rowsOf(c) > 0 })

	produced, _, _ = prod.produced()
	t.Logf("C wrote %.0f rows (%d produced); SIGTERM to A", rowsOf(c), produced)
	a.terminate()
	a.expectCleanExit(90 * time.Second)
	t.Log(a.summary())
	wait()
	t.Logf("producer done; B has %v, C has %v", b.log.partitions(), c.log.partitions())

	b.expectCleanExit(3 * time.Minute)
	c.expectCleanExit(3 * time.Minute)
	t.Log(b.summary())
	t.Log(c.summary())

	want := expectFromTopic(t, k)
	checkProduced(t, want, prod, false)
	got := readS3Lake(t, s3srv, "lake", "shared")
	verify(t, want, got)
	checkCommitted(t, k, group, want.ends, got)
}

// TestRebalanceDuringS3Outage: A and B consume; C joins just before S3 goes
// down. On the eager rebalance A and B end their generation while their
// rounds retry S3. kafka-go sends no heartbeats once the generation ended,
// so after the session timeout the coordinator may move their partitions;
// an owner that kept writing after that would race the new owner (this
// test found exactly that: rows lost and doubled). Work after the end of a
// generation is therefore cancelled at a stop deadline inside the session
// timeout, and the next owner re-reads from the checkpoint.
func TestRebalanceDuringS3Outage(t *testing.T) {
	const group = "overlap"
	s3srv := testenv.VersityGW(t)
	s3srv.CreateBucket(t, "lake")
	k := testenv.Kafka(t, testTopic, 4)
	cfg := kafkaConfig(t, 6*time.Second, 20*time.Second)
	prod := newProducer(t, k, genConfig(200_000, 5, 12, 0))
	args := runArgs(k, group, "s3://lake", cfg, append(s3Args(s3srv),
		"--batch-max-rows", "1000", "--batch-max-age", "1s", "--exit-when-idle", "15s", "--log-level", "debug")...)
	env := childEnv(s3srv.Env()...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	a := startInstance(t, "A", args, env)
	b := startInstance(t, "B", args, env)
	a.waitAssigned(1, 90*time.Second)
	b.waitAssigned(1, 90*time.Second)
	wait := background(t, func() error { return prod.produceSpread(ctx, 200_000, 40, 20*time.Second) })
	rowsOf := func(in *instance) float64 { last, _, _ := in.stats(); return last.get("flowlake_rows_written_total") }
	a.waitUntil(time.Minute, "rows written by A and B", func() bool { return rowsOf(a) > 0 && rowsOf(b) > 0 })
	c := startInstance(t, "C", args, env)
	c.waitUntil(time.Minute, "C past its sink checks", c.log.sinkChecked)
	s3srv.Stop()
	t.Log("S3 stopped; C joins")
	c.waitUntil(time.Minute, "a partition on C", func() bool { return len(c.log.partitions()) > 0 })
	// Longer than the session timeout: any member still holding a round
	// from the old generation must have given it up by now.
	time.Sleep(12 * time.Second)
	t.Logf("C has %v", c.log.partitions())
	if err := s3srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Log("S3 started again")
	wait()
	for _, in := range []*instance{a, b, c} {
		in.expectCleanExit(3 * time.Minute)
		t.Log(in.summary())
	}
	want := expectFromTopic(t, k)
	checkProduced(t, want, prod, false)
	got := readS3Lake(t, s3srv, "lake", "")
	verify(t, want, got)
	checkCommitted(t, k, group, want.ends, got)
}
