package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/prometheus/client_golang/prometheus"

	"flowlake/stages/awslog"
)

// Checksum algorithms accepted in S3Config.Checksum.
const (
	ChecksumCRC64NVME = "CRC64NVME"
	ChecksumSHA256    = "SHA256"
)

// Defaults applied by NewS3 to zero fields of S3Config.
const (
	DefaultMultipartThreshold = 64 << 20
	DefaultPartSize           = 16 << 20
	DefaultPartConcurrency    = 4
	DefaultRequestTimeout     = 2 * time.Minute
	DefaultMaxBackoff         = 30 * time.Second
	defaultRegion             = "us-east-1"
)

// S3 limits that bound the multipart settings.
const (
	minPartSize      = 5 << 20 // every part but the last must be at least this
	maxPartSize      = 5 << 30
	maxParts         = 10000
	maxSinglePutSize = 5 << 30 // PutObject refuses more
)

// S3Config configures an S3 sink. Zero values take the defaults above.
type S3Config struct {
	Bucket string
	Prefix string // key prefix; slashes at either end are ignored
	// Region of the bucket. Empty uses the standard chain (AWS_REGION,
	// profile), else us-east-1.
	Region string
	// Endpoint is an optional S3-compatible endpoint such as
	// http://127.0.0.1:7070. Setting it implies path-style addressing.
	Endpoint  string
	PathStyle bool
	// SSE is "", "AES256" (SSE-S3) or "aws:kms"; KMSKeyID goes with aws:kms
	// and, when empty, the bucket's or account's default KMS key is used.
	SSE      string
	KMSKeyID string
	// Checksum is "CRC64NVME" (default) or "SHA256". It is computed here and
	// sent on every PUT, so the server rejects damaged bodies, and it is
	// compared with the stored object's checksum before Put returns.
	Checksum string
	// ObjectLockMode is "", "GOVERNANCE" or "COMPLIANCE". When set, every
	// object is retained until now + ObjectLockDays. The bucket must have
	// Object Lock enabled (and therefore versioning, on AWS).
	ObjectLockMode string
	ObjectLockDays int
	// Objects larger than MultipartThreshold are sent as a multipart upload
	// of PartSize parts, PartConcurrency at a time. Parts are slices of the
	// caller's buffer: a multipart Put adds no copy of the data.
	MultipartThreshold int64
	PartSize           int64
	PartConcurrency    int
	// RequestTimeout bounds each attempt of each request (one part, for
	// multipart). It must cover sending the largest part or object at the
	// slowest expected bandwidth.
	RequestTimeout time.Duration
	// MaxBackoff caps the wait between retries. Waits grow exponentially
	// from 100ms with full jitter.
	MaxBackoff time.Duration
	// Credentials, when set, replace the standard chain (environment, shared
	// profile, web identity, instance role). Tests and embedders use it.
	Credentials aws.CredentialsProvider
}

func (c *S3Config) applyDefaults() {
	c.Prefix = strings.Trim(c.Prefix, "/")
	c.Checksum = strings.ToUpper(c.Checksum)
	if c.Checksum == "" {
		c.Checksum = ChecksumCRC64NVME
	}
	c.ObjectLockMode = strings.ToUpper(c.ObjectLockMode)
	if c.MultipartThreshold <= 0 {
		c.MultipartThreshold = DefaultMultipartThreshold
	}
	if c.PartSize <= 0 {
		c.PartSize = DefaultPartSize
	}
	if c.PartConcurrency <= 0 {
		c.PartConcurrency = DefaultPartConcurrency
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
}

// validate checks a config that applyDefaults has filled.
func (c *S3Config) validate() error {
	var errs []error
	if c.Bucket == "" {
		errs = append(errs, errors.New("bucket is required"))
	}
	if c.Prefix == "AWSLogs" || strings.HasPrefix(c.Prefix, "AWSLogs/") {
		errs = append(errs, fmt.Errorf("prefix %q may not start with AWSLogs, which AWS reserves", c.Prefix))
	}
	switch c.Checksum {
	case ChecksumCRC64NVME, ChecksumSHA256:
	default:
		errs = append(errs, fmt.Errorf("checksum %q: want %s or %s", c.Checksum, ChecksumCRC64NVME, ChecksumSHA256))
	}
	switch c.SSE {
	case "", string(types.ServerSideEncryptionAes256):
		if c.KMSKeyID != "" {
			errs = append(errs, errors.New("a KMS key id needs sse aws:kms"))
		}
	case string(types.ServerSideEncryptionAwsKms):
	default:
		errs = append(errs, fmt.Errorf("sse %q: want AES256 or aws:kms", c.SSE))
	}
	switch c.ObjectLockMode {
	case "":
	case string(types.ObjectLockModeGovernance), string(types.ObjectLockModeCompliance):
		if c.ObjectLockDays <= 0 {
			errs = append(errs, fmt.Errorf("object lock mode %s needs a positive number of retention days", c.ObjectLockMode))
		}
	default:
		errs = append(errs, fmt.Errorf("object lock mode %q: want GOVERNANCE or COMPLIANCE", c.ObjectLockMode))
	}
	if c.PartSize < minPartSize || c.PartSize > maxPartSize {
		errs = append(errs, fmt.Errorf("part size %d: want between 5 MiB and 5 GiB", c.PartSize))
	}
	if c.MultipartThreshold > maxSinglePutSize {
		errs = append(errs, fmt.Errorf("multipart threshold %d: a single PUT takes at most 5 GiB", c.MultipartThreshold))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("s3 sink config: %w", err)
	}
	return nil
}

// S3 stores objects in an S3 bucket under a prefix. It is safe for
// concurrent use.
type S3 struct {
	cfg    S3Config
	client *s3.Client
	logger *slog.Logger
	// unsignedPayload: over TLS the body is not hashed for SigV4; the signed
	// checksum header protects it instead, saving a SHA-256 pass.
	unsignedPayload bool

	metrics *s3Metrics
	puts    atomic.Int64
	bytes   atomic.Int64
	retries atomic.Int64
	logs    logLimiter
}

var _ Sink = (*S3)(nil)

// NewS3 builds an S3 sink. It loads credentials and region through the
// standard AWS chain but makes no request; call Check to probe the bucket.
// A nil logger discards logs and a nil reg registers no metrics.
func NewS3(ctx context.Context, cfg S3Config, logger *slog.Logger, reg prometheus.Registerer) (*S3, error) {
	cfg.applyDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(cfg.Credentials))
	}
	opts = append(opts, config.WithLogger(awslog.New(logger.With("stage", "sink"))))
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = defaultRegion
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		// Our loop retries without end while ctx lives, classifies errors
		// and counts them; the SDK's own retryer would hide attempts.
		o.Retryer = aws.NopRetryer{}
		// Checksums are computed here and passed in; the SDK adds none.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle || cfg.Endpoint != ""
		// Get of a multipart object cannot check its composite checksum;
		// the SDK would log that to stderr on every such Get.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	metrics, err := newS3Metrics(reg)
	if err != nil {
		return nil, err
	}
	endpoint := aws.ToString(client.Options().BaseEndpoint)
	s := &S3{
		cfg:             cfg,
		client:          client,
		logger:          logger.With("sink", "s3", "bucket", cfg.Bucket),
		unsignedPayload: endpoint == "" || strings.HasPrefix(strings.ToLower(endpoint), "https://"),
		metrics:         metrics,
	}
	s.logs.interval = logInterval
	return s, nil
}

// String implements Sink.
func (s *S3) String() string {
	if s.cfg.Prefix == "" {
		return "s3://" + s.cfg.Bucket
	}
	return "s3://" + s.cfg.Bucket + "/" + s.cfg.Prefix
}

// Stats returns the number of verified puts, their bytes, and the number of
// retried failures since the sink was built. It is cheap enough for
// progress logs.
func (s *S3) Stats() (puts, bytes, retries int64) {
	return s.puts.Load(), s.bytes.Load(), s.retries.Load()
}

// Check probes the bucket with HeadBucket. A missing bucket, denied access
// or bad credentials return an error wrapping ErrPermanent; transient
// failures are retried until ctx ends, so give it a deadline.
func (s *S3) Check(ctx context.Context) error {
	return s.retry(ctx, "check", "", func(ctx context.Context) error {
		_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.cfg.Bucket)})
		return err
	})
}

// Put implements Sink. It uploads data with the configured checksum, then
// reads the object's metadata back and compares size and checksum; only a
// match returns nil. Transient failures, and a stored object that does not
// match, are retried until ctx ends.
func (s *S3) Put(ctx context.Context, key string, data []byte) error {
	if err := CheckKey(key); err != nil {
		s.metrics.permanent.Inc()
		return fmt.Errorf("%w: %w", ErrPermanent, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	obj := Join(s.cfg.Prefix, key)
	var full string
	if s.needFullChecksum(len(data)) {
		full, _ = checksum(s.cfg.Checksum, data)
	}
	for round := 1; ; round++ {
		err := s.putOnce(ctx, obj, data, full)
		if err == nil {
			break
		}
		redo, ok := errors.AsType[*redoError](err)
		if !ok {
			return err
		}
		// The upload went through but the stored object is wrong or gone:
		// send it again.
		if err := s.backoff(ctx, "put", obj, round, redo.reason, redo.err); err != nil {
			return err
		}
	}
	s.puts.Add(1)
	s.bytes.Add(int64(len(data)))
	s.metrics.puts.Inc()
	s.metrics.putBytes.Add(float64(len(data)))
	s.metrics.putSeconds.Observe(time.Since(start).Seconds())
	return nil
}

// Get implements Sink. A missing object returns an error wrapping
// ErrNotFound; transient failures are retried until ctx ends.
func (s *S3) Get(ctx context.Context, key string) ([]byte, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	obj := Join(s.cfg.Prefix, key)
	var data []byte
	err := s.retry(ctx, "get", obj, func(ctx context.Context) error {
		out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
			Bucket: aws.String(s.cfg.Bucket),
			Key:    aws.String(obj),
			// The SDK then checks full-object checksums while reading.
			ChecksumMode: types.ChecksumModeEnabled,
		})
		if err != nil {
			if isNotFound(err) {
				return stopRetry(fmt.Errorf("s3://%s/%s: %w", s.cfg.Bucket, obj, ErrNotFound))
			}
			return err
		}
		defer out.Body.Close()
		size := aws.ToInt64(out.ContentLength)
		buf := make([]byte, 0, max(size, 0)+1) // +1 lets ReadAll see EOF without growing
		buf, err = readAll(out.Body, buf)
		if err != nil {
			return fmt.Errorf("read body: %w", err)
		}
		if size >= 0 && int64(len(buf)) != size {
			return fmt.Errorf("read %d bytes, want Content-Length %d", len(buf), size)
		}
		data = buf
		return nil
	})
	if err != nil {
		return nil, err
	}
	return data, nil
}

// readAll reads r to EOF into buf's spare capacity, growing it if needed.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// s3Metrics are the sink's Prometheus metrics. Two sinks on one registry
// (data and dead letters) share the collectors.
type s3Metrics struct {
	puts       prometheus.Counter
	putBytes   prometheus.Counter
	retries    *prometheus.CounterVec
	putSeconds prometheus.Histogram
	permanent  prometheus.Counter
}

func newS3Metrics(reg prometheus.Registerer) (*s3Metrics, error) {
	m := &s3Metrics{
		puts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flowlake_sink_s3_puts_total",
			Help: "Objects uploaded to S3 and verified.",
		}),
		putBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flowlake_sink_s3_put_bytes_total",
			Help: "Bytes of objects uploaded to S3 and verified.",
		}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flowlake_sink_s3_retries_total",
			Help: "S3 request failures that were retried, by reason.",
		}, []string{"reason"}),
		putSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "flowlake_sink_s3_put_seconds",
			Help:    "Time for a successful Put, retries and verification included.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 12), // 10ms to ~10min
		}),
		permanent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flowlake_sink_s3_permanent_errors_total",
			Help: "S3 operations that failed with an error retrying cannot fix.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.puts = register(reg, m.puts, &err)
	m.putBytes = register(reg, m.putBytes, &err)
	m.retries = register(reg, m.retries, &err)
	m.putSeconds = register(reg, m.putSeconds, &err)
	m.permanent = register(reg, m.permanent, &err)
	if err != nil {
		return nil, fmt.Errorf("register s3 sink metrics: %w", err)
	}
	return m, nil
}

// register registers c, or returns the collector already registered under
// the same description. Other failures are kept in *errp.
func register[C prometheus.Collector](reg prometheus.Registerer, c C, errp *error) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	*errp = errors.Join(*errp, err)
	return c
}
