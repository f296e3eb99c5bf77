package hostile

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"flowlake/internal/testenv"
	"flowlake/stages/deadletter"
)

var tmpRoot string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "flowlake-hostile-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "hostile:", err)
		os.Exit(1)
	}
	tmpRoot = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// flowlakeBin builds the flowlake command once per test binary.
func flowlakeBin(t testing.TB) string { return testenv.FlowlakeBinary(t, tmpRoot) }

// run is one finished flowlake process.
type run struct {
	code    int
	log     string
	peakRSS int64 // bytes: the last VmHWM read while it ran
	summary map[string]any
}

// runFlowlake runs `flowlake run` to its end (--exit-when-idle) against
// env's topic with sink dir and extra flags, sampling VmHWM from
// /proc/<pid>/status while it runs.
func runFlowlake(t *testing.T, env *testenv.KafkaEnv, group, dir string, extra ...string) *run {
	t.Helper()
	args := append([]string{"run", "--brokers", strings.Join(env.Brokers, ","), "--topic", env.Topic, "--group", group,
		"--sink", "file://" + dir, "--exit-when-idle", "2s", "--log-format", "json", "--progress-interval", "0s",
		"--config", kafkaConfig(t)}, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, flowlakeBin(t), args...)
	var logBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
	cmd.Env = childEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &run{}
	exited, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			if hwm, ok := procHWM(cmd.Process.Pid); ok {
				r.peakRSS = max(r.peakRSS, hwm)
			}
			select {
			case <-exited:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	err := cmd.Wait()
	close(exited)
	<-done
	// Not ru_maxrss: Linux carries the forking test process's peak across
	// exec into it. VmHWM belongs to the child's own memory.
	r.code = cmd.ProcessState.ExitCode()
	r.log = logBuf.String()
	if err != nil && r.code == -1 {
		t.Fatalf("flowlake did not finish: %v\n%s", err, tail(r.log, 40))
	}
	r.summary = findLog(r.log, "run finished")
	t.Logf("flowlake %s: exit %d, peak RSS %d MiB, summary %v", group, r.code, r.peakRSS>>20, r.summary)
	return r
}

// kafkaConfig sets a short session timeout, so a rerun gets its
// partitions quickly.
func kafkaConfig(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "flowlake.yaml")
	if err := os.WriteFile(p, []byte("kafka:\n  session_timeout: 6s\n  rebalance_timeout: 10s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FLOWLAKE_") && !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return env
}

// procHWM reads the peak resident set size (VmHWM) of a process.
func procHWM(pid int) (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err == nil
			}
		}
	}
	return 0, false
}

// findLog returns the last JSON log line with msg, or nil.
func findLog(log, msg string) map[string]any {
	var found map[string]any
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == msg {
			found = m
		}
	}
	return found
}

func (r *run) num(t *testing.T, key string) int64 {
	t.Helper()
	if r.summary == nil {
		t.Fatalf("no run summary in the log:\n%s", tail(r.log, 30))
	}
	v, ok := r.summary[key].(float64)
	if !ok {
		return 0
	}
	return int64(v)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// outputs is what a run left in the sink, read independently of flowlake.
type outputs struct {
	rows        int64
	files       []string
	rowValues   []map[string]any
	deadLetters int64 // rejected records, a summary counting for its records
	letters     []deadletter.Record
}

func readOutputs(t *testing.T, dir string) outputs {
	t.Helper()
	var o outputs
	for key, f := range testenv.ReadParquetDir(t, dir) {
		o.files = append(o.files, key)
		o.rows += int64(len(f.Rows))
		o.rowValues = append(o.rowValues, f.Rows...)
	}
	_ = filepath.WalkDir(filepath.Join(dir, "_dead_letters"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".jsonl") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			var r deadletter.Record
			if err := json.Unmarshal(line, &r); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			o.letters = append(o.letters, r)
			o.deadLetters += r.Count()
		}
		return nil
	})
	return o
}

// checkBalance asserts records in = rows + dead letters, from the run's
// summary and from the outputs on disk.
func checkBalance(t *testing.T, r *run, o outputs, wantIn int64) {
	t.Helper()
	in, rows, dead := r.num(t, "records_in"), r.num(t, "rows_written"), r.num(t, "dead_letters")
	if in != rows+dead || in != wantIn {
		t.Fatalf("log: records_in %d, rows_written %d + dead_letters %d; want %d records in", in, rows, dead, wantIn)
	}
	if o.rows != rows || o.deadLetters != dead {
		t.Fatalf("on disk: %d rows and %d dead letters (in %d entries), the log says %d and %d", o.rows, o.deadLetters, len(o.letters), rows, dead)
	}
}

// checkRSS asserts the child's peak RSS stayed under limit.
func checkRSS(t *testing.T, r *run, limit int64) {
	t.Helper()
	if r.peakRSS == 0 {
		t.Fatal("peak RSS was never read")
	}
	if r.peakRSS > limit {
		t.Fatalf("peak RSS %d MiB, limit %d MiB", r.peakRSS>>20, limit>>20)
	}
}
