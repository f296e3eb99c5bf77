package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"flowlake/schema"
	"flowlake/stages/batch"
	"flowlake/stages/encode"
	"flowlake/stages/parse"
	"flowlake/stages/sink"
	"flowlake/stages/source"
)

// Config is flowlake's whole configuration.
type Config struct {
	Kafka   source.Config     `yaml:"kafka"`
	Format  string            `yaml:"format"`
	Formats map[string]string `yaml:"formats"`
	// AllowNewerFields accepts post-v8 fields in formats and headers.
	AllowNewerFields bool   `yaml:"allow_newer_fields"`
	Region           string `yaml:"region"`
	Account          string `yaml:"account"`
	// Backfill configures `flowlake backfill`.
	Backfill Backfill `yaml:"backfill"`
	// JSONFields names the field of log shippers' JSON events that holds
	// the flow log line (default: message, then log).
	JSONFields   []string      `yaml:"json_fields"`
	FlowLogID    string        `yaml:"flow_log_id"`
	Sink         Sink          `yaml:"sink"`
	DLQ          string        `yaml:"dlq"`
	Batch        batch.Config  `yaml:"batch"`
	Parquet      encode.Config `yaml:"parquet"`
	Memory       Memory        `yaml:"memory"`
	Enrich       Enrich        `yaml:"enrich"`
	Seal         Seal          `yaml:"seal"`
	Input        Input         `yaml:"input"`
	ExitWhenIdle time.Duration `yaml:"exit_when_idle"`
	// DrainTimeout bounds how long a batch run (ExitWhenIdle) waits for the
	// group to drain the topic; 0 means exit_when_idle + session timeout +
	// rebalance timeout.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	MetricsAddr  string        `yaml:"metrics_addr"`
	// PprofAddr serves net/http/pprof (empty: off).
	PprofAddr        string        `yaml:"pprof_addr"`
	LogLevel         string        `yaml:"log_level"`
	LogFormat        string        `yaml:"log_format"`
	ProgressInterval time.Duration `yaml:"progress_interval"`
	// Embedded runs an in-process Kafka-protocol broker fed by the generator:
	// the demo that `make run` starts.
	Embedded bool `yaml:"embedded"`
	// EmbeddedRecords is how many records the embedded demo generates.
	EmbeddedRecords int `yaml:"embedded_records"`

	// origins records where each setting's value came from (file line,
	// variable, flag); pending holds problems found while loading.
	origins map[string]origin
	pending Problems
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

// Memory bounds the process's memory.
type Memory struct {
	// Limit is the one memory budget of the whole process: fetched
	// messages, parsed rows waiting to merge, open batches and encoders in
	// flight are counted against it, and the Go runtime's soft memory limit
	// (GOMEMLIMIT) is set to it unless GOMEMLIMIT is set.
	Limit ByteSize `yaml:"limit"`
	// MaxBufferedBytes optionally lowers the share of the limit that open
	// and flushing batches may hold (0: what the limit leaves).
	MaxBufferedBytes ByteSize `yaml:"max_buffered_bytes"`
	// FetchBufferBytes optionally sets the share of the limit that fetched
	// messages not yet merged may hold (0: a quarter of the budget).
	FetchBufferBytes ByteSize `yaml:"fetch_buffer_bytes"`
}

// MinMemoryLimit is the smallest --memory-limit accepted.
const MinMemoryLimit = 32 << 20

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
		Kafka:            source.Defaults,
		Format:           schema.DefaultFormatText,
		Region:           "us-east-1",
		Account:          "unknown",
		FlowLogID:        "fl-0000000000000000",
		Sink:             Sink{URL: "file://./data", S3: S3{Checksum: "CRC64NVME", MultipartThreshold: 64 << 20, PartSize: 16 << 20, RequestTimeout: 2 * time.Minute}},
		Batch:            batch.Defaults,
		Parquet:          encode.Config{Codec: "zstd"},
		Memory:           Memory{Limit: 256 << 20},
		Enrich:           Enrich{RefreshInterval: 5 * time.Minute, PollInterval: 10 * time.Second},
		Seal:             DefaultSeal,
		Input:            defaultInput(),
		MetricsAddr:      "",
		LogLevel:         "info",
		LogFormat:        "text",
		ProgressInterval: 5 * time.Second,
		EmbeddedRecords:  500_000,
	}
}

var flowLogIDRE = regexp.MustCompile(`^fl-[0-9a-z]{1,32}$`)

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid configuration")

// validator collects problems, each located by where its value came from.
type validator struct {
	c  *Config
	ps Problems
}

func (v *validator) bad(path, format string, args ...any) {
	v.ps = append(v.ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...), where: v.c.originOf(path)})
}

// Validate checks the whole configuration and returns every problem at
// once (Problems, wrapping ErrInvalid): those found while loading the file,
// the environment and secret files, then every invalid value. Each names
// its YAML path and where the value came from (line, variable or flag).
func (c *Config) Validate() error {
	return c.problems().err()
}

// Problems returns what Validate reports, as a list.
func (c *Config) Problems() Problems {
	return c.problems()
}

func (c *Config) problems() Problems {
	v := &validator{c: c, ps: append(Problems(nil), c.pending...)}
	c.kafkaProblems(v)
	c.outputProblems(v)
	return v.ps
}

// kafkaProblems checks what only the Kafka consumer (`run`, `demo`) uses.
func (c *Config) kafkaProblems(v *validator) {
	if !c.Embedded && len(c.Kafka.Brokers) == 0 {
		v.bad("kafka.brokers", "at least one broker is required (or `flowlake demo`)")
	}
	for _, b := range c.Kafka.Brokers {
		if !strings.Contains(b, ":") {
			v.bad("kafka.brokers", "%q is not host:port", b)
		}
	}
	if c.Kafka.Topic == "" {
		v.bad("kafka.topic", "required")
	}
	c.validateSeal(v)
	if c.Kafka.Group == "" {
		v.bad("kafka.group", "required")
	}
	if err := c.Kafka.Auth.Validate(); err != nil {
		v.bad("kafka.auth.sasl", "%v", err)
	}
	if c.Kafka.StartOffset != "earliest" && c.Kafka.StartOffset != "latest" {
		v.bad("kafka.start_offset", "%q: want earliest or latest", c.Kafka.StartOffset)
	}
}

// outputProblems checks what every command that writes the lake shares:
// parsing, the sink, batches, Parquet, memory and logs.
func (c *Config) outputProblems(v *validator) {
	if _, err := c.ParsedFormat(); err != nil {
		v.bad("format", "%v", err)
	}
	for topic, s := range c.Formats {
		if _, err := schema.ParseFormat(s, schema.AllowNewerFields(c.AllowNewerFields)); err != nil {
			v.bad("formats."+topic, "%v", err)
		}
	}
	if !schema.ValidRegion([]byte(c.Region)) {
		v.bad("region", "%q is not a region name", c.Region)
	}
	if !schema.ValidAccount([]byte(c.Account)) {
		v.bad("account", "%q is not a 12-digit account id", c.Account)
	}
	for _, f := range c.JSONFields {
		if err := parse.CheckJSONField(f); err != nil {
			v.bad("json_fields", "%v", err)
		}
	}
	if !flowLogIDRE.MatchString(c.FlowLogID) {
		v.bad("flow_log_id", "%q: want fl- followed by lowercase hex", c.FlowLogID)
	}
	if _, err := sink.ParseURL(c.Sink.URL); err != nil {
		v.bad("sink.url", "%v", err)
	}
	if c.DLQ != "" {
		if _, err := ParseDLQ(c.DLQ); err != nil {
			v.bad("dlq", "%v", err)
		}
	}
	switch c.Sink.S3.Checksum {
	case "CRC64NVME", "SHA256":
	default:
		v.bad("sink.s3.checksum", "%q: want CRC64NVME or SHA256", c.Sink.S3.Checksum)
	}
	switch c.Sink.S3.SSE {
	case "", "AES256", "aws:kms":
	default:
		v.bad("sink.s3.sse", "%q: want AES256 or aws:kms", c.Sink.S3.SSE)
	}
	if c.Sink.S3.KMSKeyID != "" && c.Sink.S3.SSE != "aws:kms" {
		v.bad("sink.s3.kms_key_id", "needs sink.s3.sse aws:kms (--s3-sse)")
	}
	switch c.Sink.S3.ObjectLockMode {
	case "":
	case "GOVERNANCE", "COMPLIANCE":
		if c.Sink.S3.ObjectLockDays <= 0 {
			v.bad("sink.s3.object_lock_days", "must be positive with sink.s3.object_lock_mode (--s3-object-lock-mode)")
		}
	default:
		v.bad("sink.s3.object_lock_mode", "%q: want GOVERNANCE or COMPLIANCE", c.Sink.S3.ObjectLockMode)
	}
	switch c.Parquet.Codec {
	case "zstd", "snappy", "gzip", "none":
	default:
		v.bad("parquet.codec", "%q: want zstd, snappy, gzip or none", c.Parquet.Codec)
	}
	checks := []struct {
		ok   bool
		path string
		want string
	}{
		{c.Batch.MaxRows > 0, "batch.max_rows", "must be positive"},
		{c.Batch.MaxBytes > 0, "batch.max_bytes", "must be positive"},
		{c.Batch.MaxAge > 0, "batch.max_age", "must be positive"},
		{c.Batch.Grace >= 0, "batch.grace", "must not be negative"},
		{c.Batch.MaxDeadLetters > 0, "batch.max_dead_letters", "must be positive"},
		{c.Memory.Limit >= MinMemoryLimit, "memory.limit", "must be at least 32MiB"},
		{c.Memory.MaxBufferedBytes >= 0, "memory.max_buffered_bytes", "must not be negative"},
		{c.Memory.FetchBufferBytes == 0 || c.Memory.FetchBufferBytes >= 64<<10, "memory.fetch_buffer_bytes", "must be 0 (a quarter of the budget) or at least 64KiB"},
		{c.Kafka.FetchMaxBytes > 0, "kafka.fetch_max_bytes", "must be positive"},
		{c.Kafka.FetchMaxWait > 0, "kafka.fetch_max_wait", "must be positive"},
		{c.Kafka.SessionTimeout >= 6*time.Second, "kafka.session_timeout", "must be at least 6s (brokers reject less by default)"},
		{c.Kafka.RebalanceTimeout > 0, "kafka.rebalance_timeout", "must be positive"},
		{c.Kafka.HeartbeatInterval > 0 && c.Kafka.HeartbeatInterval < c.Kafka.SessionTimeout, "kafka.heartbeat_interval", "must be positive and below kafka.session_timeout"},
		{c.Sink.S3.PartSize >= 5<<20 && c.Sink.S3.PartSize <= 5<<30, "sink.s3.part_size", "must be between 5 MiB and 5 GiB (S3's part size limits)"},
		{c.Sink.S3.MultipartThreshold > 0, "sink.s3.multipart_threshold", "must be positive"},
		{c.Sink.S3.RequestTimeout > 0, "sink.s3.request_timeout", "must be positive"},
		{c.Sink.S3.ObjectLockDays >= 0, "sink.s3.object_lock_days", "must not be negative"},
		{c.Parquet.PageBytes >= 0, "parquet.page_bytes", "must not be negative"},
		{c.Enrich.RefreshInterval > 0, "enrich.refresh_interval", "must be positive"},
		{c.Enrich.PollInterval > 0, "enrich.poll_interval", "must be positive"},
		{c.ExitWhenIdle >= 0, "exit_when_idle", "must not be negative"},
		{c.DrainTimeout >= 0, "drain_timeout", "must not be negative"},
		{c.Kafka.ConnectTimeout > 0, "kafka.connect_timeout", "must be positive"},
		{c.ProgressInterval >= 0, "progress_interval", "must not be negative"},
		{c.EmbeddedRecords >= 0, "embedded_records", "must not be negative"},
		{len(c.Enrich.TagKeys) <= schema.MaxTagColumns, "enrich.tag_keys", fmt.Sprintf("at most %d keys", schema.MaxTagColumns)},
	}
	for _, ch := range checks {
		if !ch.ok {
			v.bad(ch.path, "%s", ch.want)
		}
	}
	c.Input.validate(v)
	if c.DrainTimeout > 0 && c.DrainTimeout <= c.ExitWhenIdle {
		v.bad("drain_timeout", "%v must be longer than exit_when_idle (%v)", c.DrainTimeout, c.ExitWhenIdle)
	}
	if c.Memory.MaxBufferedBytes > 0 && int64(c.Memory.MaxBufferedBytes) < int64(c.Batch.MaxBytes) {
		v.bad("memory.max_buffered_bytes", "%d is smaller than batch.max_bytes (%d)", c.Memory.MaxBufferedBytes, c.Batch.MaxBytes)
	}
	if len(c.Enrich.RoleARNs) > 0 && len(c.Enrich.Regions) == 0 {
		v.bad("enrich.role_arns", "needs enrich.regions (--eni-regions): roles are assumed to read the EC2 API")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		v.bad("log_level", "%q: want debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		v.bad("log_format", "%q: want text or json", c.LogFormat)
	}
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
