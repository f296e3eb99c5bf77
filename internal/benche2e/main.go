// Command benche2e measures flowlake as a user runs it: the release binary,
// cold, against a Kafka-protocol broker running as a separate process on
// loopback, loaded with flowlake's own generator, with ENI enrichment on and
// a local sink, from process start to a clean exit. Beside it, from the same
// run and the same topic, it measures two references: kafka-go's raw batch
// consume (DialLeader/ReadBatch per partition, keeping nothing) and
// parquet-go's encode-only rate on the same rows, and prints flowlake's
// throughput as ratios to both, since the machine may be shared.
//
// It is run by `make bench-e2e`, never by `go test`.
//
//	benche2e -bin bin/flowlake [-records 1000000] [-lines 1,100] [-accounts 5] [-hours 3] [-key-by eni]
//
// `benche2e broker` is the broker process it starts (an internal/broker
// cluster, killed when its stdin closes).
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"

	"flowlake/internal/broker"
)

const topic = "vpc-flow-logs"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "broker" {
		if err := brokerMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "broker:", err)
			os.Exit(1)
		}
		return
	}
	if err := benchMain(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bench-e2e:", err)
		os.Exit(1)
	}
}

// brokerMain runs a kfake cluster with the topic, prints its address on
// stdout and runs until stdin closes (the bench exited or died).
func brokerMain(args []string) error {
	fset := flag.NewFlagSet("broker", flag.ContinueOnError)
	partitions := fset.Int("partitions", 8, "partitions of the topic")
	dir := fset.String("dir", "", "data directory")
	names := fset.String("topics", topic, "topics to create, comma separated")
	if err := fset.Parse(args); err != nil {
		return err
	}
	topics := map[string]int32{}
	for _, t := range strings.Split(*names, ",") {
		topics[t] = int32(*partitions)
	}
	b, err := broker.Start(context.Background(), broker.Config{Topics: topics, DataDir: *dir}, nil)
	if err != nil {
		return err
	}
	defer b.Close()
	fmt.Println(strings.Join(b.Addrs(), ","))
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

type options struct {
	bin        string
	records    int
	lines      []int
	partitions int
	accounts   int
	keyBy      string
	hours      int
	idle       time.Duration
	keep       bool
	runs       int
	extra      []string
}

func benchMain(args []string) error {
	var o options
	fset := flag.NewFlagSet("bench-e2e", flag.ContinueOnError)
	fset.StringVar(&o.bin, "bin", "bin/flowlake", "the flowlake binary to measure")
	fset.IntVar(&o.records, "records", envInt("BENCH_RECORDS", 1_000_000), "records per run (env BENCH_RECORDS)")
	linesFlag := fset.String("lines", envStr("BENCH_LINES", "1,100"), "records per Kafka message, comma separated (env BENCH_LINES)")
	fset.IntVar(&o.partitions, "partitions", 8, "partitions of the topic")
	fset.IntVar(&o.accounts, "accounts", envInt("BENCH_ACCOUNTS", 5), "accounts (env BENCH_ACCOUNTS)")
	fset.StringVar(&o.keyBy, "key-by", cmp.Or(os.Getenv("BENCH_KEY_BY"), "eni"), "message key, eni or account: which records share a partition (env BENCH_KEY_BY)")
	fset.IntVar(&o.hours, "hours", envInt("BENCH_HOURS", 3), "hours the records cover (env BENCH_HOURS)")
	fset.DurationVar(&o.idle, "exit-when-idle", 3*time.Second, "flowlake's --exit-when-idle")
	fset.BoolVar(&o.keep, "keep", false, "keep the work directory")
	fset.IntVar(&o.runs, "runs", envInt("BENCH_RUNS", 1), "runs per records/message, each with its own broker; the table shows the run of median throughput (env BENCH_RUNS)")
	extra := fset.String("flowlake-args", envStr("BENCH_FLOWLAKE_ARGS", ""), "extra flowlake run arguments, space separated (env BENCH_FLOWLAKE_ARGS)")
	if err := fset.Parse(args); err != nil {
		return err
	}
	o.extra = strings.Fields(*extra)
	if o.runs < 1 {
		return fmt.Errorf("-runs: %d is not a positive number", o.runs)
	}
	for _, s := range strings.Split(*linesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-lines: %q is not a positive number", s)
		}
		o.lines = append(o.lines, n)
	}
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return err
	}
	o.bin = bin
	if _, err := os.Stat(o.bin); err != nil {
		return fmt.Errorf("flowlake binary: %w (run make build)", err)
	}
	work, err := os.MkdirTemp("", "flowlake-bench-e2e-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(os.Stderr, "work directory:", work)
	} else {
		defer os.RemoveAll(work)
	}

	host, _ := os.Hostname()
	fmt.Printf("flowlake bench-e2e  %s  host=%s  cpus=%d  go=%s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), host, runtime.NumCPU(), runtime.Version())
	fmt.Printf("records=%d partitions=%d accounts=%d hours=%d key=%s enrichment=on sink=local exit-when-idle=%v (subtracted: measured to the last durable write)\n",
		o.records, o.partitions, o.accounts, o.hours, o.keyBy, o.idle)
	fmt.Printf("load average at start: %s\n", loadavg())
	if us, err := freshPageCost(64 << 20); err == nil {
		pageCostUS = us
		// On some VMs a page fault costs tens of microseconds: then a
		// process's heap growing to its peak is a visible part of a
		// short run's CPU (see the page faults flowlake reports).
		fmt.Printf("this machine: faulting in a fresh 4 KiB page costs %.1f µs of CPU (touching 64 MiB of new memory)\n", us)
	}
	var results []result
	var spreads []string
	for _, lines := range o.lines {
		var runs []result
		for i := range o.runs {
			dir := filepath.Join(work, "l"+strconv.Itoa(lines))
			if o.runs > 1 {
				dir += "-" + strconv.Itoa(i+1)
			}
			r, err := runOne(o, dir, lines)
			if err != nil {
				return fmt.Errorf("%d records/message: %w", lines, err)
			}
			runs = append(runs, r)
			r.print(os.Stdout)
		}
		m, spread := median(runs)
		results = append(results, m)
		if spread != "" {
			spreads = append(spreads, fmt.Sprintf("%d per message: %s", lines, spread))
		}
	}
	fmt.Printf("load average at end: %s\n\n", loadavg())
	printTable(os.Stdout, o, results)
	if len(spreads) > 0 {
		fmt.Printf("\neach row is the run of median throughput of %d; flowlake records/s and CPU s per 1M over the runs:\n", o.runs)
		for _, s := range spreads {
			fmt.Println("  " + s)
		}
	}
	return nil
}

// median returns the run of median flowlake throughput (the lower middle
// one of an even count), whole, so that its ratios stay those of one run,
// and the runs' spread; the spread is empty for a single run.
func median(runs []result) (result, string) {
	sorted := slices.Clone(runs)
	slices.SortFunc(sorted, func(a, b result) int { return cmp.Compare(a.rate(), b.rate()) })
	m := sorted[(len(sorted)-1)/2]
	if len(runs) == 1 {
		return m, ""
	}
	var rates, cpus []string
	for _, r := range runs {
		rates = append(rates, fmt.Sprintf("%.0fk", r.rate()/1e3))
		cpus = append(cpus, fmt.Sprintf("%.2f", r.cpuPerM()))
	}
	return m, strings.Join(rates, ", ") + " records/s; " + strings.Join(cpus, ", ") + " CPU s per 1M"
}

type result struct {
	lines                  int
	records, messages      int64
	valueBytes             int64
	rawSecs, encSecs       float64
	rawCPU, encCPU         float64
	encRows                int
	wall, toDurable        float64
	userSecs, sysSecs      float64
	minorFaults            int64
	brokerCPU              float64
	peakRSS                int64
	rowsWritten, deadLines int64
	files                  int
}

func (r result) rate() float64    { return float64(r.records) / r.toDurable }
func (r result) rawRate() float64 { return float64(r.records) / r.rawSecs }
func (r result) encRate() float64 { return float64(r.encRows) / r.encSecs }
func (r result) cpuPerM() float64 {
	return (r.userSecs + r.sysSecs) / float64(r.records) * 1e6
}

func (r result) print(w io.Writer) {
	fmt.Fprintf(w, "\n== %d record(s) per message: %d records in %d messages, %.1f MB of values\n", r.lines, r.records, r.messages, float64(r.valueBytes)/1e6)
	fmt.Fprintf(w, "kafka-go raw batch consume (warm broker):  %.3fs  %.0f records/s  %.0f messages/s  %.2f CPU s per 1M records\n",
		r.rawSecs, r.rawRate(), float64(r.messages)/r.rawSecs, r.rawCPU/float64(r.records)*1e6)
	fmt.Fprintf(w, "parquet-go encode only:      %d rows in %.3fs  %.0f rows/s  %.2f CPU s per 1M rows\n",
		r.encRows, r.encSecs, r.encRate(), r.encCPU/float64(r.encRows)*1e6)
	fmt.Fprintf(w, "flowlake:                    %.3fs to the last durable write (%.3fs to exit)  %.0f records/s  %.1f MB/s\n",
		r.toDurable, r.wall, r.rate(), float64(r.valueBytes)/1e6/r.toDurable)
	fmt.Fprintf(w, "  cpu %.2fs user + %.2fs sys = %.2f CPU s per 1M records; %d page faults (%.0f MiB of fresh pages); peak RSS %.0f MiB; %d rows + %d dead letters in %d files\n",
		r.userSecs, r.sysSecs, r.cpuPerM(), r.minorFaults, float64(r.minorFaults)*4096/(1<<20), float64(r.peakRSS)/(1<<20), r.rowsWritten, r.deadLines, r.files)
	if r.brokerCPU > 0 {
		fmt.Fprintf(w, "  the broker meanwhile: %.2f CPU s; the two processes used %.0f%% of the %d CPUs to the last durable write\n",
			r.brokerCPU, 100*(r.userSecs+r.sysSecs+r.brokerCPU)/(r.toDurable*float64(runtime.NumCPU())), runtime.NumCPU())
	}
	if pageCostUS > 0 {
		// An upper bound: a fresh page's measured cost includes zeroing
		// it and the first touch, which huge pages do not save either.
		fmt.Fprintf(w, "  its page faults: at most %.2f CPU s at this machine's cost of a fresh page\n", float64(r.minorFaults)*pageCostUS/1e6)
	}
	fmt.Fprintf(w, "  ratio to kafka-go raw consume %.2f, to parquet-go encode-only %.2f\n", r.rate()/r.rawRate(), r.rate()/r.encRate())
}

func printTable(w io.Writer, o options, rs []result) {
	fmt.Fprintf(w, "| records/message | flowlake records/s | MB/s | CPU s per 1M records | peak RSS | vs kafka-go raw consume | vs parquet-go encode-only |\n")
	fmt.Fprintf(w, "|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		fmt.Fprintf(w, "| %d | %.0fk | %.0f | %.2f | %.0f MiB | %.2f (%.0fk records/s) | %.2f (%.0fk rows/s) |\n",
			r.lines, r.rate()/1e3, float64(r.valueBytes)/1e6/r.toDurable, r.cpuPerM(), float64(r.peakRSS)/(1<<20),
			r.rate()/r.rawRate(), r.rawRate()/1e3, r.rate()/r.encRate(), r.encRate()/1e3)
	}
}

func runOne(o options, dir string, lines int) (result, error) {
	r := result{lines: lines}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return r, err
	}
	self, err := os.Executable()
	if err != nil {
		return r, err
	}
	// The broker: a separate process, ended by closing its stdin.
	bcmd := exec.Command(self, "broker", "-partitions", strconv.Itoa(o.partitions), "-dir", filepath.Join(dir, "broker"))
	bstdin, err := bcmd.StdinPipe()
	if err != nil {
		return r, err
	}
	bout, err := bcmd.StdoutPipe()
	if err != nil {
		return r, err
	}
	bcmd.Stderr = os.Stderr
	if err := bcmd.Start(); err != nil {
		return r, fmt.Errorf("start broker: %w", err)
	}
	defer func() {
		_ = bstdin.Close()
		done := make(chan struct{})
		go func() { _ = bcmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = bcmd.Process.Kill()
			<-done
		}
	}()
	addrLine, err := bufio.NewReader(bout).ReadString('\n')
	if err != nil {
		return r, fmt.Errorf("broker address: %w", err)
	}
	addr := strings.TrimSpace(addrLine)

	// Load the topic with flowlake's generator, and write its inventory.
	inv, subnets := filepath.Join(dir, "enis.json"), filepath.Join(dir, "subnets.json")
	genArgs := []string{"gen", "--records", strconv.Itoa(o.records), "--lines-per-message", strconv.Itoa(lines),
		"--accounts", strconv.Itoa(o.accounts), "--hours", strconv.Itoa(o.hours), "--seed", "1", "--key-by", o.keyBy,
		"--brokers", addr, "--topic", topic, "--inventory-out", inv, "--subnets-out", subnets}
	t0 := time.Now()
	if out, err := exec.Command(o.bin, genArgs...).CombinedOutput(); err != nil {
		return r, fmt.Errorf("flowlake gen: %w\n%s", err, out)
	}
	fmt.Fprintf(os.Stderr, "loaded %d records at %d per message in %v\n", o.records, lines, time.Since(t0).Round(time.Millisecond))

	// The broker serves a freshly loaded topic about half as fast the
	// first time it is read (1.56 s, then 0.79-0.91 s, for 1M records at 1
	// per message): its fetch path grows into fresh memory. flowlake, run
	// after the raw consume, meets a warm broker, so the raw consume must
	// too, or its rate is understated and flowlake's ratio to it inflated.
	if _, _, _, err := rawConsume(addr, o.partitions); err != nil {
		return r, fmt.Errorf("warm-up consume: %w", err)
	}
	cpu0 := selfCPU()
	r.messages, r.valueBytes, r.rawSecs, err = rawConsume(addr, o.partitions)
	r.rawCPU = selfCPU() - cpu0
	if err != nil {
		return r, fmt.Errorf("raw consume: %w", err)
	}
	r.records = int64(o.records)

	r.encRows, r.encSecs, r.encCPU, err = encodeOnly(min(o.records, 1_000_000), lines, o.accounts, o.hours)
	if err != nil {
		return r, fmt.Errorf("encode only: %w", err)
	}

	// flowlake, cold.
	out := filepath.Join(dir, "out")
	runArgs := append([]string{"run", "--brokers", addr, "--topic", topic, "--group", "bench",
		"--sink", "file://" + out, "--eni-inventory", inv, "--subnet-inventory", subnets,
		"--exit-when-idle", o.idle.String()}, o.extra...)
	var stderr bytes.Buffer
	cmd := exec.Command(o.bin, runArgs...)
	cmd.Stderr = &stderr
	broker0 := procCPU(bcmd.Process.Pid)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return r, fmt.Errorf("flowlake run: %w", err)
	}
	// The child's VmHWM, read while it runs: rusage's maxrss would also
	// count this process's memory, which the child shared until its exec.
	hwm := make(chan int64, 1)
	stopPoll := make(chan struct{})
	go func() {
		peak := int64(0)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, vmHWM(cmd.Process.Pid))
			select {
			case <-stopPoll:
				hwm <- peak
				return
			case <-t.C:
			}
		}
	}()
	err = cmd.Wait()
	r.brokerCPU = procCPU(bcmd.Process.Pid) - broker0
	close(stopPoll)
	r.peakRSS = <-hwm
	_ = os.WriteFile(filepath.Join(dir, "flowlake.log"), stderr.Bytes(), 0o644)
	if err != nil {
		return r, fmt.Errorf("flowlake run: %w\n%s", err, tail(stderr.String(), 4000))
	}
	r.wall = time.Since(start).Seconds()
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return r, errors.New("no rusage for the flowlake process")
	}
	r.userSecs = time.Duration(ru.Utime.Nano()).Seconds()
	r.sysSecs = time.Duration(ru.Stime.Nano()).Seconds()
	r.minorFaults = ru.Minflt
	last, files, err := lastWrite(out)
	if err != nil {
		return r, err
	}
	r.toDurable = last.Sub(start).Seconds()
	r.files = files
	summary := runSummary.FindStringSubmatch(stderr.String())
	if summary == nil {
		return r, fmt.Errorf("no run summary in flowlake's log:\n%s", tail(stderr.String(), 4000))
	}
	in, _ := strconv.ParseInt(summary[1], 10, 64)
	r.rowsWritten, _ = strconv.ParseInt(summary[2], 10, 64)
	r.deadLines, _ = strconv.ParseInt(summary[3], 10, 64)
	if in != r.records || r.rowsWritten+r.deadLines != r.records {
		return r, fmt.Errorf("flowlake read %d records and wrote %d rows + %d dead letters; the topic has %d\n%s", in, r.rowsWritten, r.deadLines, r.records, tail(stderr.String(), 3000))
	}
	return r, nil
}

var runSummary = regexp.MustCompile(`run finished.* records_in=(\d+) rows_written=(\d+) dead_letters=(\d+)`)

// lastWrite returns the newest modification time of the files under dir
// (the checkpoints are written after the data they cover) and the number of
// Parquet files.
func lastWrite(dir string) (time.Time, int, error) {
	var last time.Time
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.ModTime().After(last) {
			last = info.ModTime()
		}
		if strings.HasSuffix(path, ".parquet") {
			files++
		}
		return nil
	})
	if err == nil && last.IsZero() {
		err = fmt.Errorf("nothing was written under %s", dir)
	}
	return last, files, err
}

// rawConsume reads every partition to its end with one kafka-go connection
// per partition, in parallel, keeping nothing: the rate a Kafka client can
// deliver on this machine. It returns messages, value bytes and seconds.
func rawConsume(addr string, partitions int) (int64, int64, float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var (
		mu             sync.Mutex
		msgs, valBytes int64
		firstErr       error
		wg             sync.WaitGroup
	)
	conns := make([]*kafka.Conn, partitions)
	ends := make([]int64, partitions)
	for p := range partitions {
		c, err := kafka.DialLeader(ctx, "tcp", strings.Split(addr, ",")[0], topic, p)
		if err != nil {
			return 0, 0, 0, err
		}
		defer c.Close()
		if ends[p], err = c.ReadLastOffset(); err != nil {
			return 0, 0, 0, err
		}
		conns[p] = c
	}
	start := time.Now()
	for p, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n, nb, off int64
			for off < ends[p] {
				if _, err := c.Seek(off, kafka.SeekAbsolute|kafka.SeekDontCheck); err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
					return
				}
				_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
				b := c.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: 4 << 20, MaxWait: 500 * time.Millisecond})
				for {
					m, err := b.ReadMessage()
					if err != nil {
						break
					}
					if m.Offset < off {
						continue
					}
					n++
					nb += int64(len(m.Value))
					off = m.Offset + 1
				}
				if err := b.Close(); err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
					return
				}
			}
			mu.Lock()
			msgs += n
			valBytes += nb
			mu.Unlock()
		}()
	}
	wg.Wait()
	return msgs, valBytes, time.Since(start).Seconds(), firstErr
}

// vmHWM is the peak resident memory of process pid, in bytes (0 once it
// is gone).
func vmHWM(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// pageCostUS is what a fresh page costs on this machine (µs of CPU), 0
// when unknown.
var pageCostUS float64

// freshPageCost maps n bytes of new anonymous memory, writes one byte per
// page and returns the CPU microseconds each page cost.
func freshPageCost(n int) (float64, error) {
	mem, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return 0, err
	}
	defer syscall.Munmap(mem)
	cpu0 := selfCPU()
	for i := 0; i < n; i += 4096 {
		mem[i] = 1
	}
	return (selfCPU() - cpu0) * 1e6 / float64(n/4096), nil
}

// procCPU is the CPU time (user + system) process pid has used, 0 when
// /proc does not say.
func procCPU(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command may hold spaces: the fields counted here follow its ")".
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64) // field 14 of the line
	stime, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	return float64(utime+stime) / clockTicks
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/<pid>/stat's times:
// 100 on every Linux architecture Go runs on.
const clockTicks = 100

// selfCPU is this process's user+sys CPU seconds so far.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func envStr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
