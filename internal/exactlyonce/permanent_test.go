package exactlyonce

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"flowlake/internal/testenv"
)

// TestPermanentError points flowlake at a bucket that does not exist, and
// at a real bucket with a wrong secret key: it must say
// so on stderr, exit non-zero within seconds, and commit nothing.
func TestPermanentError(t *testing.T) {
	s3srv := testenv.VersityGW(t)
	s3srv.CreateBucket(t, "lake")
	k := testenv.Kafka(t, testTopic, 2)
	prod := newProducer(t, k, genConfig(5_000, 5, 6, 0))
	if _, err := prod.produce(context.Background(), 5_000); err != nil {
		t.Fatal(err)
	}
	cfg := kafkaConfig(t, 6*time.Second, 20*time.Second)
	cases := []struct {
		name, sink string
		env        []string
		mention    []string // what stderr must name
	}{
		{"no such bucket", "s3://no-such-bucket/x", s3srv.Env(), []string{"no-such-bucket"}},
		{"wrong secret key", "s3://lake/x", []string{"AWS_ACCESS_KEY_ID=" + s3srv.AccessKey, "AWS_SECRET_ACCESS_KEY=wrong-secret", "AWS_REGION=" + testenv.S3Region}, []string{"lake"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			group := "permanent-" + string(rune('a'+i))
			in := startInstance(t, "flowlake", runArgs(k, group, tc.sink, cfg, s3Args(s3srv)...), childEnv(tc.env...))
			if !in.wait(30 * time.Second) {
				t.Fatalf("still running after 30s:\n%s", in.log.tail(20))
			}
			took := in.runtime()
			code := in.exitCode()
			errLine := in.log.errorLine()
			t.Logf("exit status %d after %v: %s", code, took.Round(time.Millisecond), errLine)
			if code == 0 {
				t.Errorf("exit status 0, want non-zero")
			}
			if took > 10*time.Second {
				t.Errorf("took %v to give up, want a few seconds", took)
			}
			if errLine == "" {
				t.Errorf("no error line on stderr:\n%s", in.log.tail(20))
			}
			for _, m := range tc.mention {
				if !strings.Contains(errLine, m) {
					t.Errorf("error line does not name %q", m)
				}
			}
			if got := k.CommittedOffsets(t, group); len(got) != 0 {
				t.Errorf("group %s committed %v, want nothing", group, got)
			}
		})
	}
}

// TestPermanentErrorMidRun makes the bucket disappear while flowlake is
// writing (its folder is moved away on the gateway's disk): the next PUT
// fails with NoSuchBucket, which is permanent, so flowlake must exit
// non-zero naming the bucket, with no Kafka offset committed beyond the
// checkpoints that were written. With the bucket back, a new run must
// finish the topic exactly once.
func TestPermanentErrorMidRun(t *testing.T) {
	const (
		group   = "vanish"
		records = 200_000
	)
	s3srv := testenv.VersityGW(t)
	s3srv.CreateBucket(t, "lake")
	k := testenv.Kafka(t, testTopic, 4)
	cfg := kafkaConfig(t, 6*time.Second, 20*time.Second)
	prod := newProducer(t, k, genConfig(records, 5, 8, 0))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := runArgs(k, group, "s3://lake", cfg, append(s3Args(s3srv),
		"--batch-max-rows", "1000", "--batch-max-age", "1s", "--exit-when-idle", "10s")...)
	env := childEnv(s3srv.Env()...)
	in := startInstance(t, "first", args, env)
	in.waitAssigned(1, 90*time.Second)
	wait := background(t, func() error { return prod.produceSpread(ctx, records, 20, 10*time.Second) })
	in.waitUntil(time.Minute, "20k rows written", func() bool {
		last, _, _ := in.stats()
		return last.get("flowlake_rows_written_total") >= 20_000
	})
	bucketDir := filepath.Join(s3srv.Dir, "lake")
	movedDir := filepath.Join(s3srv.Dir, "lake-moved-away")
	if err := os.Rename(bucketDir, movedDir); err != nil {
		t.Fatal(err)
	}
	gone := time.Now()
	// A PUT the gateway accepted before the rename can create the bucket's
	// folder again when it writes its object: the bucket would be back. Its
	// files are moved in with the others until the folder stays away (for
	// 3 s, and gone at the last look).
	for {
		away, err := mergeInto(bucketDir, movedDir)
		if err != nil {
			t.Fatal(err)
		}
		if away && time.Since(gone) >= 3*time.Second {
			break
		}
		if time.Since(gone) > 30*time.Second {
			t.Fatalf("the bucket's folder still comes back 30s after it was moved away")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !in.wait(30 * time.Second) {
		t.Fatalf("still running 30s after the bucket disappeared:\n%s", in.log.tail(20))
	}
	t.Logf("%s; gave up %v after the bucket disappeared", in.summary(), time.Since(gone).Round(time.Millisecond))
	wait()
	if in.exitCode() == 0 {
		t.Fatalf("exit status 0 after the bucket disappeared")
	}
	errLine := in.log.errorLine()
	t.Logf("stderr: %s", errLine)
	if !regexp.MustCompile(`s3://lake/.*(NoSuchBucket|does not exist)`).MatchString(errLine) {
		t.Errorf("no error line naming the missing bucket:\n%s", in.log.tail(20))
	}
	// Every committed offset is covered by a checkpoint that was written.
	committed := k.CommittedOffsets(t, group)
	for p := range k.Partitions {
		key := filepath.Join(movedDir, "_flowlake", "checkpoints", group, k.Topic, strconv.Itoa(p)+".json")
		next := int64(-1)
		if b, err := os.ReadFile(key); err == nil {
			var c checkpointFile
			if err := json.Unmarshal(b, &c); err != nil {
				t.Fatalf("checkpoint %s: %v", key, err)
			}
			next = c.Next
		}
		if off, ok := committed[p]; ok && off > next {
			t.Errorf("partition %d: Kafka offset %d committed beyond the last checkpoint (%d)", p, off, next)
		}
	}
	t.Logf("committed %v when it stopped", committed)

	if err := os.Rename(movedDir, bucketDir); err != nil {
		t.Fatal(err)
	}
	again := startInstance(t, "second", args, env)
	again.expectCleanExit(3 * time.Minute)
	t.Log(again.summary())
	want := expectFromTopic(t, k)
	checkProduced(t, want, prod, false)
	got := readS3Lake(t, s3srv, "lake", "")
	verify(t, want, got)
	checkCommitted(t, k, group, want.ends, got)
}

// mergeInto moves every file under dir (if it exists) to the same path
// under into, then removes dir, and reports whether dir is gone. The
// gateway may be writing into dir meanwhile: a file that vanishes before
// it is moved (a temporary file renamed) is skipped, and a file that
// appears after the walk leaves dir in place for the next call.
func mergeInto(dir, into string) (bool, error) {
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		return true, nil
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		dst := filepath.Join(into, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Rename(path, dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	if err := os.RemoveAll(dir); err != nil {
		if errors.Is(err, syscall.ENOTEMPTY) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}
