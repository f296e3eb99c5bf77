package exactlyonce

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"flowlake/internal/testenv"
)

const (
	testTopic = "flows"
	flowLogID = "fl-0123456789abcdef0"
	// sampleEvery is how often a running instance's metrics and RSS are read.
	sampleEvery = 100 * time.Millisecond
)

var tmpRoot string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "flowlake-exactlyonce-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "exactlyonce:", err)
		os.Exit(1)
	}
	tmpRoot = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// flowlakeBin builds the flowlake command once per test binary and returns
// its path.
func flowlakeBin(tb testing.TB) string { return testenv.FlowlakeBinary(tb, tmpRoot) }

// seed returns the seed for random delays: FLOWLAKE_EXACTLYONCE_SEED when
// set, else def. Tests log it so a failing run can be repeated.
func seed(tb testing.TB, def uint64) *rand.Rand {
	tb.Helper()
	s := def
	if v := os.Getenv("FLOWLAKE_EXACTLYONCE_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			tb.Fatalf("FLOWLAKE_EXACTLYONCE_SEED=%q: %v", v, err)
		}
		s = n
	}
	tb.Logf("random seed %d (set FLOWLAKE_EXACTLYONCE_SEED to change it)", s)
	return rand.New(rand.NewPCG(s, 0x666c6f776c616b65))
}

// runArgs are the flags every test passes to `flowlake run`.
func runArgs(k *testenv.KafkaEnv, group, sinkURL, configFile string, extra ...string) []string {
	args := []string{"run",
		"--brokers", strings.Join(k.Brokers, ","),
		"--topic", k.Topic,
		"--group", group,
		"--sink", sinkURL,
		"--flow-log-id", flowLogID,
		"--metrics-addr", "127.0.0.1:0",
		"--progress-interval", "2s",
		"--log-level", "info",
	}
	if configFile != "" {
		args = append(args, "--config", configFile)
	}
	return append(args, extra...)
}

// s3Args points the S3 sink at a gateway.
func s3Args(s *testenv.S3Server) []string {
	return []string{"--s3-endpoint", s.Endpoint, "--s3-region", testenv.S3Region}
}

// kafkaConfig writes a YAML config with the group timeouts that have no
// flag. A short session timeout lets a restarted instance take over the
// partitions of a SIGKILLed one quickly (kfake's minimum is 6s).
func kafkaConfig(tb testing.TB, session, rebalance time.Duration) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "flowlake.yaml")
	body := fmt.Sprintf("kafka:\n  session_timeout: %s\n  rebalance_timeout: %s\n", session, rebalance)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// childEnv is the test's environment without variables that would change
// flowlake's configuration or credentials, plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "FLOWLAKE_") || strings.HasPrefix(kv, "AWS_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// instance is one flowlake process.
type instance struct {
	tb      testing.TB
	name    string
	cmd     *exec.Cmd
	log     *logWatch
	started time.Time
	done    chan struct{}
	exited  time.Time

	mu      sync.Mutex
	last    metricsSample // last successful scrape
	peakBuf float64       // highest flowlake_batch_buffered_bytes seen
	peakRSS int64         // highest VmRSS seen, bytes
	series  []point       // one sample per second, for timelines
}

// point is one sample of a running instance.
type point struct {
	at       time.Duration // since start
	records  float64
	rows     float64
	buffered float64
	rss      int64
}

// startInstance starts `flowlake` with args and env. Its stderr goes to a
// log file that is dumped when the test fails; it is killed when the test
// ends if still running.
func startInstance(tb testing.TB, name string, args, env []string) *instance {
	tb.Helper()
	logPath := filepath.Join(tb.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		tb.Fatal(err)
	}
	in := &instance{tb: tb, name: name, log: &logWatch{f: f}, done: make(chan struct{})}
	in.cmd = exec.Command(flowlakeBin(tb), args...)
	in.cmd.Env = env
	in.cmd.Stdout = in.log
	in.cmd.Stderr = in.log
	in.cmd.SysProcAttr = procAttr()
	if err := in.cmd.Start(); err != nil {
		f.Close()
		tb.Fatalf("start %s: %v", name, err)
	}
	in.started = time.Now()
	go func() {
		_ = in.cmd.Wait()
		in.mu.Lock()
		in.exited = time.Now()
		in.mu.Unlock()
		close(in.done)
	}()
	go in.sample()
	tb.Cleanup(func() {
		if in.running() {
			_ = in.cmd.Process.Kill()
			<-in.done
		}
		f.Close()
		if tb.Failed() {
			tb.Logf("--- %s log (last lines) ---\n%s", name, in.log.tail(60))
		}
	})
	return in
}

func (in *instance) pid() int { return in.cmd.Process.Pid }

func (in *instance) running() bool {
	select {
	case <-in.done:
		return false
	default:
		return true
	}
}

// sample scrapes /metrics and reads the RSS until the process exits.
func (in *instance) sample() {
	client := &http.Client{Timeout: 2 * time.Second}
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		select {
		case <-in.done:
			return
		case <-t.C:
		}
		rss, _ := procRSS(in.pid())
		in.mu.Lock()
		in.peakRSS = max(in.peakRSS, rss)
		in.mu.Unlock()
		addr := in.log.metricsAddr()
		if addr == "" {
			continue
		}
		m, err := scrape(client, addr)
		if err != nil {
			continue
		}
		in.mu.Lock()
		in.last = m
		buf := m.get("flowlake_batch_buffered_bytes")
		in.peakBuf = max(in.peakBuf, buf)
		at := time.Since(in.started)
		if n := len(in.series); n == 0 || at-in.series[n-1].at >= time.Second {
			in.series = append(in.series, point{at: at, records: m.get("flowlake_records_total"),
				rows: m.get("flowlake_rows_written_total"), buffered: buf, rss: rss})
		}
		in.mu.Unlock()
	}
}

// stats returns the last metrics sample and the peaks.
func (in *instance) stats() (last metricsSample, peakBuf float64, peakRSS int64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.last, in.peakBuf, in.peakRSS
}

// timeline renders the per-second samples, every step-th one.
func (in *instance) timeline(step int) string {
	in.mu.Lock()
	defer in.mu.Unlock()
	var b strings.Builder
	b.WriteString("    t(s)  records_in  rows_written  buffered(MiB)  rss(MiB)\n")
	for i, p := range in.series {
		if i%step != 0 && i != len(in.series)-1 {
			continue
		}
		fmt.Fprintf(&b, "  %6.1f  %10.0f  %12.0f  %13.1f  %8.1f\n", p.at.Seconds(), p.records, p.rows, p.buffered/(1<<20), float64(p.rss)/(1<<20))
	}
	return b.String()
}

// kill sends SIGKILL and waits for the process to exit.
func (in *instance) kill() {
	in.tb.Helper()
	_ = in.cmd.Process.Signal(syscall.SIGKILL)
	if !in.wait(30 * time.Second) {
		in.tb.Fatalf("%s: still running 30s after SIGKILL", in.name)
	}
}

// terminate sends SIGTERM: a clean stop.
func (in *instance) terminate() {
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
}

// wait waits up to d for the process to exit and reports whether it did.
func (in *instance) wait(d time.Duration) bool {
	select {
	case <-in.done:
		return true
	case <-time.After(d):
		return false
	}
}

// exitCode is the exit status once exited (-1 when killed by a signal).
func (in *instance) exitCode() int { return in.cmd.ProcessState.ExitCode() }

// runtime is how long the process ran.
func (in *instance) runtime() time.Duration {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.exited.IsZero() {
		return time.Since(in.started)
	}
	return in.exited.Sub(in.started)
}

// expectCleanExit waits up to d for a zero exit status.
func (in *instance) expectCleanExit(d time.Duration) {
	in.tb.Helper()
	if !in.wait(d) {
		in.tb.Fatalf("%s: still running after %v", in.name, d)
	}
	if code := in.exitCode(); code != 0 {
		in.tb.Fatalf("%s: exit status %d, want 0; last log lines:\n%s", in.name, code, in.log.tail(30))
	}
}

// waitUntil polls cond every 20ms for up to d, failing the test on timeout
// or when the instance exits first.
func (in *instance) waitUntil(d time.Duration, what string, cond func() bool) {
	in.tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if !in.running() {
			in.tb.Fatalf("%s exited (status %d) while waiting for %s; last log lines:\n%s", in.name, in.exitCode(), what, in.log.tail(30))
		}
		if time.Now().After(deadline) {
			in.tb.Fatalf("%s: no %s within %v; last log lines:\n%s", in.name, what, d, in.log.tail(30))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitAssigned waits for the n-th "partitions assigned" log line (n counts
// from the start of the process) and returns the partitions.
func (in *instance) waitAssigned(n int, d time.Duration) []int {
	in.tb.Helper()
	in.waitUntil(d, fmt.Sprintf("partition assignment #%d", n), func() bool { return in.log.assignments() >= n })
	return in.log.partitions()
}

// summary describes a finished run for the test log: its rows from the
// final summary line, or from the last metrics sample for a killed run.
func (in *instance) summary() string {
	last, peakBuf, peakRSS := in.stats()
	s := fmt.Sprintf("%s: ran %v", in.name, in.runtime().Round(10*time.Millisecond))
	if !in.running() {
		s += fmt.Sprintf(", exit %d", in.exitCode())
	}
	if fin := in.log.finished(); fin != "" {
		s += ", " + fin
	} else if last != nil {
		s += fmt.Sprintf(", last sample: records_in=%.0f rows_written=%.0f dead_letters=%.0f skipped_durable=%.0f",
			last.get("flowlake_records_total"), last.get("flowlake_rows_written_total"),
			last.sum("flowlake_dead_letters_total"), last.get("flowlake_records_skipped_durable_total"))
	}
	return s + fmt.Sprintf(", peak buffered %.1f MiB, peak RSS %.1f MiB", peakBuf/(1<<20), float64(peakRSS)/(1<<20))
}

// logWatch receives a child's output line by line: it writes it to a file
// and keeps what the tests wait for.
type logWatch struct {
	f *os.File

	mu        sync.Mutex
	partial   []byte
	nAssigned int
	parts     []int
	addr      string
	checked   bool // the sink and its owner record were checked
	fin       string
	lines     []string // last lines, for failure reports
}

var (
	assignedRE = regexp.MustCompile(`msg="partitions assigned".* partitions="?\[([0-9 ]*)\]`)
	metricsRE  = regexp.MustCompile(`msg="serving metrics" addr=(\S+)`)
	finishedRE = regexp.MustCompile(`msg="run finished" (.*)`)
	summaryRE  = regexp.MustCompile(`\b(records_in|rows_written|dead_letters|skipped_durable|files|seconds)=\S+`)
)

func (w *logWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, _ = w.f.Write(p)
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.line(string(w.partial[:i]))
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

func (w *logWatch) line(l string) {
	w.lines = append(w.lines, l)
	if len(w.lines) > 200 {
		w.lines = w.lines[len(w.lines)-100:]
	}
	if m := assignedRE.FindStringSubmatch(l); m != nil {
		w.nAssigned++
		w.parts = w.parts[:0]
		for _, f := range strings.Fields(m[1]) {
			n, _ := strconv.Atoi(f)
			w.parts = append(w.parts, n)
		}
	}
	if m := metricsRE.FindStringSubmatch(l); m != nil {
		w.addr = m[1]
	}
	if strings.Contains(l, `msg="sink owner checked"`) {
		w.checked = true
	}
	if m := finishedRE.FindStringSubmatch(l); m != nil {
		w.fin = strings.Join(summaryRE.FindAllString(m[1], -1), " ")
	}
}

func (w *logWatch) assignments() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.nAssigned
}

func (w *logWatch) partitions() []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]int(nil), w.parts...)
}

func (w *logWatch) metricsAddr() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.addr
}

// sinkChecked reports whether the startup sink checks (bucket, owner
// record) passed.
func (w *logWatch) sinkChecked() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.checked
}

func (w *logWatch) finished() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fin
}

func (w *logWatch) tail(n int) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	lines := w.lines
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// errorLine returns the last "flowlake run: ..." line: the error the
// command printed before a non-zero exit.
func (w *logWatch) errorLine() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := len(w.lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(w.lines[i], "flowlake run:") {
			return w.lines[i]
		}
	}
	return ""
}

// metricsSample is one scrape of /metrics: series (name with labels, as
// exposed) -> value.
type metricsSample map[string]float64

func (m metricsSample) get(series string) float64 { return m[series] }

// sum adds every series of a metric name, whatever its labels.
func (m metricsSample) sum(name string) float64 {
	var s float64
	for k, v := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			s += v
		}
	}
	return s
}

func scrape(client *http.Client, addr string) (metricsSample, error) {
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	m := metricsSample{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		m[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, errors.New("empty /metrics")
	}
	return m, nil
}

// commitOffsets commits offsets for group as a member of its own, the way
// any Kafka client (or a crash right after a checkpoint) can leave them.
func commitOffsets(tb testing.TB, k *testenv.KafkaEnv, group string, offsets map[int]int64) {
	tb.Helper()
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:             group,
		Brokers:        k.Brokers,
		Topics:         []string{k.Topic},
		SessionTimeout: 6 * time.Second,
		Timeout:        10 * time.Second,
	})
	if err != nil {
		tb.Fatal(err)
	}
	defer cg.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	gen, err := cg.Next(ctx)
	if err != nil {
		tb.Fatalf("join group %s: %v", group, err)
	}
	if err := gen.CommitOffsets(map[string]map[int]int64{k.Topic: offsets}); err != nil {
		tb.Fatalf("commit %v for group %s: %v", offsets, group, err)
	}
}
