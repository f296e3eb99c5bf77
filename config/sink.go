package config

import (
	"time"

	"flowlake/stages/sink"
)

// Sink configures where files go.
type Sink struct {
	URL string `yaml:"url"`
	S3  S3     `yaml:"s3"`
}

// S3 configures the S3 sink.
type S3 struct {
	Region             string        `yaml:"region"`
	Endpoint           string        `yaml:"endpoint"`
	PathStyle          bool          `yaml:"path_style"`
	SSE                string        `yaml:"sse"`
	KMSKeyID           string        `yaml:"kms_key_id"`
	Checksum           string        `yaml:"checksum"`
	ObjectLockMode     string        `yaml:"object_lock_mode"`
	ObjectLockDays     int           `yaml:"object_lock_days"`
	MultipartThreshold int64         `yaml:"multipart_threshold"`
	PartSize           int64         `yaml:"part_size"`
	RequestTimeout     time.Duration `yaml:"request_timeout"`
}

// DefaultSink is the sink's defaults: a local folder, and S3 settings for
// when the URL is s3://.
var DefaultSink = Sink{URL: "file://./data", S3: DefaultS3}

// DefaultS3 is the S3 sink's defaults.
var DefaultS3 = S3{Checksum: "CRC64NVME", MultipartThreshold: 64 << 20, PartSize: 16 << 20, RequestTimeout: 2 * time.Minute}

// validate reports every invalid sink setting under sink.*.
func (s *Sink) validate(v *validator) {
	if _, err := sink.ParseURL(s.URL); err != nil {
		v.bad("sink.url", "%v", err)
	}
	s.S3.validate(v)
}

// validate reports every invalid S3 setting under sink.s3.*.
func (s *S3) validate(v *validator) {
	v.oneOf(s.Checksum, "sink.s3.checksum", "CRC64NVME", "SHA256")
	switch s.SSE {
	case "", "AES256", "aws:kms":
	default:
		v.bad("sink.s3.sse", "%q: want AES256 or aws:kms", s.SSE)
	}
	if s.KMSKeyID != "" && s.SSE != "aws:kms" {
		v.bad("sink.s3.kms_key_id", "needs sink.s3.sse aws:kms (--s3-sse)")
	}
	switch s.ObjectLockMode {
	case "":
	case "GOVERNANCE", "COMPLIANCE":
		if s.ObjectLockDays <= 0 {
			v.bad("sink.s3.object_lock_days", "must be positive with sink.s3.object_lock_mode (--s3-object-lock-mode)")
		}
	default:
		v.bad("sink.s3.object_lock_mode", "%q: want GOVERNANCE or COMPLIANCE", s.ObjectLockMode)
	}
	v.check(s.PartSize >= 5<<20 && s.PartSize <= 5<<30, "sink.s3.part_size", "must be between 5 MiB and 5 GiB (S3's part size limits)")
	v.check(s.MultipartThreshold > 0, "sink.s3.multipart_threshold", "must be positive")
	v.check(s.RequestTimeout > 0, "sink.s3.request_timeout", "must be positive")
	v.check(s.ObjectLockDays >= 0, "sink.s3.object_lock_days", "must not be negative")
}
