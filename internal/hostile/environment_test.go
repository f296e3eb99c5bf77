package hostile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"flowlake/internal/testenv"
)

func lines(account string, n int, from int64) []kafka.Message {
	out := make([]kafka.Message, n)
	for i := range out {
		out[i] = kafka.Message{Value: []byte(line(account, from+int64(i)))}
	}
	return out
}

// TestBrokerDataLoss: after a run checkpointed 100 records, the broker
// comes back empty (lost disks, or the topic deleted and re-created) and
// gets 40 new records. Resuming at the log end used to skip all 40 (exit
// 0, records_in=0). Now the partition stops with an error naming topic,
// partition, checkpoint and log end; --on-offset-reset earliest then reads
// the 40, logged and counted.
func TestBrokerDataLoss(t *testing.T) {
	env := testenv.Kafka(t, "flows", 1)
	env.Produce(t, lines("123456789012", 100, hourBase))
	dir := t.TempDir()
	r := runFlowlake(t, env, "loss", dir)
	if r.code != 0 {
		t.Fatalf("first run: exit %d\n%s", r.code, tail(r.log, 20))
	}
	checkBalance(t, r, readOutputs(t, dir), 100)

	b := env.Broker
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(b.DataDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(b.DataDir(), e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := b.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateTopic(ctx, "flows", 1); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	env.Produce(t, lines("210987654321", 40, hourBase+3600))

	r = runFlowlake(t, env, "loss", dir)
	if r.code == 0 {
		t.Fatalf("a checkpoint past the log end exited 0\n%s", tail(r.log, 20))
	}
	for _, want := range []string{"topic flows partition 0", "checkpoint offset 100", "log end 40", "--on-offset-reset earliest"} {
		if !strings.Contains(r.log, want) {
			t.Fatalf("the error does not say %q:\n%s", want, tail(r.log, 20))
		}
	}
	if o := readOutputs(t, dir); o.rows != 100 {
		t.Fatalf("%d rows after the refused run, want the first 100", o.rows)
	}

	r = runFlowlake(t, env, "loss", dir, "--on-offset-reset", "earliest", "--metrics-addr", "127.0.0.1:0")
	if r.code != 0 {
		t.Fatalf("earliest: exit %d\n%s", r.code, tail(r.log, 20))
	}
	if in := r.num(t, "records_in"); in != 40 {
		t.Fatalf("earliest read %d records, want the 40 new ones", in)
	}
	reset := findLog(r.log, "partition position outside the log; resuming at the log start (--on-offset-reset earliest)")
	if reset == nil || reset["checkpoint"] != float64(100) || reset["log_end"] != float64(40) {
		t.Fatalf("no reset log line naming checkpoint 100 and log end 40: %v", reset)
	}
	if o := readOutputs(t, dir); o.rows != 140 {
		t.Fatalf("%d rows in the sink, want 140", o.rows)
	}
}

// TestSecondGroupRefused: a second consumer group writing the same topic
// into the same sink prefix would write every record again; it is refused
// at start with a message saying how to reprocess, unless
// --allow-shared-sink.
func TestSecondGroupRefused(t *testing.T) {
	env := testenv.Kafka(t, "flows", 1)
	env.Produce(t, lines("123456789012", 50, hourBase))
	dir := t.TempDir()
	if r := runFlowlake(t, env, "first", dir); r.code != 0 {
		t.Fatalf("first group: exit %d\n%s", r.code, tail(r.log, 20))
	}
	r := runFlowlake(t, env, "second", dir)
	if r.code == 0 || !strings.Contains(r.log, `for group "first"`) || !strings.Contains(r.log, "new --sink prefix") {
		t.Fatalf("second group: exit %d\n%s", r.code, tail(r.log, 10))
	}
	if o := readOutputs(t, dir); o.rows != 50 {
		t.Fatalf("%d rows, want 50 (nothing duplicated)", o.rows)
	}
	// Reprocessing into a new prefix is fine.
	if r := runFlowlake(t, env, "second", filepath.Join(dir, "reprocess")); r.code != 0 {
		t.Fatalf("new prefix: exit %d\n%s", r.code, tail(r.log, 20))
	}
}

// TestFinalFlushInRounds: 1200 open batches (one account each, the small
// version of the 250k-account case) cannot all be written within the stop
// deadline (2/3 of the 6 s session timeout here). The final flush runs in
// rounds of batch.max_round_files, each checkpointed, so the deadline cuts
// at most one round short: the run exits 1 ("stopped with unflushed
// records"), and reruns finish the job, with every record written once.
func TestFinalFlushInRounds(t *testing.T) {
	env := testenv.Kafka(t, "flows", 1)
	const accounts = 1200
	var ms []kafka.Message
	for i := 0; i < accounts; i++ {
		ms = append(ms, kafka.Message{Value: []byte(line(fmt.Sprintf("%012d", 100000+i), hourBase+int64(i)))})
	}
	env.Produce(t, ms)
	dir := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "rounds.yaml")
	if err := os.WriteFile(cfg, []byte("kafka:\n  session_timeout: 6s\nbatch:\n  max_round_files: 100\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	written := int64(0)
	for run := 1; ; run++ {
		if run > 12 {
			t.Fatalf("not done after %d runs: %d rows written", run-1, written)
		}
		r := runFlowlake(t, env, "rounds", dir, "--config", cfg)
		rows := r.num(t, "rows_written")
		written += rows
		if r.code == 0 {
			break
		}
		if !strings.Contains(r.log, "stopped with unflushed records") {
			t.Fatalf("run %d: exit %d\n%s", run, r.code, tail(r.log, 20))
		}
		if rows == 0 {
			t.Fatalf("run %d wrote nothing: no round finished within the deadline\n%s", run, tail(r.log, 20))
		}
		checkRSS(t, r, 400<<20)
	}
	o := readOutputs(t, dir)
	if o.rows != accounts || len(o.files) != accounts || written != accounts {
		t.Fatalf("%d rows in %d files (logs say %d written), want %d of each", o.rows, len(o.files), written, accounts)
	}
}

// TestFinalFlushManyAccounts is the large version of TestFinalFlushInRounds
// with the default round size and session timeout (a 20 s stop deadline):
// FLOWLAKE_HOSTILE_ACCOUNTS=250000 go test -run ManyAccounts -v ./internal/hostile/
// It is skipped unless the variable is set (it writes a file per account).
func TestFinalFlushManyAccounts(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("FLOWLAKE_HOSTILE_ACCOUNTS"))
	if n <= 0 {
		t.Skip("set FLOWLAKE_HOSTILE_ACCOUNTS to run")
	}
	env := testenv.Kafka(t, "flows", 1)
	ms := make([]kafka.Message, 0, n)
	for i := 0; i < n; i++ {
		ms = append(ms, kafka.Message{Value: []byte(line(fmt.Sprintf("%012d", 100000+i), hourBase+int64(i%3600)))})
	}
	env.Produce(t, ms)
	dir := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(cfg, []byte("kafka:\n  session_timeout: 30s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	start, written := time.Now(), int64(0)
	for run := 1; ; run++ {
		if run > 40 {
			t.Fatalf("not done after %d runs: %d rows written", run-1, written)
		}
		r := runFlowlake(t, env, "big", dir, "--config", cfg, "--exit-when-idle", "2s")
		rows := r.num(t, "rows_written")
		written += rows
		t.Logf("run %d: exit %d, %d rows, peak RSS %d MiB, %s", run, r.code, rows, r.peakRSS>>20, time.Since(start).Round(time.Second))
		if r.code == 0 {
			break
		}
		if rows == 0 {
			t.Fatalf("run %d wrote nothing\n%s", run, tail(r.log, 20))
		}
	}
	o := readOutputs(t, dir)
	if o.rows != int64(n) || written != int64(n) {
		t.Fatalf("%d rows on disk, %d in the logs, want %d", o.rows, written, n)
	}
}
