package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const testTopic = "flows"

func startBroker(t *testing.T, cfg Config) *Broker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := Start(ctx, cfg, testLogger(t))
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("test", t.Name())
	}
	return nil
}

// produce writes n messages "<prefix>-<i>" round-robin across partitions.
func produce(t *testing.T, addrs []string, prefix string, n int) []string {
	t.Helper()
	w := &kafka.Writer{
		Addr:         kafka.TCP(addrs...),
		Topic:        testTopic,
		Balancer:     &kafka.RoundRobin{},
		RequiredAcks: kafka.RequireAll,
		BatchSize:    1000,
		BatchTimeout: 5 * time.Millisecond,
	}
	defer w.Close()
	msgs := make([]kafka.Message, n)
	vals := make([]string, n)
	for i := range msgs {
		vals[i] = fmt.Sprintf("%s-%d", prefix, i)
		msgs[i].Value = []byte(vals[i])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce: %v", err)
	}
	return vals
}

// groupConsumer consumes testTopic the way the pipeline does: the
// ConsumerGroup/Generation API for assignments, one goroutine per assigned
// partition reading with Conn.ReadBatch, and Generation.CommitOffsets after
// every batch.
type groupConsumer struct {
	addrs []string
	group string

	mu   sync.Mutex
	seen map[string]int // value -> times consumed
	n    int
	want int
	done chan struct{}
}

// consume runs until want messages were consumed (counting duplicates once)
// or ctx ends, and returns the values consumed.
func consume(ctx context.Context, t *testing.T, addrs []string, group string, want int, started chan<- struct{}) map[string]int {
	t.Helper()
	gc := &groupConsumer{addrs: addrs, group: group, seen: map[string]int{}, want: want, done: make(chan struct{})}
	if err := gc.run(ctx, started); err != nil {
		t.Errorf("consume: %v", err)
	}
	gc.mu.Lock()
	defer gc.mu.Unlock()
	return gc.seen
}

func (gc *groupConsumer) run(ctx context.Context, started chan<- struct{}) error {
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                gc.group,
		Brokers:           gc.addrs,
		Topics:            []string{testTopic},
		HeartbeatInterval: 100 * time.Millisecond,
		SessionTimeout:    6 * time.Second,
		RebalanceTimeout:  2 * time.Second,
		JoinGroupBackoff:  50 * time.Millisecond,
		Timeout:           2 * time.Second,
	})
	if err != nil {
		return err
	}
	defer cg.Close()

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-gc.done:
			cancel()
		case <-runCtx.Done():
		}
	}()
	for {
		gen, err := cg.Next(runCtx)
		if err != nil {
			if runCtx.Err() != nil {
				select {
				case <-gc.done:
					return nil
				default:
					return fmt.Errorf("consumed %d of %d: %w", gc.count(), gc.want, ctx.Err())
				}
			}
			continue // join errors are retried by the group itself
		}
		for _, a := range gen.Assignments[testTopic] {
			gen.Start(func(gctx context.Context) { gc.readPartition(gctx, gen, a) })
		}
		if started != nil {
			close(started)
			started = nil
		}
	}
}

func (gc *groupConsumer) count() int {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	return gc.n
}

func (gc *groupConsumer) readPartition(ctx context.Context, gen *kafka.Generation, a kafka.PartitionAssignment) {
	conn, err := (&kafka.Dialer{Timeout: time.Second}).DialLeader(ctx, "tcp", gc.addrs[0], testTopic, a.ID)
	if err != nil {
		return // ends the generation; the group rejoins
	}
	defer conn.Close()
	go func() { <-ctx.Done(); conn.SetDeadline(time.Now()) }()

	next := a.Offset
	if next < 0 {
		if next, err = conn.Seek(0, kafka.SeekStart); err != nil {
			return
		}
	} else if _, err := conn.Seek(next, kafka.SeekAbsolute); err != nil {
		return
	}
	for ctx.Err() == nil {
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		batch := conn.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond})
		var vals []string
		for {
			m, err := batch.ReadMessage()
			if err != nil {
				break
			}
			vals = append(vals, string(m.Value))
			next = m.Offset + 1
		}
		// kafka-go reports a fetch that found nothing new within MaxWait
		// as RequestTimedOut: an idle partition, not a failure.
		if err := batch.Close(); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, kafka.RequestTimedOut) {
			return
		}
		if len(vals) == 0 {
			continue
		}
		// Commit before counting, so a consumer that reached want has
		// committed everything it counted.
		if err := gen.CommitOffsets(map[string]map[int]int64{testTopic: {a.ID: next}}); err != nil {
			return
		}
		gc.mu.Lock()
		for _, v := range vals {
			if gc.seen[v] == 0 {
				gc.n++
			}
			gc.seen[v]++
		}
		if gc.n >= gc.want {
			select {
			case <-gc.done:
			default:
				close(gc.done)
			}
		}
		gc.mu.Unlock()
	}
}

func committed(t *testing.T, addrs []string, group string, partitions int) map[int]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	parts := make([]int, partitions)
	for i := range parts {
		parts[i] = i
	}
	cl := newClient(addrs)
	defer cl.Transport.(*kafka.Transport).CloseIdleConnections()
	resp, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{testTopic: parts}})
	if err != nil {
		t.Fatalf("offset fetch: %v", err)
	}
	if resp.Error != nil {
		t.Fatalf("offset fetch: %v", resp.Error)
	}
	out := map[int]int64{}
	for _, p := range resp.Topics[testTopic] {
		if p.Error != nil {
			t.Fatalf("offset fetch partition %d: %v", p.Partition, p.Error)
		}
		out[p.Partition] = p.CommittedOffset
	}
	return out
}

func endOffsets(t *testing.T, addrs []string, partitions int) map[int]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	reqs := make([]kafka.OffsetRequest, partitions)
	for i := range reqs {
		reqs[i] = kafka.LastOffsetOf(i)
	}
	cl := newClient(addrs)
	defer cl.Transport.(*kafka.Transport).CloseIdleConnections()
	resp, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{testTopic: reqs}})
	if err != nil {
		t.Fatalf("list offsets: %v", err)
	}
	out := map[int]int64{}
	for _, p := range resp.Topics[testTopic] {
		if p.Error != nil {
			t.Fatalf("list offsets partition %d: %v", p.Partition, p.Error)
		}
		out[p.Partition] = p.LastOffset
	}
	return out
}

// newClient returns a client with its own transport. kafka-go's shared
// DefaultTransport pools connections, and after a broker restart the first
// request on a pooled connection fails with "unexpected EOF".
func newClient(addrs []string) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(addrs...), Timeout: 5 * time.Second, Transport: &kafka.Transport{}}
}

func checkAll(t *testing.T, got map[string]int, want []string) {
	t.Helper()
	for _, v := range want {
		if got[v] == 0 {
			t.Fatalf("value %q not consumed (got %d distinct values, want %d)", v, len(got), len(want))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("consumed %d distinct values, want %d", len(got), len(want))
	}
}

func sum(m map[int]int64) int64 {
	var s int64
	for _, v := range m {
		s += v
	}
	return s
}

func TestKafkaGoRoundTrip(t *testing.T) {
	for _, brokers := range []int{1, 3} {
		t.Run(fmt.Sprintf("brokers=%d", brokers), func(t *testing.T) {
			t.Parallel()
			const parts = 4
			b := startBroker(t, Config{Topics: map[string]int32{testTopic: parts}, Brokers: brokers})
			addrs := b.Addrs()
			if len(addrs) != brokers {
				t.Fatalf("Addrs() = %v, want %d addresses", addrs, brokers)
			}

			want := produce(t, addrs, "a", 2000)
			ends := endOffsets(t, addrs, parts)
			if sum(ends) != 2000 {
				t.Fatalf("end offsets %v sum to %d, want 2000", ends, sum(ends))
			}

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			got := consume(ctx, t, addrs, "g1", len(want), nil)
			checkAll(t, got, want)
			if c := committed(t, addrs, "g1", parts); !equalOffsets(c, ends) {
				t.Fatalf("committed %v, want end offsets %v", c, ends)
			}
		})
	}
}

func equalOffsets(a, b map[int]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestRestartKeepsDataAndOffsets checks that a restart keeps records and
// committed offsets, and that a group resumes from its commits afterwards.
func TestRestartKeepsDataAndOffsets(t *testing.T) {
	t.Parallel()
	const parts = 3
	b := startBroker(t, Config{Topics: map[string]int32{testTopic: parts}})
	addrs := b.Addrs()

	first := produce(t, addrs, "a", 900)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	checkAll(t, consume(ctx, t, addrs, "g", len(first), nil), first)
	ends := endOffsets(t, addrs, parts)
	commits := committed(t, addrs, "g", parts)

	if err := b.Restart(ctx); err != nil {
		t.Fatalf("restart: %v", err)
	}
	if got := b.Addrs(); !slices.Equal(got, addrs) {
		t.Fatalf("Addrs after restart = %v, want %v", got, addrs)
	}
	if got := endOffsets(t, addrs, parts); !equalOffsets(got, ends) {
		t.Fatalf("end offsets after restart %v, want %v", got, ends)
	}
	if got := committed(t, addrs, "g", parts); !equalOffsets(got, commits) {
		t.Fatalf("committed offsets after restart %v, want %v", got, commits)
	}

	// Old records are still readable by a new group.
	checkAll(t, consume(ctx, t, addrs, "fresh", len(first), nil), first)

	// The old group resumes at its commits: it sees only the new records.
	second := produce(t, addrs, "b", 300)
	got := consume(ctx, t, addrs, "g", len(second), nil)
	checkAll(t, got, second)
}

// TestRestartUnderLoad restarts the broker while a group is consuming and
// checks that the group recovers and nothing is lost.
func TestRestartUnderLoad(t *testing.T) {
	t.Parallel()
	const parts = 4
	b := startBroker(t, Config{Topics: map[string]int32{testTopic: parts}})
	addrs := b.Addrs()

	before := produce(t, addrs, "a", 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	started := make(chan struct{})
	var got map[string]int
	done := make(chan struct{})
	go func() {
		defer close(done)
		got = consume(ctx, t, addrs, "g", 2000, started)
	}()
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("group never got a generation")
	}
	if err := b.Restart(ctx); err != nil {
		t.Fatalf("restart: %v", err)
	}
	after := produce(t, addrs, "b", 1000)
	<-done
	checkAll(t, got, append(before, after...))
	if c, e := committed(t, addrs, "g", parts), endOffsets(t, addrs, parts); !equalOffsets(c, e) {
		t.Fatalf("committed %v, want end offsets %v", c, e)
	}
}

func TestStopResume(t *testing.T) {
	t.Parallel()
	b := startBroker(t, Config{Topics: map[string]int32{testTopic: 1}})
	addrs := b.Addrs()
	produce(t, addrs, "a", 10)

	if err := b.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if b.Cluster() != nil {
		t.Fatal("Cluster() is not nil while stopped")
	}
	if conn, err := net.DialTimeout("tcp", addrs[0], time.Second); err == nil {
		conn.Close()
		t.Fatal("dial succeeded while stopped")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.CreateTopic(ctx, "other", 1); !errors.Is(err, ErrStopped) {
		t.Fatalf("CreateTopic while stopped: %v, want ErrStopped", err)
	}
	if err := b.Resume(ctx); err != nil {
		t.Fatalf("resume: %v", err)
	}
	if got := endOffsets(t, addrs, 1); got[0] != 10 {
		t.Fatalf("end offset after resume %v, want 10", got)
	}
	if err := b.CreateTopic(ctx, "other", 2); err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	if err := b.CreateTopic(ctx, "other", 2); !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("CreateTopic twice: %v, want TopicAlreadyExists", err)
	}

	b.Close()
	b.Close() // idempotent
	if err := b.Resume(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Resume after Close: %v, want ErrClosed", err)
	}
	if _, err := os.Stat(b.DataDir()); !os.IsNotExist(err) {
		t.Fatalf("temporary data dir %s not removed: %v", b.DataDir(), err)
	}
}

// TestDataDirReuse checks that a named DataDir survives Close and that a new
// Start from it keeps topics and records.
func TestDataDirReuse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := Config{Topics: map[string]int32{testTopic: 2}, DataDir: dir}
	b := startBroker(t, cfg)
	produce(t, b.Addrs(), "a", 50)
	b.Close()

	b2 := startBroker(t, cfg)
	if got := sum(endOffsets(t, b2.Addrs(), 2)); got != 50 {
		t.Fatalf("records after reopening %s: %d, want 50", dir, got)
	}
}

// TestFaultInjection shows the kfake fault hooks reaching a kafka-go client.
func TestFaultInjection(t *testing.T) {
	t.Parallel()
	b := startBroker(t, Config{Topics: map[string]int32{testTopic: 1}})
	h := b.Cluster().Fault(kfake.Fault{
		Keys:  []kmsg.Key{kmsg.ListOffsets},
		Err:   kerr.NotLeaderForPartition,
		Count: -1,
	})
	conn, err := kafka.DialLeader(context.Background(), "tcp", b.Addrs()[0], testTopic, 0)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	if _, err := conn.ReadLastOffset(); !errors.Is(err, kafka.NotLeaderForPartition) {
		t.Fatalf("ReadLastOffset with fault: %v, want NotLeaderForPartition", err)
	}
	h.Remove()
	if _, err := conn.ReadLastOffset(); err != nil {
		t.Fatalf("ReadLastOffset after removing fault: %v", err)
	}
	if h.Hits() != 1 {
		t.Fatalf("fault hits = %d, want 1", h.Hits())
	}
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, cfg := range []Config{
		{Addr: "nonsense"},
		{Addr: "127.0.0.1:x"},
		{Topics: map[string]int32{"t": 0}},
	} {
		if b, err := Start(ctx, cfg, nil); err == nil {
			b.Close()
			t.Errorf("Start(%+v) succeeded, want error", cfg)
		}
	}
	// A taken port fails at once rather than waiting.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if b, err := Start(ctx, Config{Addr: ln.Addr().String()}, nil); err == nil {
		b.Close()
		t.Error("Start on a taken port succeeded")
	}
}

func TestFixedPort(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	b := startBroker(t, Config{Addr: addr, Topics: map[string]int32{testTopic: 1}})
	if got := b.Addrs(); len(got) != 1 || got[0] != addr {
		t.Fatalf("Addrs() = %v, want [%s]", got, addr)
	}
	produce(t, b.Addrs(), "a", 3)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Restart(ctx); err != nil {
		t.Fatalf("restart: %v", err)
	}
	if got := endOffsets(t, []string{addr}, 1); got[0] != 3 {
		t.Fatalf("end offset after restart = %v, want 3", got)
	}
}
