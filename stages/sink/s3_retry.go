package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"flowlake/stages/backoff"
)

// Retry reasons: the bounded values of the reason label of
// flowlake_sink_s3_retries_total.
const (
	reasonThrottled   = "throttled"       // 503 SlowDown, 429
	reasonServer      = "server_error"    // other 5xx
	reasonTimeout     = "timeout"         // attempt deadline, 408, RequestTimeout
	reasonNetwork     = "network"         // refused, reset, EOF, DNS
	reasonCredentials = "credentials"     // expired token, clock skew, provider unreachable
	reasonBadDigest   = "bad_digest"      // the body was damaged in flight
	reasonConflict    = "conflict"        // 409 OperationAborted
	reasonVerify      = "verify_mismatch" // the stored object differs: upload again
	reasonUploadGone  = "upload_gone"     // the multipart upload vanished: start again
	reasonOther       = "other"
)

const (
	minBackoff  = 100 * time.Millisecond
	logInterval = 10 * time.Second // at most one warning per op and reason in this time
)

// stopError ends a retry loop early with the error it wraps, which is
// neither retried nor marked permanent (ErrNotFound, a restart request).
type stopError struct{ err error }

func (e *stopError) Error() string { return e.err.Error() }
func (e *stopError) Unwrap() error { return e.err }

func stopRetry(err error) error { return &stopError{err: err} }

// redoError asks Put to upload the whole object again.
type redoError struct {
	reason string
	err    error
}

func (e *redoError) Error() string { return e.err.Error() }
func (e *redoError) Unwrap() error { return e.err }

// retry calls fn until it succeeds, fails permanently, asks to stop, or ctx
// ends. Each attempt gets its own RequestTimeout. obj is the full object key
// ("" for bucket operations); it names the object in errors and logs.
func (s *S3) retry(ctx context.Context, op, obj string, fn func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
		err := fn(actx)
		attemptTimedOut := errors.Is(actx.Err(), context.DeadlineExceeded)
		cancel()
		if err == nil {
			if attempt > 1 {
				if ok, suppressed := s.logs.allow(op + "/recovered"); ok {
					s.logger.Info("s3 request succeeded after retries", "op", op, "key", obj, "attempts", attempt, "suppressed", suppressed)
				}
			}
			return nil
		}
		if stop, ok := errors.AsType[*stopError](err); ok {
			return stop.err
		}
		if ctx.Err() != nil {
			return s.ctxErr(ctx, op, obj, err)
		}
		reason, permanent := classify(err)
		if permanent {
			s.metrics.permanent.Inc()
			return fmt.Errorf("s3 %s s3://%s/%s: %w: %s: %w", op, s.cfg.Bucket, obj, ErrPermanent, permanentHint(op, err), err)
		}
		if attemptTimedOut {
			reason = reasonTimeout
		}
		if err := s.backoff(ctx, op, obj, attempt, reason, err); err != nil {
			return err
		}
	}
}

// backoff counts and logs a retried failure, then waits a capped
// exponential delay with full jitter, or until ctx ends.
func (s *S3) backoff(ctx context.Context, op, obj string, attempt int, reason string, cause error) error {
	s.retries.Add(1)
	s.metrics.retries.WithLabelValues(reason).Inc()
	d := backoffDelay(attempt, s.cfg.MaxBackoff)
	if ok, suppressed := s.logs.allow(op + "/" + reason); ok {
		s.logger.Warn("s3 request failed, retrying", "op", op, "key", obj, "attempt", attempt,
			"reason", reason, "backoff", d, "suppressed", suppressed, "err", cause)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return s.ctxErr(ctx, op, obj, cause)
	case <-t.C:
		return nil
	}
}

func (s *S3) ctxErr(ctx context.Context, op, obj string, last error) error {
	return fmt.Errorf("s3 %s s3://%s/%s: %w (last error: %v)", op, s.cfg.Bucket, obj, ctx.Err(), last)
}

// backoffDelay returns a uniform random delay in [0, min(max, 100ms*2^(attempt-1))).
func backoffDelay(attempt int, maxDelay time.Duration) time.Duration {
	return backoff.Delay(attempt, minBackoff, maxDelay)
}

// errorCodeReasons maps the S3 error codes worth retrying to their retry
// reason. Other codes are judged by their HTTP status.
var errorCodeReasons = map[string]string{
	"SlowDown":                  reasonThrottled,
	"Throttling":                reasonThrottled,
	"ThrottlingException":       reasonThrottled,
	"RequestThrottled":          reasonThrottled,
	"RequestThrottledException": reasonThrottled,
	"TooManyRequestsException":  reasonThrottled,
	"RequestLimitExceeded":      reasonThrottled,
	"BandwidthLimitExceeded":    reasonThrottled,
	"ServiceUnavailable":        reasonThrottled,
	"PriorRequestNotComplete":   reasonThrottled,
	"RequestTimeout":            reasonTimeout,
	"RequestTimeoutException":   reasonTimeout,
	"InternalError":             reasonServer,
	"InternalFailure":           reasonServer,
	"BadDigest":                 reasonBadDigest,
	"XAmzContentSHA256Mismatch": reasonBadDigest,
	"IncompleteBody":            reasonBadDigest,
	"RequestTimeTooSkewed":      reasonCredentials,
	"ExpiredToken":              reasonCredentials,
	"ExpiredTokenException":     reasonCredentials,
	"TokenRefreshRequired":      reasonCredentials,
	"RequestExpired":            reasonCredentials,
	"IDPCommunicationError":     reasonCredentials,
	"OperationAborted":          reasonConflict,
}

// classify returns the retry reason of err, or permanent = true when
// retrying cannot help (4xx validation and authorization errors, 3xx
// redirects to another region, 501 Not Implemented).
func classify(err error) (reason string, permanent bool) {
	if errors.Is(err, context.DeadlineExceeded) {
		return reasonTimeout, false
	}
	code := errorCode(err)
	if r, ok := errorCodeReasons[code]; ok {
		return r, false
	}
	if code == "NotImplemented" {
		return "", true
	}
	if status := httpStatus(err); status != 0 {
		switch {
		case status == 429 || status == 503:
			return reasonThrottled, false
		case status == 408:
			return reasonTimeout, false
		case status == 501:
			return "", true
		case status >= 500:
			return reasonServer, false
		case status == 307: // S3 redirects while a new bucket's DNS settles
			return reasonOther, false
		case status >= 300:
			return "", true
		}
	}
	if isNetworkError(err) {
		return reasonNetwork, false
	}
	if _, ok := errors.AsType[*v4.SigningError](err); ok {
		// The credential provider failed without a verdict from a service
		// (IMDS or STS unreachable): it may come back.
		return reasonCredentials, false
	}
	return reasonOther, false
}

func isNetworkError(err error) bool {
	if _, ok := errors.AsType[*smithyhttp.RequestSendError](err); ok {
		return true
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

func errorCode(err error) string {
	if ae, ok := errors.AsType[smithy.APIError](err); ok {
		return ae.ErrorCode()
	}
	return ""
}

func httpStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// isNotFound reports a missing object: GetObject's NoSuchKey or a HEAD's
// bare 404. Other 404 codes (NoSuchBucket; Versity's XAdminUserNotFound for
// an unknown access key) are not.
func isNotFound(err error) bool {
	switch errorCode(err) {
	case "NoSuchKey", "NotFound", "NoSuchVersion":
		return true
	case "":
		return httpStatus(err) == 404
	}
	return false
}

// permanentHint explains a permanent error in operator terms.
func permanentHint(op string, err error) string {
	code := errorCode(err)
	switch {
	case code == "NoSuchBucket", op == "check" && httpStatus(err) == 404:
		return "the bucket does not exist"
	case code == "InvalidAccessKeyId", code == "XAdminUserNotFound":
		return "the access key id is unknown to the server: check the credentials"
	case code == "SignatureDoesNotMatch":
		return "the request signature was rejected: check the secret access key"
	case code == "InvalidBucketName":
		return "the bucket name is invalid"
	case code == "AuthorizationHeaderMalformed":
		return "the authorization was rejected: check the region and the credentials"
	case code == "PermanentRedirect", httpStatus(err) == 301:
		return "the bucket is in another region: set the sink region"
	case code == "NotImplemented":
		return "the server does not implement this request: check the SSE, object lock and checksum settings"
	case strings.HasPrefix(code, "KMS."):
		return "KMS rejected the request: check the KMS key id and its key policy"
	case code == "InvalidRequest" || code == "InvalidArgument":
		return "the request was rejected: check the SSE, KMS, object lock and checksum settings and the bucket's configuration"
	case code == "AccessDenied" || httpStatus(err) == 403:
		switch {
		case op == "verify" || op == "verify_read" || op == "get":
			return "access denied: the sink needs s3:GetObject to read objects back"
		case code == "":
			// A 403 whose body could not be read (servers may close the
			// connection on a bad signature): any of the causes.
			return "access denied or the credentials were rejected (the server's reason could not be read): check the access key id and the secret access key, the IAM and bucket policies and any object lock on the key"
		case op == "check":
			return "access denied or invalid credentials: check the credentials and the IAM and bucket policies (s3:ListBucket)"
		}
		return "access denied: check the credentials, the IAM and bucket policies (s3:PutObject) and any object lock on the key"
	}
	return "the request was rejected"
}

// logLimiter lets through one log line per key per interval and counts the
// lines it held back. Keys are op/reason pairs, a bounded set.
type logLimiter struct {
	interval time.Duration
	mu       sync.Mutex
	state    map[string]*logState
}

type logState struct {
	last       time.Time
	suppressed int
}

func (l *logLimiter) allow(key string) (ok bool, suppressed int) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state == nil {
		l.state = make(map[string]*logState)
	}
	st := l.state[key]
	if st == nil {
		st = &logState{}
		l.state[key] = st
	}
	if !st.last.IsZero() && now.Sub(st.last) < l.interval {
		st.suppressed++
		return false, 0
	}
	suppressed, st.suppressed, st.last = st.suppressed, 0, now
	return true, suppressed
}
