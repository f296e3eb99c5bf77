package exactlyonce

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"flowlake/internal/testenv"
	"flowlake/stages/seal"
)

// runCLI runs a short flowlake command and returns its output and exit
// status.
func runCLI(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, flowlakeBin(t), args...)
	cmd.Env = env
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		t.Fatalf("flowlake %s: %v", args[0], err)
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

// countLines counts log lines matching re in an instance's log file.
func countLines(t *testing.T, in *instance, re *regexp.Regexp) int {
	t.Helper()
	b, err := os.ReadFile(in.log.f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return len(re.FindAll(b, -1))
}

// TestSealArchiveVerify is issue 11 end to end against versitygw and a
// Kafka-protocol broker: four hours over four partitions consumed by two
// instances of one group seal every account-hour exactly once; the archive
// job, SIGKILLed three times and rerun, holds every row once in one file
// per account-hour; late rows after archiving make a sealed revision and
// an added archive file; verify passes clean stores and names each
// tampering.
func TestSealArchiveVerify(t *testing.T) {
	const (
		partitions = 4
		records    = 40_000
	)
	k := testenv.Kafka(t, testTopic, partitions)
	srv := testenv.VersityGW(t)
	srv.CreateBucket(t, "lake")
	srv.CreateBucket(t, "archive")
	env := childEnv(srv.Env()...)
	s3a := s3Args(srv)
	rng := seed(t, 11)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	gcfg := genConfig(records, 5, 7, 0)
	gcfg.Hours = 4
	prod := newProducer(t, k, gcfg)
	if _, err := prod.produce(ctx, records); err != nil {
		t.Fatal(err)
	}
	cfg := kafkaConfig(t, 6*time.Second, 20*time.Second)
	args := runArgs(k, "seal", "s3://lake", cfg, append([]string{"--batch-max-rows", "2000", "--batch-max-age", "1s",
		"--exit-when-idle", "4s", "--seal-interval", "1s"}, s3a...)...)
	a := startInstance(t, "run-a", args, env)
	b := startInstance(t, "run-b", args, env)
	a.expectCleanExit(3 * time.Minute)
	b.expectCleanExit(3 * time.Minute)
	want := expectFromTopic(t, k)
	lake := readS3Lake(t, srv, "lake", "")
	verify(t, want, lake)
	hours := len(lake.manifests)
	if hours != 5*4 || len(lake.fileRows) <= hours {
		t.Fatalf("%d sealed account-hours with %d files, want all 20 sealed, several files each", hours, len(lake.fileRows))
	}
	sealedRE := regexp.MustCompile(`msg="hour sealed"`)
	if n := countLines(t, a, sealedRE) + countLines(t, b, sealedRE); n != hours {
		t.Fatalf("the two instances sealed %d times, want %d (each hour once)", n, hours)
	}
	for folder, objs := range lake.manifests {
		if len(objs) != 2 { // revision 1 and the pointer
			t.Fatalf("%s: %d manifest objects, want revision 1 and the pointer", folder, len(objs))
		}
	}
	if out, errOut, code := runCLI(t, env, append([]string{"verify", "s3://lake"}, s3a...)...); code != 0 || !strings.HasPrefix(out, "OK: lake") {
		t.Fatalf("verify lake: exit %d\n%s%s", code, out, errOut)
	}

	// Archive, SIGKILLed three times at random moments, then run to the end.
	client := srv.Client(t)
	archArgs := append([]string{"archive", "--from", "s3://lake", "--to", "s3://archive/cold", "--flow-log-id", flowLogID, "--tmp-dir", t.TempDir()}, s3a...)
	// Each kill lands once the job archived a few more hours (it polls
	// the archive's ledger), so every kill interrupts work in progress.
	archived := func() int {
		out, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("archive"), Prefix: aws.String("cold/" + seal.LedgerPrefix)})
		if err != nil {
			return 0
		}
		return len(out.Contents)
	}
	for i := 1; i <= 3; i++ {
		in := startInstance(t, fmt.Sprintf("archive-kill%d", i), archArgs, env)
		target := i*hours/4 + int(rng.Int64N(3))
		in.waitUntil(2*time.Minute, fmt.Sprintf("%d archived hours", target), func() bool { return archived() >= target })
		in.kill()
		n := len(readS3Lake(t, srv, "archive", "cold").manifests)
		t.Logf("SIGKILL %d/3 after %d archived hours: %d of %d hours archived", i, target, n, hours)
		if n >= hours {
			t.Fatal("the kill landed after the job finished; the test proves nothing")
		}
	}
	in := startInstance(t, "archive", archArgs, env)
	in.expectCleanExit(3 * time.Minute)
	arch := readS3Lake(t, srv, "archive", "cold")
	verify(t, want, arch) // every row exactly once
	if !arch.archive || arch.files != hours {
		t.Fatalf("archive: %d files for %d account-hours, want 1 each (marker %v)", arch.files, hours, arch.archive)
	}
	if out, errOut, code := runCLI(t, env, append([]string{"verify", "s3://archive/cold", "--lake", "s3://lake"}, s3a...)...); code != 0 || !strings.HasPrefix(out, "OK: archive") {
		t.Fatalf("verify archive: exit %d\n%s%s", code, out, errOut)
	}

	// Late rows for the first hour, after it was sealed and archived.
	late := genConfig(600, 3, 7, 0)
	late.Hours = 1
	if _, err := newProducer(t, k, late).produce(ctx, 600); err != nil {
		t.Fatal(err)
	}
	startInstance(t, "run-late", args, env).expectCleanExit(3 * time.Minute)
	startInstance(t, "archive-late", archArgs, env).expectCleanExit(3 * time.Minute)
	want = expectFromTopic(t, k)
	lake = readS3Lake(t, srv, "lake", "")
	verify(t, want, lake)
	arch = readS3Lake(t, srv, "archive", "cold")
	verify(t, want, arch)
	revised := 0
	for folder, objs := range arch.manifests {
		latest := latestOf(t, objs)
		lm := latestOf(t, lake.manifests[folder])
		if lm.Revision == 1 {
			continue
		}
		revised++
		if latest.Revision != 2 || len(latest.Files) != 2 || latest.Files[1].Rows != lm.AddedRows || latest.Lake.Revision != lm.Revision {
			t.Fatalf("%s: archive revision %d with %d files (added %d rows) for lake revision %d adding %d rows",
				folder, latest.Revision, len(latest.Files), latest.AddedRows, lm.Revision, lm.AddedRows)
		}
	}
	if revised == 0 {
		t.Fatal("no hour got a late revision")
	}
	if out, errOut, code := runCLI(t, env, append([]string{"verify", "s3://archive/cold", "--lake", "s3://lake"}, s3a...)...); code != 0 {
		t.Fatalf("verify archive after late rows: exit %d\n%s%s", code, out, errOut)
	}

	// Tampering: each is named precisely and fails the verification.
	folders := make([]string, 0, len(arch.manifests))
	for f := range arch.manifests {
		folders = append(folders, f)
	}
	sort.Strings(folders)
	file := func(folder string) string {
		m := latestOf(t, arch.manifests[folder])
		return folder + "/" + m.Files[0].Name
	}
	put := func(key string, data []byte) {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("archive"), Key: aws.String("cold/" + key), Body: bytes.NewReader(data)}); err != nil {
			t.Fatal(err)
		}
	}
	del := func(key string) {
		if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("archive"), Key: aws.String("cold/" + key)}); err != nil {
			t.Fatal(err)
		}
	}
	deleted, changed, extra, gone := file(folders[0]), file(folders[1]), folders[2]+"/"+path.Base(file(folders[1])), folders[3]
	del(deleted)
	put(changed, []byte("not the archived file"))
	put(extra, []byte("PAR1 planted PAR1"))
	for key := range arch.fileRows {
		if strings.HasPrefix(key, gone+"/") {
			del(key)
		}
	}
	for _, b := range arch.manifests[gone] {
		m, _ := seal.Decode(b)
		del(gone + "/" + seal.RevisionName(m.Revision))
	}
	del(gone + "/" + seal.ManifestName)
	out, errOut, code := runCLI(t, env, append([]string{"verify", "s3://archive/cold", "--lake", "s3://lake"}, s3a...)...)
	if code == 0 {
		t.Fatalf("verify of a tampered archive exited 0:\n%s", out)
	}
	for _, line := range []string{"missing-file " + deleted + ":", "changed-file " + changed + ":", "extra-file " + extra + ":", "missing-hour " + gone + ":"} {
		if !strings.Contains(out, "\n"+line) && !strings.HasPrefix(out, line) {
			t.Fatalf("verify output lacks %q:\n%s%s", line, out, errOut)
		}
	}
	if !strings.Contains(out, "FAILED: archive") {
		t.Fatalf("no failed summary:\n%s", out)
	}
	t.Logf("verify of the tampered archive (exit %d):\n%s", code, out)
}

func latestOf(t *testing.T, objs [][]byte) *seal.Manifest {
	t.Helper()
	var latest *seal.Manifest
	for _, b := range objs {
		m, err := seal.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if latest == nil || m.Revision > latest.Revision {
			latest = m
		}
	}
	if latest == nil {
		t.Fatal("no manifest")
	}
	return latest
}
