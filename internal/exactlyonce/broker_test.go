package exactlyonce

import (
	"context"
	"testing"
	"time"

	"flowlake/internal/testenv"
)

// TestBrokerRestart restarts the Kafka-protocol broker (same address, data
// kept) while flowlake is partway through a backlog, writing to a
// directory. Fetches, the group session and offset commits all break at
// once; flowlake must reconnect, rejoin and finish with every record
// exactly once.
func TestBrokerRestart(t *testing.T) {
	const (
		group   = "restart"
		backlog = 200_000
		more    = 50_000
	)
	k := testenv.Kafka(t, testTopic, 4)
	cfg := kafkaConfig(t, 10*time.Second, 30*time.Second)
	prod := newProducer(t, k, genConfig(backlog+more, 5, 5, 0))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := prod.produce(ctx, backlog); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	args := runArgs(k, group, "file://"+dir, cfg, "--batch-max-rows", "3000", "--batch-max-age", "2s", "--exit-when-idle", "15s")
	in := startInstance(t, "flowlake", args, childEnv())
	in.waitAssigned(1, 90*time.Second)
	records := func() float64 { last, _, _ := in.stats(); return last.get("flowlake_records_total") }
	in.waitUntil(time.Minute, "30k records read", func() bool { return records() >= 30_000 })
	last, _, _ := in.stats()
	t.Logf("restarting the broker: flowlake read %.0f of %d records, wrote %.0f rows", records(), backlog, last.get("flowlake_rows_written_total"))
	start := time.Now()
	k.Restart(t)
	t.Logf("broker back after %v", time.Since(start).Round(time.Millisecond))
	if _, err := prod.produce(ctx, more); err != nil {
		t.Fatal(err)
	}
	in.expectCleanExit(3 * time.Minute)
	t.Logf("%s; assigned %d times", in.summary(), in.log.assignments())

	want := expectFromTopic(t, k)
	checkProduced(t, want, prod, false)
	got := readLocalLake(t, dir)
	verify(t, want, got)
	checkCommitted(t, k, group, want.ends, got)
}
