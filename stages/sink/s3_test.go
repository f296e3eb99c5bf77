package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"flowlake/internal/testenv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/prometheus/client_golang/prometheus"
)

// s3Env is one gateway with one bucket, shared by the subtests of a test.
type s3Env struct {
	srv    *testenv.S3Server
	bucket string
}

func newS3Env(t testing.TB) *s3Env {
	t.Helper()
	srv := testenv.VersityGW(t)
	srv.CreateBucket(t, "flowlake")
	return &s3Env{srv: srv, bucket: "flowlake"}
}

// config returns a sink config for the gateway with short backoffs.
func (e *s3Env) config() S3Config {
	return S3Config{
		Bucket:         e.bucket,
		Prefix:         "flows",
		Region:         testenv.S3Region,
		Endpoint:       e.srv.Endpoint,
		Credentials:    credentials.NewStaticCredentialsProvider(e.srv.AccessKey, e.srv.SecretKey, ""),
		RequestTimeout: 10 * time.Second,
		MaxBackoff:     200 * time.Millisecond,
	}
}

func (e *s3Env) sink(t testing.TB, cfg S3Config, reg prometheus.Registerer) *S3 {
	t.Helper()
	s, err := NewS3(context.Background(), cfg, testLogger(t), reg)
	if err != nil {
		t.Fatalf("NewS3: %v", err)
	}
	return s
}

func (e *s3Env) head(t testing.TB, key string) *s3.HeadObjectOutput {
	t.Helper()
	out, err := e.srv.Client(t).HeadObject(context.Background(), &s3.HeadObjectInput{
		Bucket:       aws.String(e.bucket),
		Key:          aws.String(key),
		ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		t.Fatalf("head %s: %v", key, err)
	}
	return out
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{1, 2, 3})
	_, _ = r.Read(b)
	return b
}

func TestS3PutGetRoundTrip(t *testing.T) {
	env := newS3Env(t)
	ctx := context.Background()
	for _, alg := range []string{ChecksumCRC64NVME, ChecksumSHA256} {
		cfg := env.config()
		cfg.Checksum = alg
		s := env.sink(t, cfg, nil)
		for _, size := range []int{0, 1, 100 << 10} {
			t.Run(fmt.Sprintf("%s/%d", alg, size), func(t *testing.T) {
				key := fmt.Sprintf("account_id=1/%s-%d.parquet", alg, size)
				data := randomBytes(size)
				if err := s.Put(ctx, key, data); err != nil {
					t.Fatalf("Put: %v", err)
				}
				got, err := s.Get(ctx, key)
				if err != nil {
					t.Fatalf("Get: %v", err)
				}
				if !bytes.Equal(got, data) {
					t.Fatalf("Get returned %d bytes that differ from the %d put", len(got), len(data))
				}
				// The object sits under the prefix and carries our checksum.
				head := env.head(t, "flows/"+key)
				want, _ := checksum(alg, data)
				stored := aws.ToString(head.ChecksumCRC64NVME)
				if alg == ChecksumSHA256 {
					stored = aws.ToString(head.ChecksumSHA256)
				}
				if stored != want {
					t.Fatalf("stored %s checksum %q, want %q", alg, stored, want)
				}
			})
		}
	}
	puts, bytes, retries := env.sink(t, env.config(), nil).Stats()
	if puts != 0 || bytes != 0 || retries != 0 {
		t.Fatalf("a fresh sink has Stats %d/%d/%d", puts, bytes, retries)
	}
}

func TestS3Overwrite(t *testing.T) {
	env := newS3Env(t)
	s := env.sink(t, env.config(), nil)
	ctx := context.Background()
	for _, v := range []string{"first version", "second, longer version"} {
		if err := s.Put(ctx, "k.parquet", []byte(v)); err != nil {
			t.Fatalf("Put %q: %v", v, err)
		}
	}
	got, err := s.Get(ctx, "k.parquet")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if string(got) != "second, longer version" {
		t.Fatalf("Get = %q after overwrite", got)
	}
}

func TestS3Multipart(t *testing.T) {
	env := newS3Env(t)
	ctx := context.Background()
	data := randomBytes(12 << 20) // three 5 MiB parts, the last one short
	tests := []struct {
		name     string
		checksum string
		unsigned bool // force UNSIGNED-PAYLOAD, the path taken over HTTPS
		wantType types.ChecksumType
	}{
		{"CRC64NVME", ChecksumCRC64NVME, false, types.ChecksumTypeFullObject},
		{"SHA256", ChecksumSHA256, false, types.ChecksumTypeComposite},
		{"CRC64NVME-unsigned-payload", ChecksumCRC64NVME, true, types.ChecksumTypeFullObject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := env.config()
			cfg.Checksum = tt.checksum
			cfg.MultipartThreshold = 5 << 20
			cfg.PartSize = 5 << 20
			s := env.sink(t, cfg, nil)
			s.unsignedPayload = tt.unsigned
			key := "mp/" + tt.name + ".parquet"
			if err := s.Put(ctx, key, data); err != nil {
				t.Fatalf("Put: %v", err)
			}
			got, err := s.Get(ctx, key)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if !bytes.Equal(got, data) {
				t.Fatal("multipart object differs from the data put")
			}
			head := env.head(t, "flows/"+key)
			if head.ChecksumType != tt.wantType {
				t.Errorf("checksum type %q, want %q", head.ChecksumType, tt.wantType)
			}
			if tt.checksum == ChecksumSHA256 && !strings.HasSuffix(aws.ToString(head.ChecksumSHA256), "-3") {
				t.Errorf("composite checksum %q lacks the -3 part count", aws.ToString(head.ChecksumSHA256))
			}
			if tt.checksum == ChecksumCRC64NVME {
				if want, _ := checksum(ChecksumCRC64NVME, data); aws.ToString(head.ChecksumCRC64NVME) != want {
					t.Errorf("full-object CRC64NVME %q, want %q", aws.ToString(head.ChecksumCRC64NVME), want)
				}
			}
			// Nothing is left behind as an unfinished upload.
			ups, err := env.srv.Client(t).ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(env.bucket)})
			if err != nil {
				t.Fatalf("list multipart uploads: %v", err)
			}
			if len(ups.Uploads) != 0 {
				t.Errorf("%d multipart uploads left open", len(ups.Uploads))
			}
		})
	}
}

// TestS3SSE checks that the SSE headers are accepted. Versity Gateway's posix
// backend accepts them without encrypting, so this proves only that the
// requests are well formed; real encryption needs AWS.
func TestS3SSE(t *testing.T) {
	env := newS3Env(t)
	ctx := context.Background()
	for _, tc := range []struct{ sse, kms string }{
		{"AES256", ""},
		{"aws:kms", ""},
		{"aws:kms", "arn:aws:kms:us-east-1:111122223333:key/test"},
	} {
		t.Run(tc.sse+tc.kms, func(t *testing.T) {
			cfg := env.config()
			cfg.SSE, cfg.KMSKeyID = tc.sse, tc.kms
			cfg.MultipartThreshold, cfg.PartSize = 5<<20, 5<<20
			s := env.sink(t, cfg, nil)
			for _, size := range []int{1 << 10, 6 << 20} { // single PUT and multipart
				err := s.Put(ctx, fmt.Sprintf("sse-%d", size), randomBytes(size))
				if errors.Is(err, ErrPermanent) {
					t.Skipf("the gateway rejects SSE %s: %v", tc.sse, err)
				}
				if err != nil {
					t.Fatalf("Put: %v", err)
				}
			}
		})
	}
}

func TestS3ObjectLock(t *testing.T) {
	env := newS3Env(t)
	ctx := context.Background()
	_, err := env.srv.Client(t).CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket:                     aws.String("locked"),
		ObjectLockEnabledForBucket: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("create locked bucket: %v", err)
	}
	cfg := env.config()
	cfg.Bucket = "locked"
	cfg.ObjectLockMode, cfg.ObjectLockDays = "GOVERNANCE", 1
	cfg.MultipartThreshold, cfg.PartSize = 5<<20, 5<<20
	s := env.sink(t, cfg, nil)
	for _, size := range []int{1 << 10, 6 << 20} {
		key := fmt.Sprintf("locked-%d", size)
		if err := s.Put(ctx, key, randomBytes(size)); err != nil {
			t.Fatalf("Put %d bytes: %v", size, err)
		}
		head, err := env.srv.Client(t).HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("locked"), Key: aws.String("flows/" + key)})
		if err != nil {
			t.Fatalf("head: %v", err)
		}
		if head.ObjectLockMode != types.ObjectLockModeGovernance || head.ObjectLockRetainUntilDate == nil ||
			time.Until(*head.ObjectLockRetainUntilDate) < 23*time.Hour {
			t.Fatalf("lock mode %q until %v, want GOVERNANCE for a day", head.ObjectLockMode, head.ObjectLockRetainUntilDate)
		}
	}
	// Without versioning the gateway refuses to replace a locked object
	// (AWS, where Object Lock implies versioning, adds a version instead).
	// That refusal must be permanent, not retried.
	err = s.Put(ctx, "locked-1024", []byte("again"))
	if err != nil && !errors.Is(err, ErrPermanent) {
		t.Fatalf("overwrite of a locked object: %v, want nil or ErrPermanent", err)
	}
	t.Logf("overwrite of a locked object: %v", err)

	// Lock headers on a bucket without Object Lock are a permanent error.
	cfg.Bucket = env.bucket
	err = env.sink(t, cfg, nil).Put(ctx, "x", []byte("x"))
	if !errors.Is(err, ErrPermanent) {
		t.Fatalf("lock on a bucket without Object Lock: %v, want ErrPermanent", err)
	}
}

func TestS3PermanentErrors(t *testing.T) {
	env := newS3Env(t)
	tests := []struct {
		name string
		mod  func(*S3Config)
		want string // in the error message
	}{
		{"missing bucket", func(c *S3Config) { c.Bucket = "no-such-bucket" }, "does not exist"},
		{"wrong secret", func(c *S3Config) {
			c.Credentials = credentials.NewStaticCredentialsProvider(env.srv.AccessKey, "wrong-secret", "")
		}, "secret"},
		{"unknown access key", func(c *S3Config) {
			c.Credentials = credentials.NewStaticCredentialsProvider("nobody", env.srv.SecretKey, "")
		}, "access key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := env.config()
			tt.mod(&cfg)
			reg := prometheus.NewRegistry()
			s := env.sink(t, cfg, reg)
			// The default backoff would make a wrongly retried error obvious.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			err := s.Put(ctx, "a/b.parquet", []byte("data"))
			if !errors.Is(err, ErrPermanent) {
				t.Fatalf("Put: %v, want ErrPermanent", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Put took %s to fail", d)
			}
			msg := err.Error()
			if !strings.Contains(msg, "s3://"+cfg.Bucket+"/flows/a/b.parquet") || !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not name the object or say %q", msg, tt.want)
			}
			if err := s.Check(ctx); !errors.Is(err, ErrPermanent) {
				t.Errorf("Check: %v, want ErrPermanent", err)
			}
			if _, err := s.Get(ctx, "a/b.parquet"); !errors.Is(err, ErrPermanent) {
				t.Errorf("Get: %v, want ErrPermanent", err)
			}
			if got := counterValue(t, reg, "flowlake_sink_s3_permanent_errors_total", ""); got != 3 {
				t.Errorf("permanent errors counted %v, want 3", got)
			}
			if _, _, retries := s.Stats(); retries != 0 {
				t.Errorf("%d retries of a permanent error", retries)
			}
		})
	}
}

func TestS3Check(t *testing.T) {
	env := newS3Env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := env.sink(t, env.config(), nil).Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
}

func TestS3GetMissing(t *testing.T) {
	env := newS3Env(t)
	_, err := env.sink(t, env.config(), nil).Get(context.Background(), "no/such.parquet")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get: %v, want ErrNotFound", err)
	}
	if errors.Is(err, ErrPermanent) {
		t.Fatalf("Get of a missing key is not a permanent error: %v", err)
	}
}

func TestS3InvalidKey(t *testing.T) {
	env := newS3Env(t)
	s := env.sink(t, env.config(), nil)
	for _, key := range []string{"", "../x", "/abs", "a//b"} {
		if err := s.Put(context.Background(), key, []byte("x")); !errors.Is(err, ErrPermanent) {
			t.Errorf("Put(%q): %v, want ErrPermanent", key, err)
		}
		if _, err := s.Get(context.Background(), key); err == nil {
			t.Errorf("Get(%q) succeeded", key)
		}
	}
}

// TestS3VerifyDetectsMismatch runs verification against a stored object
// that differs from the data, by checksum and by reading back.
func TestS3VerifyDetectsMismatch(t *testing.T) {
	env := newS3Env(t)
	s := env.sink(t, env.config(), nil)
	ctx := context.Background()
	data := []byte("stored bytes")
	if err := s.Put(ctx, "v", data); err != nil {
		t.Fatalf("Put: %v", err)
	}
	other := []byte("stored BYTES")
	sum, _ := checksum(ChecksumCRC64NVME, other)
	var redo *redoError
	if err := s.verify(ctx, "flows/v", "", other, sum); !errors.As(err, &redo) {
		t.Errorf("verify with another checksum: %v, want a redo", err)
	}
	if err := s.verifyByReading(ctx, "flows/v", "", other); !errors.As(err, &redo) {
		t.Errorf("read-back verification of other bytes: %v, want a redo", err)
	}
	if err := s.verifyByReading(ctx, "flows/v", "", data[:5]); !errors.As(err, &redo) {
		t.Errorf("read-back verification of a prefix: %v, want a redo", err)
	}
	if err := s.verifyByReading(ctx, "flows/v", "", data); err != nil {
		t.Errorf("read-back verification of the same bytes: %v", err)
	}
	if err := s.verify(ctx, "flows/missing", "", data, sum); !errors.As(err, &redo) {
		t.Errorf("verify of a missing object: %v, want a redo", err)
	}
}

func TestS3EnvCredentials(t *testing.T) {
	env := newS3Env(t)
	for _, kv := range env.srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cfg := env.config()
	cfg.Credentials, cfg.Region = nil, ""
	s := env.sink(t, cfg, nil)
	if err := s.Put(context.Background(), "env", []byte("x")); err != nil {
		t.Fatalf("Put with credentials from the environment: %v", err)
	}
}

func TestS3MetricsShareRegistry(t *testing.T) {
	env := newS3Env(t)
	reg := prometheus.NewRegistry()
	a := env.sink(t, env.config(), reg)
	b := env.sink(t, env.config(), reg) // a second sink on the same registry
	ctx := context.Background()
	if err := a.Put(ctx, "a", []byte("12345")); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, "b", []byte("123")); err != nil {
		t.Fatal(err)
	}
	if got := counterValue(t, reg, "flowlake_sink_s3_put_bytes_total", ""); got != 8 {
		t.Errorf("put_bytes_total = %v, want 8", got)
	}
	if puts, n, _ := a.Stats(); puts != 1 || n != 5 {
		t.Errorf("Stats = %d puts, %d bytes, want 1, 5", puts, n)
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, raw := range []string{dir, "file://" + dir} {
		snk, err := Open(ctx, raw, S3Config{}, nil, nil)
		if err != nil {
			t.Fatalf("Open(%q): %v", raw, err)
		}
		if _, ok := snk.(*Local); !ok || snk.String() != "file://"+dir {
			t.Errorf("Open(%q) = %T %s", raw, snk, snk)
		}
	}
	snk, err := Open(ctx, "s3://url-bucket/url/prefix/", S3Config{Bucket: "cfg", Prefix: "cfg", Region: "eu-west-1"}, nil, nil)
	if err != nil {
		t.Fatalf("Open s3: %v", err)
	}
	s, ok := snk.(*S3)
	if !ok || s.String() != "s3://url-bucket/url/prefix" {
		t.Fatalf("Open s3 = %T %s", snk, snk)
	}
	if !s.unsignedPayload {
		t.Error("an AWS endpoint should use unsigned payloads over TLS")
	}
	if _, err := Open(ctx, "ftp://x/y", S3Config{}, nil, nil); err == nil {
		t.Error("Open accepted an ftp URL")
	}
}

func BenchmarkS3Put(b *testing.B) {
	env := newS3Env(b)
	data := randomBytes(8 << 20)
	for _, bc := range []struct {
		name     string
		checksum string
		parts    bool
	}{
		{"single/CRC64NVME", ChecksumCRC64NVME, false},
		{"single/SHA256", ChecksumSHA256, false},
		{"multipart-5MiB/CRC64NVME", ChecksumCRC64NVME, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := env.config()
			cfg.Checksum = bc.checksum
			if bc.parts {
				cfg.MultipartThreshold, cfg.PartSize = 5<<20, 5<<20
			}
			s, err := NewS3(context.Background(), cfg, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := s.Put(ctx, fmt.Sprintf("bench/%d", i%4), data); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// counterValue sums the samples of a counter family, or of the samples with
// label reason=reason when reason is set.
func counterValue(t testing.TB, reg *prometheus.Registry, name, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if reason != "" {
				match := false
				for _, lp := range m.GetLabel() {
					match = match || (lp.GetName() == "reason" && lp.GetValue() == reason)
				}
				if !match {
					continue
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}
