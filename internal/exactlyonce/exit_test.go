package exactlyonce

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"flowlake/internal/testenv"
)

// Exit codes of `flowlake run` (README, "Exit codes").
const (
	exitNotDrained  = 3
	exitUnreachable = 4
	exitRefused     = 5
)

// expectExit waits up to d for the instance to exit with code and returns
// its error line.
func (in *instance) expectExit(d time.Duration, code int) string {
	in.tb.Helper()
	if !in.wait(d) {
		in.tb.Fatalf("%s: still running after %v", in.name, d)
	}
	if got := in.exitCode(); got != code {
		in.tb.Fatalf("%s: exit status %d, want %d; last log lines:\n%s", in.name, got, code, in.log.tail(30))
	}
	line := in.log.errorLine()
	if line == "" {
		in.tb.Fatalf("%s: no error line; last log lines:\n%s", in.name, in.log.tail(30))
	}
	return line
}

// closedPort returns a 127.0.0.1 address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestExitUnreachable: no broker answers, so a batch run fails with exit 4
// within the connect timeout, naming the brokers.
func TestExitUnreachable(t *testing.T) {
	a, b := closedPort(t), closedPort(t)
	in := startInstance(t, "run", []string{"run", "--brokers", a + "," + b, "--topic", testTopic,
		"--sink", "file://" + t.TempDir(), "--exit-when-idle", "2s", "--connect-timeout", "3s"}, childEnv())
	line := in.expectExit(30*time.Second, exitUnreachable)
	if !strings.Contains(line, a) || !strings.Contains(line, b) || !strings.Contains(line, "no Kafka broker reachable") {
		t.Fatalf("error line does not name the brokers: %s", line)
	}
	if rt := in.runtime(); rt > 15*time.Second {
		t.Fatalf("took %v with --connect-timeout 3s", rt)
	}
	t.Logf("%s after %v", line, in.runtime().Round(time.Millisecond))
}

// TestExitMissingTopic: a topic that does not exist is an error (exit 5)
// naming it, not an empty assignment to idle on.
func TestExitMissingTopic(t *testing.T) {
	k := testenv.Kafka(t, testTopic, 2)
	in := startInstance(t, "run", []string{"run", "--brokers", strings.Join(k.Brokers, ","), "--topic", "no-such-topic",
		"--sink", "file://" + t.TempDir(), "--exit-when-idle", "2s"}, childEnv())
	line := in.expectExit(30*time.Second, exitRefused)
	if !strings.Contains(line, `"no-such-topic"`) || !strings.Contains(line, "does not exist") {
		t.Fatalf("error line does not name the topic: %s", line)
	}
	t.Log(line)
}

// holder is a plain kafka-go group member that joins, takes its share of
// the partitions and never reads nor commits: a live consumer that is
// stuck.
type holder struct {
	mu     sync.Mutex
	member string
	parts  []int
	gens   int
}

func startHolder(t *testing.T, k *testenv.KafkaEnv, group string) *holder {
	t.Helper()
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID: group, Brokers: k.Brokers, Topics: []string{k.Topic},
		SessionTimeout: 6 * time.Second, RebalanceTimeout: 10 * time.Second, HeartbeatInterval: time.Second,
		JoinGroupBackoff: 500 * time.Millisecond, Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := &holder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			gen, err := cg.Next(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				continue
			}
			var ids []int
			for _, p := range gen.Assignments[k.Topic] {
				ids = append(ids, p.ID)
			}
			h.mu.Lock()
			h.member, h.parts = gen.MemberID, ids
			h.gens++
			h.mu.Unlock()
			gen.Start(func(gctx context.Context) { <-gctx.Done() })
		}
	}()
	t.Cleanup(func() { cancel(); cg.Close(); <-done })
	return h
}

func (h *holder) state() (string, []int, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.member, append([]int(nil), h.parts...), h.gens
}

// TestExitNotDrainedLiveMember: a live member holds half the partitions and
// consumes nothing. flowlake drains its own half, must not exit 0, and
// exits 3 after the drain bound naming the other half, its lag and owner.
func TestExitNotDrainedLiveMember(t *testing.T) {
	const group = "stuck"
	k := testenv.Kafka(t, testTopic, 4)
	prod := newProducer(t, k, genConfig(8000, 4, 11, 0))
	if _, err := prod.produce(context.Background(), 8000); err != nil {
		t.Fatal(err)
	}
	h := startHolder(t, k, group)
	deadline := time.Now().Add(60 * time.Second)
	for _, parts, _ := h.state(); len(parts) == 0; _, parts, _ = h.state() {
		if time.Now().After(deadline) {
			t.Fatal("the plain member got no partitions")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cfg := kafkaConfig(t, 6*time.Second, 10*time.Second)
	args := runArgs(k, group, "file://"+t.TempDir(), cfg, "--exit-when-idle", "2s", "--drain-timeout", "10s")
	in := startInstance(t, "run", args, childEnv())
	line := in.expectExit(2*time.Minute, exitNotDrained)
	member, held, gens := h.state()
	t.Logf("plain member %s holds %v (generation %d); flowlake had %v; %s", member, held, gens, in.log.partitions(), line)
	if len(held) != 2 {
		t.Fatalf("the plain member holds %v, want half of 4 partitions", held)
	}
	ends := k.EndOffsets(t)
	committed := k.CommittedOffsets(t, group)
	for p := range 4 {
		heldByOther := false
		for _, q := range held {
			heldByOther = heldByOther || p == q
		}
		named := regexp.MustCompile(fmt.Sprintf(`partition %d lag %d .*owner %s`, p, ends[p], regexp.QuoteMeta(member))).MatchString(line)
		mentioned := strings.Contains(line, fmt.Sprintf("partition %d ", p))
		switch {
		case heldByOther && !named:
			t.Errorf("partition %d (held by %s, lag %d) not named with its lag and owner", p, member, ends[p])
		case !heldByOther && mentioned:
			t.Errorf("partition %d was flowlake's and is drained, but named", p)
		case !heldByOther && committed[p] != ends[p]:
			t.Errorf("flowlake's partition %d committed %d, end %d", p, committed[p], ends[p])
		}
	}
	if !strings.Contains(in.log.tail(5), "outcome=not_drained") {
		t.Errorf("no not_drained outcome in the last lines:\n%s", in.log.tail(5))
	}
}

// TestExitAfterDeadMember: an instance that owns partitions is killed
// (after its assignment: see DESIGN.md on kfake and members killed while
// joining); another starts with --exit-when-idle. It exits 0 only once it
// has taken over every partition and drained them, and every record is in
// the sink exactly once.
func TestExitAfterDeadMember(t *testing.T) {
	const group = "takeover"
	k := testenv.Kafka(t, testTopic, 4)
	dir := t.TempDir()
	cfg := kafkaConfig(t, 6*time.Second, 10*time.Second)
	prod := newProducer(t, k, genConfig(40_000, 5, 12, 0))
	ctx := context.Background()
	args := runArgs(k, group, "file://"+dir, cfg, "--batch-max-rows", "2000")
	a := startInstance(t, "A", args, childEnv())
	parts := a.waitAssigned(1, 90*time.Second)
	if _, err := prod.produce(ctx, 20_000); err != nil {
		t.Fatal(err)
	}
	a.waitUntil(time.Minute, "records read by A", func() bool { last, _, _ := a.stats(); return last.get("flowlake_records_total") > 0 })
	a.kill()
	t.Logf("killed A, which owned %v: %s", parts, a.summary())
	if _, err := prod.produce(ctx, 20_000); err != nil {
		t.Fatal(err)
	}
	b := startInstance(t, "B", append(args, "--exit-when-idle", "2s"), childEnv())
	b.expectCleanExit(2 * time.Minute)
	t.Log(b.summary())
	if got := b.log.partitions(); len(got) != 4 {
		t.Fatalf("B exited 0 owning %v, not every partition", got)
	}
	if !strings.Contains(b.log.tail(3), "outcome=drained") {
		t.Fatalf("no drained outcome in B's last lines:\n%s", b.log.tail(3))
	}
	want := expectFromTopic(t, k)
	checkProduced(t, want, prod, false)
	got := readLocalLake(t, dir)
	verify(t, want, got)
	checkCommitted(t, k, group, want.ends, got)
}

// TestExitBrokerLost: the broker dies mid-run and does not come back: a
// batch run fails (exit 4) after the drain bound instead of exiting 0.
func TestExitBrokerLost(t *testing.T) {
	k := testenv.Kafka(t, testTopic, 2)
	cfg := kafkaConfig(t, 6*time.Second, 10*time.Second)
	prod := newProducer(t, k, genConfig(5000, 5, 13, 0))
	if _, err := prod.produce(context.Background(), 5000); err != nil {
		t.Fatal(err)
	}
	args := runArgs(k, "lost", "file://"+t.TempDir(), cfg, "--exit-when-idle", "3s", "--drain-timeout", "8s")
	in := startInstance(t, "run", args, childEnv())
	// Stop the broker right after the assignment, well before the run
	// could be idle for 3s and drained.
	in.waitAssigned(1, time.Minute)
	if err := k.Broker.Stop(); err != nil {
		t.Fatal(err)
	}
	line := in.expectExit(time.Minute, exitUnreachable)
	if !strings.Contains(line, k.Brokers[0]) {
		t.Fatalf("error line does not name the broker: %s", line)
	}
	t.Log(line)
}

// saslBroker starts a kfake cluster that requires SASL PLAIN as
// admin/secret, with the test topic.
func saslBroker(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.Ports(0), kfake.EnableSASL(), kfake.Superuser("PLAIN", "admin", "secret"), kfake.SeedTopics(2, testTopic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// TestExitAuthFailure: a wrong password fails a batch run at once (exit
// 5); a service keeps running, logs the refusal and is not ready; the
// right password drains.
func TestExitAuthFailure(t *testing.T) {
	addr := saslBroker(t)
	args := []string{"run", "--brokers", addr, "--topic", testTopic, "--sink", "file://" + t.TempDir(),
		"--kafka-sasl", "plain", "--kafka-username", "admin", "--metrics-addr", "127.0.0.1:0"}
	wrong := childEnv("FLOWLAKE_KAFKA_PASSWORD=hunter2")
	batch := startInstance(t, "batch", append(args, "--exit-when-idle", "2s"), wrong)
	line := batch.expectExit(30*time.Second, exitRefused)
	if !strings.Contains(line, "SASL") || strings.Contains(line, "hunter2") {
		t.Fatalf("error line: %s", line)
	}
	t.Log(line)

	svc := startInstance(t, "service", args, wrong)
	svc.waitUntil(30*time.Second, "/readyz 503 naming the refusal", func() bool {
		code, body := svc.probe("/readyz")
		return code == 503 && strings.Contains(body, "SASL")
	})
	if !strings.Contains(svc.log.tail(20), "level=ERROR") {
		t.Fatalf("no error logged:\n%s", svc.log.tail(20))
	}
	_, body := svc.probe("/readyz")
	t.Logf("service: /readyz 503: %s", strings.TrimSpace(body))

	ok := startInstance(t, "right password", append(args, "--exit-when-idle", "1s"), childEnv("FLOWLAKE_KAFKA_PASSWORD=secret"))
	ok.expectCleanExit(time.Minute)
}
