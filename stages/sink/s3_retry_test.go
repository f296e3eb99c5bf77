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

// apiError is an S3 error as the SDK returns it; code "" is one whose body
// could not be read.
func apiError(code string, status int) error {
	var inner error = &smithy.GenericAPIError{Code: code}
	if code == "" {
		inner = errors.New("deserialization failed, failed to copy error response body")
	}
	return &smithy.OperationError{ServiceID: "S3", OperationName: "PutObject", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      inner,
		},
	}}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		reason    string
		permanent bool
	}{
		{"slow down", apiError("SlowDown", 503), reasonThrottled, false},
		{"429", apiError("", 429), reasonThrottled, false},
		{"internal error", apiError("InternalError", 500), reasonServer, false},
		{"bad gateway", apiError("", 502), reasonServer, false},
		{"request timeout", apiError("RequestTimeout", 400), reasonTimeout, false},
		{"bad digest", apiError("BadDigest", 400), reasonBadDigest, false},
		{"expired token", apiError("ExpiredToken", 400), reasonCredentials, false},
		{"skew", apiError("RequestTimeTooSkewed", 403), reasonCredentials, false},
		{"conflict", apiError("OperationAborted", 409), reasonConflict, false},
		{"access denied", apiError("AccessDenied", 403), "", true},
		{"no such bucket", apiError("NoSuchBucket", 404), "", true},
		{"bad key id", apiError("InvalidAccessKeyId", 403), "", true},
		{"bad signature", apiError("SignatureDoesNotMatch", 403), "", true},
		{"bad bucket name", apiError("InvalidBucketName", 400), "", true},
		{"invalid argument", apiError("InvalidArgument", 400), "", true},
		{"head forbidden", apiError("Forbidden", 403), "", true},
		{"wrong region", apiError("PermanentRedirect", 301), "", true},
		{"not implemented", apiError("NotImplemented", 501), "", true},
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

// TestPermanentHint checks that each permanent error names what to fix,
// including a 403 whose body the server closed before it could be read.
func TestPermanentHint(t *testing.T) {
	for _, tc := range []struct {
		name, op string
		err      error
		want     []string
	}{
		{"bad signature", "put", apiError("SignatureDoesNotMatch", 403), []string{"secret access key"}},
		{"bad key id", "put", apiError("InvalidAccessKeyId", 403), []string{"access key id"}},
		{"access denied", "put", apiError("AccessDenied", 403), []string{"s3:PutObject"}},
		{"403, no body", "put", apiError("", 403), []string{"access key id", "secret access key", "policies"}},
		{"403, no body, check", "check", apiError("", 403), []string{"access key id", "secret access key"}},
		{"403 on a read", "get", apiError("", 403), []string{"s3:GetObject"}},
		{"no such bucket", "put", apiError("NoSuchBucket", 404), []string{"bucket does not exist"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := permanentHint(tc.op, tc.err)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Fatalf("permanentHint(%s) = %q, want it to say %q", tc.op, got, w)
				}
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
