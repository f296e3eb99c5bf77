package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// ErrUsage marks command line errors (exit code 2).
var ErrUsage = errors.New("usage")

// list is a comma-separated, repeatable string list flag. The first Set
// replaces the default; later ones append.
type list struct {
	p   *[]string
	set bool
}

func (l *list) String() string {
	if l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}

func (l *list) Set(s string) error {
	if !l.set {
		*l.p = nil
		l.set = true
	}
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l.p = append(*l.p, v)
		}
	}
	return nil
}

// RunFlags binds the `flowlake run` flags to c.
func RunFlags(fs *flag.FlagSet, c *Config) {
	fs.String("config", "", "YAML config file (env FLOWLAKE_CONFIG)")
	fs.Var(&list{p: &c.Kafka.Brokers}, "brokers", "Kafka brokers, host:port, comma separated")
	fs.StringVar(&c.Kafka.Topic, "topic", c.Kafka.Topic, "Kafka topic of flow log records")
	fs.StringVar(&c.Kafka.Group, "group", c.Kafka.Group, "Kafka consumer group")
	fs.StringVar(&c.Kafka.StartOffset, "start-offset", c.Kafka.StartOffset, "where partitions without a committed offset start: earliest or latest")
	fs.IntVar(&c.Kafka.FetchMaxBytes, "fetch-max-bytes", c.Kafka.FetchMaxBytes, "max bytes of one partition fetch")
	a := &c.Kafka.Auth
	fs.BoolVar(&a.TLS, "kafka-tls", a.TLS, "use TLS to the brokers")
	fs.StringVar(&a.SASL, "kafka-sasl", a.SASL, "SASL mechanism: plain, scram-sha-256, scram-sha-512 or aws-msk-iam")
	fs.StringVar(&a.Username, "kafka-username", a.Username, "SASL username")
	fs.StringVar((*string)(&a.Password), "kafka-password", string(a.Password), "SASL password (prefer FLOWLAKE_KAFKA_PASSWORD)")
	fs.StringVar(&c.Sink.URL, "sink", c.Sink.URL, "output: file:///dir or s3://bucket/prefix")
	sealFlags(fs, c)
	fs.StringVar(&c.DLQ, "dlq", c.DLQ, "dead letters: kafka://topic, file:///dir or s3://bucket/prefix (default: _dead_letters/ in the sink)")
	fs.StringVar(&c.Region, "region", c.Region, "region for records whose format and interface give none")
	fs.StringVar(&c.Account, "account", c.Account, "account for records whose format and envelope give none")
	fs.StringVar(&c.FlowLogID, "flow-log-id", c.FlowLogID, "flow log id in file names")
	fs.StringVar(&c.Format, "format", c.Format, "flow log format, in AWS syntax: '${version} ${account-id} ...'")
	fs.BoolVar(&c.AllowNewerFields, "allow-newer-fields", c.AllowNewerFields, "accept fields newer than version 8 (kept as strings)")
	fs.DurationVar(&c.ExitWhenIdle, "exit-when-idle", c.ExitWhenIdle, "run as a batch job: exit 0 once no record arrived for this long and the group has made every partition durable up to its high watermark (0: never)")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", c.DrainTimeout, "with --exit-when-idle: fail (exit 3) when the topic is not drained this long after the last record, rebalance or flush (0: exit-when-idle + session + rebalance timeout)")
	fs.DurationVar(&c.Kafka.ConnectTimeout, "connect-timeout", c.Kafka.ConnectTimeout, "with --exit-when-idle: fail (exit 4) when no broker answers within this long at start")
	fs.IntVar(&c.Batch.MaxRows, "batch-max-rows", c.Batch.MaxRows, "flush a batch at this many rows")
	fs.IntVar(&c.Batch.MaxBytes, "batch-max-bytes", c.Batch.MaxBytes, "flush a batch at this many bytes in memory")
	fs.DurationVar(&c.Batch.MaxAge, "batch-max-age", c.Batch.MaxAge, "flush a batch this long after its first row")
	fs.DurationVar(&c.Batch.Grace, "batch-grace", c.Batch.Grace, "keep an hour open this long after it ended, for late records")
	fs.Int64Var(&c.Memory.MaxBufferedBytes, "max-buffered-bytes", c.Memory.MaxBufferedBytes, "memory budget for buffered rows")
	fs.Int64Var(&c.Memory.FetchBufferBytes, "fetch-buffer-bytes", c.Memory.FetchBufferBytes, "memory budget for fetched, unparsed messages")
	fs.StringVar(&c.Parquet.Codec, "parquet-codec", c.Parquet.Codec, "zstd, snappy, gzip or none")
	fs.BoolVar(&c.Parquet.DashStrings, "parquet-dash-strings", c.Parquet.DashStrings, "write '-' instead of null in string columns")
	fs.StringVar(&c.Sink.S3.Region, "s3-region", c.Sink.S3.Region, "S3 region (default: from the AWS config chain)")
	fs.StringVar(&c.Sink.S3.Endpoint, "s3-endpoint", c.Sink.S3.Endpoint, "S3-compatible endpoint URL (path-style addressing)")
	fs.StringVar(&c.Sink.S3.SSE, "s3-sse", c.Sink.S3.SSE, "server-side encryption: AES256 or aws:kms")
	fs.StringVar(&c.Sink.S3.KMSKeyID, "s3-kms-key-id", c.Sink.S3.KMSKeyID, "KMS key id for aws:kms")
	fs.StringVar(&c.Sink.S3.Checksum, "s3-checksum", c.Sink.S3.Checksum, "checksum sent with every PUT: CRC64NVME or SHA256")
	fs.StringVar(&c.Sink.S3.ObjectLockMode, "s3-object-lock-mode", c.Sink.S3.ObjectLockMode, "GOVERNANCE or COMPLIANCE")
	fs.IntVar(&c.Sink.S3.ObjectLockDays, "s3-object-lock-days", c.Sink.S3.ObjectLockDays, "retain objects this many days")
	fs.Var(&list{p: &c.Enrich.ENIInventory}, "eni-inventory", "describe-network-interfaces JSON file or directory (repeatable)")
	fs.Var(&list{p: &c.Enrich.SubnetInventory}, "subnet-inventory", "describe-subnets JSON file or directory (repeatable)")
	fs.Var(&list{p: &c.Enrich.Regions}, "eni-regions", "regions to read the inventory from the EC2 API")
	fs.Var(&list{p: &c.Enrich.RoleARNs}, "eni-role-arns", "role ARNs to assume per account for the EC2 API")
	fs.StringVar(&c.Enrich.EC2Endpoint, "ec2-endpoint", c.Enrich.EC2Endpoint, "EC2 API endpoint override")
	fs.DurationVar(&c.Enrich.RefreshInterval, "eni-refresh-interval", c.Enrich.RefreshInterval, "EC2 inventory refresh interval")
	fs.Var(&list{p: &c.Enrich.TagKeys}, "eni-tag-keys", "ENI tag keys to add as eni_tag_<key> columns")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "serve Prometheus metrics on this address (e.g. :9108)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "text or json")
	fs.DurationVar(&c.ProgressInterval, "progress-interval", c.ProgressInterval, "log progress this often")
	fs.BoolVar(&c.Embedded, "embedded", c.Embedded, "demo: run an in-process Kafka broker fed by the generator")
	fs.IntVar(&c.EmbeddedRecords, "embedded-records", c.EmbeddedRecords, "records the embedded demo generates")
}

// Parse loads defaults, the config file, FLOWLAKE_* env vars and the
// command line, in that order of precedence (last wins). bind defines the
// flags on fs bound to the config. Errors wrap ErrUsage or ErrInvalid.
func Parse(name string, args []string, bind func(*flag.FlagSet, *Config)) (*Config, *flag.FlagSet, error) {
	c := Default()
	path := os.Getenv("FLOWLAKE_CONFIG")
	for i, a := range args {
		if v, ok := strings.CutPrefix(strings.TrimLeft(a, "-"), "config="); ok && strings.HasPrefix(a, "-") {
			path = v
		} else if (a == "--config" || a == "-config") && i+1 < len(args) {
			path = args[i+1]
		}
	}
	if path != "" {
		if err := c.LoadFile(path); err != nil {
			return nil, nil, fmt.Errorf("%w: --config: %w", ErrUsage, err)
		}
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	bind(fs, &c)
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if envErr != nil || f.Name == "config" {
			return
		}
		env := "FLOWLAKE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("%w: %s: invalid value %q: %v", ErrUsage, env, v, err)
			}
		}
	})
	if envErr != nil {
		return nil, fs, envErr
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, fs, flag.ErrHelp
		}
		return nil, fs, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, fs, fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	return &c, fs, nil
}
