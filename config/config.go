package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"flowlake/schema"
	"flowlake/stages/batch"
	"flowlake/stages/encode"
	"flowlake/stages/sink"
	"flowlake/stages/source"
)

// Config is flowlake's whole configuration.
type Config struct {
	Kafka   source.Config     `yaml:"kafka"`
	Format  string            `yaml:"format"`
	Formats map[string]string `yaml:"formats"`
	// AllowNewerFields accepts post-v8 fields in formats and headers.
	AllowNewerFields bool          `yaml:"allow_newer_fields"`
	Region           string        `yaml:"region"`
	Account          string        `yaml:"account"`
	FlowLogID        string        `yaml:"flow_log_id"`
	Sink             Sink          `yaml:"sink"`
	DLQ              string        `yaml:"dlq"`
	Batch            batch.Config  `yaml:"batch"`
	Parquet          encode.Config `yaml:"parquet"`
	Memory           Memory        `yaml:"memory"`
	Enrich           Enrich        `yaml:"enrich"`
	Seal             Seal          `yaml:"seal"`
	ExitWhenIdle     time.Duration `yaml:"exit_when_idle"`
	// DrainTimeout bounds how long a batch run (ExitWhenIdle) waits for the
	// group to drain the topic; 0 means exit_when_idle + session timeout +
	// rebalance timeout.
	DrainTimeout     time.Duration `yaml:"drain_timeout"`
	MetricsAddr      string        `yaml:"metrics_addr"`
	LogLevel         string        `yaml:"log_level"`
	LogFormat        string        `yaml:"log_format"`
	ProgressInterval time.Duration `yaml:"progress_interval"`
	// Embedded runs an in-process Kafka-protocol broker fed by the generator:
	// the demo that `make run` starts.
	Embedded bool `yaml:"embedded"`
	// EmbeddedRecords is how many records the embedded demo generates.
	EmbeddedRecords int `yaml:"embedded_records"`
}

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

// Memory bounds buffers.
type Memory struct {
	MaxBufferedBytes int64 `yaml:"max_buffered_bytes"`
	FetchBufferBytes int64 `yaml:"fetch_buffer_bytes"`
}

// Enrich configures the ENI inventory.
type Enrich struct {
	ENIInventory    []string      `yaml:"eni_inventory"`
	SubnetInventory []string      `yaml:"subnet_inventory"`
	Regions         []string      `yaml:"regions"`
	RoleARNs        []string      `yaml:"role_arns"`
	EC2Endpoint     string        `yaml:"ec2_endpoint"`
	RefreshInterval time.Duration `yaml:"refresh_interval"`
	PollInterval    time.Duration `yaml:"poll_interval"`
	TagKeys         []string      `yaml:"tag_keys"`
}

// Enabled reports whether any inventory source is configured.
func (e Enrich) Enabled() bool { return len(e.ENIInventory) > 0 || len(e.Regions) > 0 }

// Default returns the defaults.
func Default() Config {
	return Config{
		Kafka:            source.Config{Topic: "vpc-flow-logs", Group: "flowlake", StartOffset: "earliest", FetchMaxBytes: 4 << 20, FetchMaxWait: 500 * time.Millisecond, SessionTimeout: 30 * time.Second, RebalanceTimeout: 60 * time.Second, HeartbeatInterval: 3 * time.Second, ConnectTimeout: 30 * time.Second},
		Format:           schema.DefaultFormatText,
		Region:           "us-east-1",
		Account:          "unknown",
		FlowLogID:        "fl-0000000000000000",
		Sink:             Sink{URL: "file://./data", S3: S3{Checksum: "CRC64NVME", MultipartThreshold: 64 << 20, PartSize: 16 << 20, RequestTimeout: 2 * time.Minute}},
		Batch:            batch.Defaults,
		Parquet:          encode.Config{Codec: "zstd"},
		Memory:           Memory{MaxBufferedBytes: 1 << 30, FetchBufferBytes: 128 << 20},
		Enrich:           Enrich{RefreshInterval: 5 * time.Minute, PollInterval: 10 * time.Second},
		Seal:             DefaultSeal,
		MetricsAddr:      "",
		LogLevel:         "info",
		LogFormat:        "text",
		ProgressInterval: 5 * time.Second,
		EmbeddedRecords:  500_000,
	}
}

// LoadFile decodes a YAML file over c, rejecting unknown keys. There is no
// ${VAR} expansion: formats use that syntax; FLOWLAKE_* variables override
// any field that has a flag.
func (c *Config) LoadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

var flowLogIDRE = regexp.MustCompile(`^fl-[0-9a-z]{1,32}$`)

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid configuration")

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalid, field, fmt.Sprintf(format, args...))
}

// Validate checks the configuration; errors name the field (flag name).
func (c *Config) Validate() error {
	if !c.Embedded {
		if len(c.Kafka.Brokers) == 0 {
			return invalid("--brokers", "at least one broker is required (or --embedded for the demo)")
		}
	}
	for _, b := range c.Kafka.Brokers {
		if !strings.Contains(b, ":") {
			return invalid("--brokers", "%q is not host:port", b)
		}
	}
	if c.Kafka.Topic == "" {
		return invalid("--topic", "required")
	}
	if err := c.validateSeal(); err != nil {
		return err
	}
	if c.Kafka.Group == "" {
		return invalid("--group", "required")
	}
	if err := c.Kafka.Auth.Validate(); err != nil {
		return invalid("--kafka-sasl", "%v", err)
	}
	if c.Kafka.StartOffset != "earliest" && c.Kafka.StartOffset != "latest" {
		return invalid("--start-offset", "%q: want earliest or latest", c.Kafka.StartOffset)
	}
	if _, err := c.ParsedFormat(); err != nil {
		return invalid("--format", "%v", err)
	}
	if _, err := c.ParsedFormats(); err != nil {
		return invalid("formats", "%v", err)
	}
	if !schema.ValidRegion([]byte(c.Region)) {
		return invalid("--region", "%q is not a region name", c.Region)
	}
	if !schema.ValidAccount([]byte(c.Account)) {
		return invalid("--account", "%q is not a 12-digit account id", c.Account)
	}
	if !flowLogIDRE.MatchString(c.FlowLogID) {
		return invalid("--flow-log-id", "%q: want fl- followed by lowercase hex", c.FlowLogID)
	}
	loc, err := sink.ParseURL(c.Sink.URL)
	if err != nil {
		return invalid("--sink", "%v", err)
	}
	_ = loc
	if c.DLQ != "" {
		if _, err := ParseDLQ(c.DLQ); err != nil {
			return invalid("--dlq", "%v", err)
		}
	}
	switch c.Sink.S3.Checksum {
	case "CRC64NVME", "SHA256":
	default:
		return invalid("--s3-checksum", "%q: want CRC64NVME or SHA256", c.Sink.S3.Checksum)
	}
	switch c.Sink.S3.SSE {
	case "", "AES256", "aws:kms":
	default:
		return invalid("--s3-sse", "%q: want AES256 or aws:kms", c.Sink.S3.SSE)
	}
	if c.Sink.S3.KMSKeyID != "" && c.Sink.S3.SSE != "aws:kms" {
		return invalid("--s3-kms-key-id", "needs --s3-sse aws:kms")
	}
	switch c.Sink.S3.ObjectLockMode {
	case "":
	case "GOVERNANCE", "COMPLIANCE":
		if c.Sink.S3.ObjectLockDays <= 0 {
			return invalid("--s3-object-lock-days", "must be positive with --s3-object-lock-mode")
		}
	default:
		return invalid("--s3-object-lock-mode", "%q: want GOVERNANCE or COMPLIANCE", c.Sink.S3.ObjectLockMode)
	}
	switch c.Parquet.Codec {
	case "zstd", "snappy", "gzip", "none":
	default:
		return invalid("--parquet-codec", "%q: want zstd, snappy, gzip or none", c.Parquet.Codec)
	}
	checks := []struct {
		ok    bool
		field string
	}{
		{c.Batch.MaxRows > 0, "--batch-max-rows"},
		{c.Batch.MaxBytes > 0, "--batch-max-bytes"},
		{c.Batch.MaxAge > 0, "--batch-max-age"},
		{c.Batch.Grace >= 0, "--batch-grace"},
		{c.Batch.MaxDeadLetters > 0, "batch.max_dead_letters"},
		{c.Memory.MaxBufferedBytes > 0, "--max-buffered-bytes"},
		{c.Memory.FetchBufferBytes > 0, "--fetch-buffer-bytes"},
		{c.Kafka.FetchMaxBytes > 0, "--fetch-max-bytes"},
		{c.ExitWhenIdle >= 0, "--exit-when-idle"},
		{c.DrainTimeout >= 0, "--drain-timeout"},
		{c.Kafka.ConnectTimeout > 0, "--connect-timeout"},
		{len(c.Enrich.TagKeys) <= schema.MaxTagColumns, "--eni-tag-keys"},
	}
	for _, ch := range checks {
		if !ch.ok {
			return invalid(ch.field, "out of range")
		}
	}
	if c.DrainTimeout > 0 && c.DrainTimeout <= c.ExitWhenIdle {
		return invalid("--drain-timeout", "%v must be longer than --exit-when-idle (%v)", c.DrainTimeout, c.ExitWhenIdle)
	}
	if c.Memory.MaxBufferedBytes < int64(c.Batch.MaxBytes) {
		return invalid("--max-buffered-bytes", "smaller than --batch-max-bytes (%d)", c.Batch.MaxBytes)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return invalid("--log-level", "%q: want debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return invalid("--log-format", "%q: want text or json", c.LogFormat)
	}
	return nil
}

// ParsedFormat returns the run-wide format.
func (c *Config) ParsedFormat() (*schema.Format, error) {
	return schema.ParseFormat(c.Format, schema.AllowNewerFields(c.AllowNewerFields))
}

// ParsedFormats returns the per-topic formats.
func (c *Config) ParsedFormats() (map[string]*schema.Format, error) {
	out := make(map[string]*schema.Format, len(c.Formats))
	for topic, s := range c.Formats {
		f, err := schema.ParseFormat(s, schema.AllowNewerFields(c.AllowNewerFields))
		if err != nil {
			return nil, fmt.Errorf("topic %s: %w", topic, err)
		}
		out[topic] = f
	}
	return out, nil
}

// DLQ is a parsed --dlq URL.
type DLQ struct {
	// Topic is set for kafka://topic.
	Topic string
	// SinkURL is set for file:// and s3:// URLs.
	SinkURL string
}

// ParseDLQ parses kafka://topic, file:///dir or s3://bucket/prefix.
func ParseDLQ(s string) (DLQ, error) {
	if t, ok := strings.CutPrefix(s, "kafka://"); ok {
		if t == "" || strings.ContainsAny(t, "/ ") {
			return DLQ{}, fmt.Errorf("%q: want kafka://topic", s)
		}
		return DLQ{Topic: t}, nil
	}
	if _, err := sink.ParseURL(s); err != nil {
		return DLQ{}, err
	}
	return DLQ{SinkURL: s}, nil
}
