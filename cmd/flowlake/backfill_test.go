package main

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"flowlake/internal/testenv"
	"flowlake/internal/testenv/sealcheck"
)

// TestBackfillKilled runs the backfill binary against a real S3 server,
// SIGKILLs it three times at random moments, then lets it finish: every
// good record is in the lake exactly once, every bad line is a dead
// letter with its object and line, and every hour is sealed with a
// manifest that lists exactly its files (rows read with arrow, SHA-256),
// whatever the kills cut; flowlake verify passes. A further run reads
// nothing.
func TestBackfillKilled(t *testing.T) {
	bin := binary(t)
	s3s := testenv.VersityGW(t)
	s3s.CreateBucket(t, "archive")
	s3s.CreateBucket(t, "lake")
	arch := testenv.WriteFlowArchive(t, s3s, "archive", "flows", testenv.ArchiveSpec{
		Accounts: []string{"111111111111", "222222222222"}, Regions: []string{"us-east-1", "eu-west-1"},
		Days:          []time.Time{time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC), time.Date(2024, 5, 3, 0, 0, 0, 0, time.UTC)},
		ObjectsPerDay: 3, LinesPerObject: 1500,
	})
	lake := filepath.Join(s3s.Dir, "lake", "out")
	args := []string{"backfill", "--from", "s3://archive/flows", "--sink", "s3://lake/out", "--s3-endpoint", s3s.Endpoint,
		"--s3-region", testenv.S3Region, "--batch-max-rows", "400", "--parallel", "2", "--progress", "log",
		"--progress-interval", "100ms", "--flow-log-id", "fl-0123456789abcdef0"}
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	t.Logf("kill seed %d", seed)
	// Kill at random points of the work: once a random number of new
	// files exist, after a random extra delay (mid-PUT, mid-read).
	countFiles := func() int {
		n := 0
		_ = filepath.WalkDir(lake, func(p string, d os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".parquet") {
				n++
			}
			return nil
		})
		return n
	}
	killed := 0
	for i := 0; i < 3; i++ {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), s3s.Env()...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		target := countFiles() + 1 + rng.IntN(8)
		extra := time.Duration(rng.IntN(40)) * time.Millisecond
		var err error
	poll:
		for {
			select {
			case err = <-exited:
				break poll
			case <-time.After(2 * time.Millisecond):
			}
			if countFiles() >= target {
				time.Sleep(extra)
				_ = cmd.Process.Kill()
				err = <-exited
				break
			}
		}
		if err != nil && strings.Contains(err.Error(), "killed") {
			killed++
		}
		t.Logf("run %d: kill at %d files + %v: %v; %d files now", i+1, target, extra, err, countFiles())
	}
	if killed < 2 {
		t.Fatalf("only %d of 3 runs were killed before finishing: the test did not exercise replays", killed)
	}
	stdout, stderr, code := run(t, bin, s3s.Env(), args...)
	if code != 0 {
		t.Fatalf("final run exit %d\n%s\n%s", code, stdout, tail(stderr))
	}
	if !strings.Contains(stdout, "12/12 folders done") {
		t.Fatalf("summary:\n%s", stdout)
	}
	if got := testenv.LakeRows(t, lake); !slices.Equal(got, arch.Rows) {
		t.Fatalf("rows: got %d, want %d (first differences: %q)", len(got), len(arch.Rows), firstDiff(got, arch.Rows))
	}
	if got := testenv.ArchiveDeadLetters(t, lake); !slices.Equal(got, arch.Bad) {
		t.Fatalf("dead letters: got %d, want %d (first differences: %q)", len(got), len(arch.Bad), firstDiff(got, arch.Bad))
	}
	// No --since/--until: every hour is sealed (2 accounts, 2 regions, 3
	// days, an hour per object), its manifest exactly its files.
	if !strings.Contains(stdout, "0 left open") {
		t.Fatalf("summary:\n%s", stdout)
	}
	if m := sealcheck.Lake(t, lake, nil); len(m) != 36 {
		t.Fatalf("%d sealed hours, want 36", len(m))
	}
	stdout, stderr, code = run(t, bin, s3s.Env(), "verify", "s3://lake/out", "--s3-endpoint", s3s.Endpoint, "--s3-region", testenv.S3Region)
	if code != 0 || !strings.Contains(stdout, "36 sealed hours") {
		t.Fatalf("verify exit %d:\n%s\n%s", code, stdout, tail(stderr))
	}
	// Done: a rerun reads nothing, seals nothing, and says so.
	stdout, _, code = run(t, bin, s3s.Env(), args...)
	if code != 0 || !strings.Contains(stdout, "0 read, 37 already done") || !strings.Contains(stdout, "records: 0 in") ||
		!strings.Contains(stdout, "hours: 0 sealed, 0 revised (late rows listed), 0 left open") {
		t.Fatalf("rerun exit %d:\n%s", code, stdout)
	}
}

func TestBackfillDryRunAndErrors(t *testing.T) {
	bin := binary(t)
	s3s := testenv.VersityGW(t)
	s3s.CreateBucket(t, "archive")
	testenv.WriteFlowArchive(t, s3s, "archive", "", testenv.ArchiveSpec{
		Accounts: []string{"111111111111", "222222222222"}, Regions: []string{"us-east-1"},
		Days:          []time.Time{time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC)},
		ObjectsPerDay: 2, LinesPerObject: 20,
	})
	sinkDir := t.TempDir()
	base := []string{"backfill", "--from", "s3://archive", "--sink", "file://" + sinkDir, "--s3-endpoint", s3s.Endpoint, "--s3-region", testenv.S3Region}
	stdout, stderr, code := run(t, bin, s3s.Env(), append(base, "--dry-run", "--list")...)
	if code != 0 || !strings.Contains(stdout, "would read 9 objects") || !strings.Contains(stdout, "days 2024-05-01 .. 2024-05-02") ||
		!strings.Contains(stdout, "layouts: default, hive") || !strings.Contains(stdout, "ignored: 1 objects") || strings.Count(stdout, ".log") < 9 {
		t.Fatalf("dry run exit %d:\n%s\n%s", code, stdout, tail(stderr))
	}
	stdout, _, code = run(t, bin, s3s.Env(), append(base, "--dry-run", "--since", "2024-05-02", "--accounts", "222222222222")...)
	if code != 0 || !strings.Contains(stdout, "would read 2 objects") || !strings.Contains(stdout, "accounts: 222222222222") {
		t.Fatalf("dry run with bounds exit %d:\n%s", code, stdout)
	}
	if entries, _ := os.ReadDir(sinkDir); len(entries) != 0 {
		t.Fatalf("a dry run wrote %d entries", len(entries))
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"backfill", "--sink", "file://" + sinkDir}, 2, "--from"},
		{append(slices.Clone(base), "--since", "2024-13-01"), 2, "--since"},
		{append(slices.Clone(base), "--since", "2024-05-02", "--until", "2024-05-01"), 2, "--until"},
		{append(slices.Clone(base), "--accounts", "12"), 2, "--accounts"},
		{append(slices.Clone(base), "--dlq", "kafka://dead"), 2, "--dlq"},
		{[]string{"backfill", "--from", "s3://no-such-bucket", "--sink", "file://" + sinkDir, "--s3-endpoint", s3s.Endpoint, "--s3-region", testenv.S3Region}, 1, "no-such-bucket"},
	} {
		_, stderr, code := run(t, bin, s3s.Env(), tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, want %d with %q:\n%s", tt.args[1:], code, tt.code, tt.want, tail(stderr))
		}
	}
}

func tail(s string) string {
	if len(s) > 3000 {
		return s[len(s)-3000:]
	}
	return s
}

func firstDiff(got, want []string) []string {
	var out []string
	g := map[string]int{}
	for _, x := range got {
		g[x]++
	}
	for _, w := range want {
		if g[w] == 0 {
			out = append(out, "missing "+w)
		}
		g[w]--
	}
	for x, n := range g {
		if n > 0 {
			out = append(out, "extra "+x)
		}
	}
	if len(out) > 5 {
		out = out[:5]
	}
	return out
}
