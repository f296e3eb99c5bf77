package sink

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func TestS3ConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  S3Config
		want string
	}{
		{"no bucket", S3Config{}, "bucket is required"},
		{"bad checksum", S3Config{Bucket: "b", Checksum: "MD5"}, "checksum"},
		{"bad sse", S3Config{Bucket: "b", SSE: "aes"}, "sse"},
		{"kms key without kms", S3Config{Bucket: "b", SSE: "AES256", KMSKeyID: "k"}, "KMS key"},
		{"lock without days", S3Config{Bucket: "b", ObjectLockMode: "GOVERNANCE"}, "retention days"},
		{"bad lock mode", S3Config{Bucket: "b", ObjectLockMode: "FOREVER", ObjectLockDays: 1}, "object lock mode"},
		{"small parts", S3Config{Bucket: "b", PartSize: 1 << 20}, "part size"},
		{"AWSLogs prefix", S3Config{Bucket: "b", Prefix: "/AWSLogs/x"}, "AWSLogs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewS3(context.Background(), tc.cfg, nil, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewS3: %v, want an error about %q", err, tc.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	apiErr := func(code string, status int) error {
		return &smithy.OperationError{ServiceID: "S3", OperationName: "PutObject", Err: &awshttp.ResponseError{
			ResponseError: &smithyhttp.ResponseError{
				Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
				Err:      &smithy.GenericAPIError{Code: code},
			},
		}}
	}
	for _, tc := range []struct {
		name      string
		err       error
		reason    string
		permanent bool
	}{
		{"slow down", apiErr("SlowDown", 503), reasonThrottled, false},
		{"429", apiErr("", 429), reasonThrottled, false},
		{"internal error", apiErr("InternalError", 500), reasonServer, false},
		{"bad gateway", apiErr("", 502), reasonServer, false},
		{"request timeout", apiErr("RequestTimeout", 400), reasonTimeout, false},
		{"bad digest", apiErr("BadDigest", 400), reasonBadDigest, false},
		{"expired token", apiErr("ExpiredToken", 400), reasonCredentials, false},
		{"skew", apiErr("RequestTimeTooSkewed", 403), reasonCredentials, false},
		{"conflict", apiErr("OperationAborted", 409), reasonConflict, false},
		{"access denied", apiErr("AccessDenied", 403), "", true},
		{"no such bucket", apiErr("NoSuchBucket", 404), "", true},
		{"bad key id", apiErr("InvalidAccessKeyId", 403), "", true},
		{"bad signature", apiErr("SignatureDoesNotMatch", 403), "", true},
		{"bad bucket name", apiErr("InvalidBucketName", 400), "", true},
		{"invalid argument", apiErr("InvalidArgument", 400), "", true},
		{"head forbidden", apiErr("Forbidden", 403), "", true},
		{"wrong region", apiErr("PermanentRedirect", 301), "", true},
		{"not implemented", apiErr("NotImplemented", 501), "", true},
		{"refused", &smithyhttp.RequestSendError{Err: syscall.ECONNREFUSED}, reasonNetwork, false},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), reasonNetwork, false},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), reasonTimeout, false},
		{"unknown", errors.New("something odd"), reasonOther, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reason, permanent := classify(tc.err)
			if reason != tc.reason || permanent != tc.permanent {
				t.Fatalf("classify = %q, %v; want %q, %v", reason, permanent, tc.reason, tc.permanent)
			}
		})
	}
}

func TestBackoffDelay(t *testing.T) {
	for attempt := 1; attempt < 100; attempt++ {
		ceiling := min(minBackoff<<min(attempt-1, 31), 2*time.Second)
		if d := backoffDelay(attempt, 2*time.Second); d < 0 || d >= ceiling {
			t.Fatalf("attempt %d: delay %s outside [0, %s)", attempt, d, ceiling)
		}
	}
}

func TestChecksumMatches(t *testing.T) {
	for _, tc := range []struct {
		got, want string
		ok        bool
	}{
		{"abc=", "abc=", true},
		{"abc=-3", "abc=-3", true},
		{"abc=", "abc=-3", true},
		{"abc=-2", "abc=-3", false},
		{"abd=", "abc=", false},
	} {
		if got := checksumMatches(tc.got, tc.want); got != tc.ok {
			t.Errorf("checksumMatches(%q, %q) = %v", tc.got, tc.want, got)
		}
	}
}

func TestPartSize(t *testing.T) {
	s := &S3{cfg: S3Config{PartSize: 16 << 20}}
	if got := s.partSize(100 << 20); got != 16<<20 {
		t.Errorf("partSize(100 MiB) = %d", got)
	}
	big := 200 << 30 // 200 GiB needs parts over 16 MiB to fit 10,000
	ps := s.partSize(big)
	if (big+ps-1)/ps > maxParts || ps%(1<<20) != 0 {
		t.Errorf("partSize(200 GiB) = %d", ps)
	}
}

func TestLogLimiter(t *testing.T) {
	l := logLimiter{interval: time.Hour}
	if ok, _ := l.allow("put/network"); !ok {
		t.Fatal("first line held back")
	}
	for range 3 {
		if ok, _ := l.allow("put/network"); ok {
			t.Fatal("repeated line let through within the interval")
		}
	}
	if ok, _ := l.allow("get/network"); !ok {
		t.Fatal("another key held back")
	}
	l.state["put/network"].last = time.Now().Add(-2 * time.Hour)
	if ok, suppressed := l.allow("put/network"); !ok || suppressed != 3 {
		t.Fatalf("after the interval: ok=%v suppressed=%d, want true, 3", ok, suppressed)
	}
}
