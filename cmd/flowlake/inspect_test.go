package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"flowlake/internal/testenv"
)

// TestInspectS3 runs the demo into a bucket on Versity Gateway, adds dead
// letters, and inspects the sink over S3; the same tree read as a local
// directory (the gateway's posix backend) must give the same report.
func TestInspectS3(t *testing.T) {
	bin := binary(t)
	srv := testenv.VersityGW(t)
	srv.CreateBucket(t, "lake")
	env := srv.Env()
	s3flags := []string{"--s3-endpoint", srv.Endpoint}
	args := append([]string{"run", "--embedded", "--embedded-records", "20000", "--sink", "s3://lake/flows", "--exit-when-idle", "2s"}, s3flags...)
	if _, stderr, code := run(t, bin, env, args...); code != 0 {
		t.Fatalf("run exit %d:\n%s", code, stderr)
	}
	dead := `{"topic":"t","partition":0,"offset":1,"line":0,"reason":"bad_addr","raw":"x"}
{"topic":"t","partition":0,"offset":2,"line":0,"reason":"bad_addr","raw":"y"}
{"topic":"t","partition":1,"offset":7,"line":3,"reason":"field_count","raw":"z"}
`
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := srv.Client(t).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("lake"),
		Key: aws.String("flows/_dead_letters/year=2026/month=11/day=21/hour=16/t_0_abc.jsonl"), Body: strings.NewReader(dead)}); err != nil {
		t.Fatal(err)
	}

	read := func(args ...string) inspectReport {
		t.Helper()
		out, stderr, code := run(t, bin, env, append([]string{"inspect"}, args...)...)
		if code != 0 {
			t.Fatalf("inspect %v: exit %d\n%s", args, code, stderr)
		}
		var r inspectReport
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("inspect --json: %v\n%s", err, out)
		}
		return r
	}
	viaS3 := read(append([]string{"s3://lake/flows", "--json"}, s3flags...)...)
	viaDir := read(filepath.Join(srv.Dir, "lake", "flows"), "--json")

	if viaS3.Rows != 20000 || viaS3.Files == 0 || len(viaS3.Partitions) < 5 {
		t.Fatalf("over S3: %d rows in %d files, %d partitions", viaS3.Rows, viaS3.Files, len(viaS3.Partitions))
	}
	if viaS3.DeadLetters.Records != 3 || viaS3.DeadLetters.ByReason["bad_addr"] != 2 || viaS3.DeadLetters.ByReason["field_count"] != 1 {
		t.Fatalf("dead letters %+v", viaS3.DeadLetters)
	}
	var next int64
	for _, c := range viaS3.Checkpoints {
		next += c.NextOffset
		if c.Group != "flowlake" || c.AgeSeconds < 0 || c.AgeSeconds > 600 {
			t.Errorf("checkpoint %+v", c)
		}
	}
	// The demo puts 10 records in each message: every one is durable.
	if len(viaS3.Checkpoints) != 8 || next != 2000 {
		t.Fatalf("%d checkpoints, next offsets sum to %d; want 8 and 2000", len(viaS3.Checkpoints), next)
	}
	a, _ := json.Marshal(viaS3.Partitions)
	b, _ := json.Marshal(viaDir.Partitions)
	if string(a) != string(b) || viaDir.DeadLetters.Records != 3 || len(viaDir.Checkpoints) != 8 {
		t.Fatalf("S3 and directory reports differ:\n%s\n%s", a, b)
	}

	// The text form names partitions, reasons and checkpoints.
	out, _, code := run(t, bin, env, append([]string{"inspect", "s3://lake/flows"}, s3flags...)...)
	for _, w := range []string{"aws-account-id=", "20000", "bad_addr", "next offset"} {
		if code != 0 || !strings.Contains(out, w) {
			t.Fatalf("inspect: exit %d, no %q in:\n%s", code, w, out)
		}
	}
}
