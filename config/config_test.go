package config

import (
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, file string) (*Config, error) {
	t.Helper()
	c := Default()
	if err := c.LoadFile(filepath.Join("testdata", file)); err != nil {
		return nil, err
	}
	return &c, c.Validate()
}

func TestGoodFiles(t *testing.T) {
	c, err := load(t, "full.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Kafka.Topic != "flows" || c.Kafka.StartOffset != "latest" || c.Region != "eu-west-1" || c.Batch.MaxRows != 5000 ||
		c.Batch.MaxAge != 2*time.Minute || c.Sink.S3.Checksum != "SHA256" || c.ExitWhenIdle != 30*time.Second ||
		c.Batch.MaxBytes != Default().Batch.MaxBytes || !c.Enrich.Enabled() {
		t.Fatalf("decoded %+v", c)
	}
	formats, err := c.ParsedFormats()
	if err != nil || formats["flows-v5"].Version() != 5 {
		t.Fatalf("formats %v %v", formats, err)
	}
	c2 := Default()
	if err := c2.LoadFile(filepath.Join("testdata", "empty.good.yaml")); err != nil {
		t.Fatal(err)
	}
	if c2.Kafka.Topic != Default().Kafka.Topic {
		t.Fatal("an empty file changed a default")
	}
}

func TestBadFiles(t *testing.T) {
	tests := []struct{ file, errMsg string }{
		{"unknown_key.bad.yaml", "kafka.topik: unknown key (line 3), did you mean topic?"},
		{"bad_format.bad.yaml", `format: invalid flow log format: unknown field "bogus" (line 3)`},
		{"dup_field.bad.yaml", `"version" appears twice`},
		{"bad_region.bad.yaml", `region: "../x" is not a region name (line 3)`},
		{"bad_sink.bad.yaml", `sink.url: sink URL "ftp://x": unsupported scheme "ftp" (want file or s3) (line 4)`},
		{"bad_duration.bad.yaml", `batch.max_age: "fast": want a duration such as 500ms, 30s, 5m or 1h (line 4)`},
		{"lock_days.bad.yaml", "sink.s3.object_lock_days (--s3-object-lock-days): must be positive"},
		{"no_brokers.bad.yaml", "kafka.brokers (--brokers): at least one broker"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := load(t, tt.file)
			if err == nil || !strings.Contains(err.Error(), tt.errMsg) {
				t.Fatalf("error %v, want one containing %q", err, tt.errMsg)
			}
		})
	}
}

func TestPrecedence(t *testing.T) {
	t.Setenv("FLOWLAKE_TOPIC", "from-env")
	t.Setenv("FLOWLAKE_REGION", "ap-south-1")
	t.Setenv("FLOWLAKE_CONFIG", filepath.Join("testdata", "full.good.yaml"))
	c, _, err := Parse("run", []string{"--region", "us-west-2", "--brokers", "a:1,b:2", "--brokers", "c:3"}, RunFlags)
	if err != nil {
		t.Fatal(err)
	}
	if c.Kafka.Topic != "from-env" {
		t.Errorf("topic %q: env should beat the file", c.Kafka.Topic)
	}
	if c.Region != "us-west-2" {
		t.Errorf("region %q: flags should beat env", c.Region)
	}
	if strings.Join(c.Kafka.Brokers, ",") != "a:1,b:2,c:3" {
		t.Errorf("brokers %v: flags replace the file's list and repeat", c.Kafka.Brokers)
	}
	if c.Kafka.Group != "lake" {
		t.Errorf("group %q: the file should beat the default", c.Kafka.Group)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		env  [2]string
		want string
	}{
		{[]string{"--bogus"}, [2]string{}, "flag provided but not defined: -bogus"},
		{[]string{"--batch-max-rows", "many"}, [2]string{}, `invalid value "many" for flag -batch-max-rows`},
		{[]string{"--exit-when-idle", "soon"}, [2]string{}, `invalid value "soon" for flag -exit-when-idle`},
		{[]string{"extra"}, [2]string{}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if tt.env[0] != "" {
				t.Setenv(tt.env[0], tt.env[1])
			}
			_, _, err := Parse("run", tt.args, RunFlags)
			if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Parse(%v) = %v, want a one-line usage error containing %q", tt.args, err, tt.want)
			}
		})
	}
	if _, _, err := Parse("run", []string{"-h"}, RunFlags); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

func TestValidateFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--brokers", "k:1", "--region", "us east"}, "--region"},
		{[]string{"--brokers", "k:1", "--flow-log-id", "flow1"}, "--flow-log-id"},
		{[]string{"--brokers", "k:1", "--sink", "gs://x"}, "--sink"},
		{[]string{"--brokers", "k:1", "--dlq", "kafka://"}, "--dlq"},
		{[]string{"--brokers", "k:1", "--parquet-codec", "lzo"}, "--parquet-codec"},
		{[]string{"--brokers", "k:1", "--parquet-zstd-level", "max"}, "--parquet-zstd-level"},
		{[]string{"--brokers", "k:1", "--batch-max-rows", "0"}, "--batch-max-rows"},
		{[]string{"--brokers", "k:1", "--format", ""}, "--format"},
		{[]string{"--brokers", "nohost"}, "--brokers"},
		{[]string{"--brokers", "k:1", "--s3-kms-key-id", "k"}, "--s3-kms-key-id"},
		{[]string{"--brokers", "k:1", "--kafka-sasl", "scram-sha-512", "--kafka-username", "u"}, "--kafka-sasl"},
		{[]string{"--brokers", "k:1", "--kafka-sasl", "gssapi"}, "--kafka-sasl"},
	}
	for _, tt := range tests {
		c, _, err := Parse("run", tt.args, RunFlags)
		if err != nil {
			t.Fatalf("Parse(%v): %v", tt.args, err)
		}
		err = c.Validate()
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate after %v = %v, want an error naming %s", tt.args, err, tt.want)
		}
	}
	c, _, err := Parse("demo", nil, DemoFlags)
	if err != nil || c.Validate() != nil {
		t.Fatalf("the demo needs no flag: %v %v", err, c.Validate())
	}
}

func TestSecretsDoNotPrint(t *testing.T) {
	t.Setenv("FLOWLAKE_KAFKA_PASSWORD", "hunter2")
	c, _, err := Parse("run", []string{"--brokers", "k:1", "--kafka-sasl", "scram-sha-256", "--kafka-username", "u"}, RunFlags)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if string(c.Kafka.Auth.Password) != "hunter2" {
		t.Fatalf("password not read from the environment")
	}
	for _, s := range []string{fmt.Sprintf("%v", c.Kafka), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c.Kafka)} {
		if strings.Contains(s, "hunter2") {
			t.Fatalf("password printed: %s", s)
		}
	}
}
