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
	"flowlake/stages/source/kafka"
)

// Config is flowlake's whole configuration.
type Config struct {
	Kafka   kafka.Config      `yaml:"kafka"`
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

// Default returns the defaults.
func Default() Config {
	return Config{
		Kafka:            kafka.Defaults,
		Format:           schema.DefaultFormatText,
		Region:           "us-east-1",
		Account:          "unknown",
		FlowLogID:        "fl-0000000000000000",
		Sink:             DefaultSink,
		Batch:            batch.Defaults,
		Parquet:          encode.Config{Codec: "zstd", ZstdLevel: "fastest"},
		Memory:           DefaultMemory,
		Enrich:           DefaultEnrich,
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
	validateKafka(v, &c.Kafka, c.Embedded)
	c.Seal.validate(v)
	c.outputProblems(v)
	return v.ps
}

// outputProblems checks what every command that writes the lake shares:
// parsing, the sink, batches, Parquet, memory, enrichment and logs. Each
// type checks its own fields (sink.go, memory.go, enrich.go, batch.go,
// input.go); what is left here are the top-level settings.
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
	if c.DLQ != "" {
		if _, err := ParseDLQ(c.DLQ); err != nil {
			v.bad("dlq", "%v", err)
		}
	}
	c.Sink.validate(v)
	validateBatch(v, &c.Batch)
	validateParquet(v, &c.Parquet)
	c.Memory.validate(v, int64(c.Batch.MaxBytes))
	c.Enrich.validate(v)
	c.Input.validate(v)
	v.check(c.ExitWhenIdle >= 0, "exit_when_idle", "must not be negative")
	v.check(c.DrainTimeout >= 0, "drain_timeout", "must not be negative")
	if c.DrainTimeout > 0 && c.DrainTimeout <= c.ExitWhenIdle {
		v.bad("drain_timeout", "%v must be longer than exit_when_idle (%v)", c.DrainTimeout, c.ExitWhenIdle)
	}
	v.check(c.ProgressInterval >= 0, "progress_interval", "must not be negative")
	v.check(c.EmbeddedRecords >= 0, "embedded_records", "must not be negative")
	v.oneOf(c.LogLevel, "log_level", "debug", "info", "warn", "error")
	v.oneOf(c.LogFormat, "log_format", "text", "json")
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
