package exactlyonce

import (
	"context"
	"fmt"
	"testing"
	"time"

	"flowlake/internal/testenv"
)

// crashScenario is one sink under TestCrashKill9's treatment.
type crashScenario struct {
	sinkURL  string
	args     []string // extra flags (S3 endpoint)
	env      []string
	badRatio float64
	seed     uint64
	readLake func(t *testing.T) *lake
}

// runCrash produces 200k records (5 accounts, 3 hours, 6 partitions) in
// waves while flowlake runs, SIGKILLs it at a random moment 0.3-2.5 s after
// each run got its partitions (so every kill lands while it consumes),
// restarts it each time, lets a last run take the last wave and finish on
// idleness, and checks every record is in the sink exactly once and every
// offset is committed.
func runCrash(t *testing.T, sc crashScenario) {
	const (
		records     = 200_000
		partitions  = 6
		kills       = 6
		linesPerMsg = 5
		group       = "crash"
	)
	k := testenv.Kafka(t, testTopic, partitions)
	cfg := kafkaConfig(t, 6*time.Second, 20*time.Second)
	rng := seed(t, sc.seed)
	prod := newProducer(t, k, genConfig(records, linesPerMsg, 42, sc.badRatio))
	args := runArgs(k, group, sc.sinkURL, cfg, append([]string{
		"--batch-max-rows", "1000", "--batch-max-age", "1s", "--batch-grace", "1m",
	}, sc.args...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// One wave of records per run, the last one for the final run; each
	// streams in while its run consumes it and the backlog.
	wave := func(i int) func() {
		n := records / (kills + 1)
		if i == kills+1 {
			n = records // whatever is left
		}
		return background(t, func() error { return prod.produceSpread(ctx, n, 10, 2*time.Second) })
	}
	midStream := 0 // kills that lost records read but not yet durable
	for i := 1; i <= kills; i++ {
		in := startInstance(t, fmt.Sprintf("run%d", i), args, sc.env)
		parts := in.waitAssigned(1, 90*time.Second)
		wait := wave(i)
		delay := 300*time.Millisecond + time.Duration(rng.Int64N(int64(2200*time.Millisecond)))
		if in.wait(delay) {
			t.Fatalf("%s exited on its own (status %d) before its kill:\n%s", in.name, in.exitCode(), in.log.tail(30))
		}
		in.kill()
		wait()
		if last, _, _ := in.stats(); last.get("flowlake_records_total") > last.get("flowlake_rows_written_total")+
			last.sum("flowlake_dead_letters_total")+last.get("flowlake_records_skipped_durable_total") {
			midStream++
		}
		produced, _, _ := prod.produced()
		t.Logf("SIGKILL %d/%d %v after assignment of partitions %v (%d records produced so far): %s",
			i, kills, delay.Round(time.Millisecond), parts, produced, in.summary())
	}

	t.Logf("%d of %d kills landed with records read but not yet durable", midStream, kills)
	if midStream == 0 {
		t.Fatal("no kill landed mid-stream; the test proves nothing")
	}
	final := startInstance(t, "final", append(args, "--exit-when-idle", "10s"), sc.env)
	final.waitAssigned(1, 90*time.Second)
	wave(kills + 1)()
	final.expectCleanExit(3 * time.Minute)
	t.Log(final.summary())

	want := expectFromTopic(t, k)
	checkProduced(t, want, prod, sc.badRatio > 0)
	got := sc.readLake(t)
	verify(t, want, got)
	checkCommitted(t, k, group, want.ends, got)
	if len(got.accounts) < 5 || len(got.hours) < 3 {
		t.Fatalf("rows cover %d accounts and %d hours, want at least 5 and 3", len(got.accounts), len(got.hours))
	}
}

// TestCrashKill9 crashes flowlake writing to S3 (Versity Gateway).
func TestCrashKill9(t *testing.T) {
	s3srv := testenv.VersityGW(t)
	s3srv.CreateBucket(t, "lake")
	runCrash(t, crashScenario{
		sinkURL:  "s3://lake/flows",
		args:     s3Args(s3srv),
		env:      childEnv(s3srv.Env()...),
		seed:     1,
		readLake: func(t *testing.T) *lake { return readS3Lake(t, s3srv, "lake", "flows") },
	})
}

// TestCrashKill9LocalDeadLetters crashes flowlake writing to a directory,
// with bad records, so dead letters must be exactly-once too.
func TestCrashKill9LocalDeadLetters(t *testing.T) {
	dir := t.TempDir()
	runCrash(t, crashScenario{
		sinkURL:  "file://" + dir,
		env:      childEnv(),
		badRatio: 0.02,
		seed:     2,
		readLake: func(t *testing.T) *lake { return readLocalLake(t, dir) },
	})
}

// TestCrashBetweenCheckpointAndCommit covers the one window a random kill
// rarely hits: the checkpoint is in the sink but the Kafka commit did not
// happen. It finishes a run, rewinds the group's Kafka offsets (what such a
// crash leaves behind), and runs again with no new records: the checkpoint
// must win (nothing is rewritten) and the Kafka offsets must catch up with
// it, or lag monitoring would report the partitions behind forever.
func TestCrashBetweenCheckpointAndCommit(t *testing.T) {
	const group = "rewind"
	k := testenv.Kafka(t, testTopic, 4)
	prod := newProducer(t, k, genConfig(20_000, 5, 7, 0))
	if _, err := prod.produce(context.Background(), 20_000); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := kafkaConfig(t, 6*time.Second, 20*time.Second)
	args := runArgs(k, group, "file://"+dir, cfg, "--exit-when-idle", "3s")
	first := startInstance(t, "first", args, childEnv())
	first.expectCleanExit(2 * time.Minute)
	t.Log(first.summary())
	want := expectFromTopic(t, k)
	checkProduced(t, want, prod, false)
	checkCommitted(t, k, group, want.ends, readLocalLake(t, dir))

	rewound := map[int]int64{}
	for p, end := range want.ends {
		rewound[p] = end / 2
	}
	commitOffsets(t, k, group, rewound)
	t.Logf("rewound the group's Kafka offsets to %v", k.CommittedOffsets(t, group))

	second := startInstance(t, "second", args, childEnv())
	second.expectCleanExit(2 * time.Minute)
	t.Log(second.summary())
	got := readLocalLake(t, dir)
	verify(t, want, got)
	checkCommitted(t, k, group, want.ends, got)
}
