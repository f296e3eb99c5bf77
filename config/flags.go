package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"sync"

	"flowlake/stages/encode"
	"flowlake/stages/source/kafka"
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
	fs.Var(intBytes{&c.Kafka.FetchMaxBytes}, "fetch-max-bytes", "max bytes of one partition fetch (lowered so that every assigned partition fits in the fetch buffer)")
	a := &c.Kafka.Auth
	fs.BoolVar(&a.TLS, "kafka-tls", a.TLS, "use TLS to the brokers")
	fs.StringVar(&a.SASL, "kafka-sasl", a.SASL, "SASL mechanism: plain, scram-sha-256, scram-sha-512 or aws-msk-iam")
	fs.StringVar(&a.Username, "kafka-username", a.Username, "SASL username")
	fs.Var(&secret{p: &a.Password}, "kafka-password", "SASL password (prefer --kafka-password-file or FLOWLAKE_KAFKA_PASSWORD)")
	fs.StringVar(&a.PasswordFile, "kafka-password-file", a.PasswordFile, "read the SASL password from this file (trailing newline ignored)")
	fs.DurationVar(&c.Kafka.FetchMaxWait, "fetch-max-wait", c.Kafka.FetchMaxWait, "how long the broker may hold a fetch waiting for data")
	fs.DurationVar(&c.Kafka.SessionTimeout, "session-timeout", c.Kafka.SessionTimeout, "consumer group session timeout")
	fs.DurationVar(&c.Kafka.RebalanceTimeout, "rebalance-timeout", c.Kafka.RebalanceTimeout, "consumer group rebalance timeout")
	fs.DurationVar(&c.Kafka.HeartbeatInterval, "heartbeat-interval", c.Kafka.HeartbeatInterval, "consumer group heartbeat interval")
	fs.Var(&list{p: &c.JSONFields}, "json-field", "field of log shippers' JSON events holding the flow log line, dots for nesting (default: message, then log)")
	fs.DurationVar(&c.ExitWhenIdle, "exit-when-idle", c.ExitWhenIdle, "run as a batch job: exit 0 once no record arrived for this long and the group has made every partition durable up to its high watermark (0: never)")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", c.DrainTimeout, "with --exit-when-idle: fail (exit 3) when the topic is not drained this long after the last record, rebalance or flush (0: exit-when-idle + session + rebalance timeout)")
	fs.DurationVar(&c.Kafka.ConnectTimeout, "connect-timeout", c.Kafka.ConnectTimeout, "with --exit-when-idle: fail (exit 4) when no broker answers within this long at start")
	fs.DurationVar(&c.ProgressInterval, "progress-interval", c.ProgressInterval, "log progress this often")
	outputFlags(fs, c)
}

// DemoFlags binds the `flowlake demo` flags to c: those of run, plus the
// size of the demo. The demo always runs the embedded broker.
func DemoFlags(fs *flag.FlagSet, c *Config) {
	c.Embedded = true
	RunFlags(fs, c)
	fs.IntVar(&c.EmbeddedRecords, "embedded-records", c.EmbeddedRecords, "records the embedded demo generates")
}

// outputFlags binds the flags of every command that writes the lake.
func outputFlags(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.Sink.URL, "sink", c.Sink.URL, "output: file:///dir or s3://bucket/prefix")
	sealFlags(fs, c)
	fs.StringVar(&c.DLQ, "dlq", c.DLQ, "dead letters: kafka://topic, file:///dir or s3://bucket/prefix (default: _dead_letters/ in the sink)")
	fs.StringVar(&c.Region, "region", c.Region, "region for records whose format and interface give none")
	fs.StringVar(&c.Account, "account", c.Account, "account for records whose format and envelope give none")
	fs.StringVar(&c.FlowLogID, "flow-log-id", c.FlowLogID, "flow log id in file names")
	fs.StringVar(&c.Format, "format", c.Format, "flow log format, in AWS syntax: '${version} ${account-id} ...'")
	fs.BoolVar(&c.AllowNewerFields, "allow-newer-fields", c.AllowNewerFields, "accept fields newer than version 8 (kept as strings)")
	fs.IntVar(&c.Batch.MaxRows, "batch-max-rows", c.Batch.MaxRows, "flush a batch at this many rows")
	fs.Var(intBytes{&c.Batch.MaxBytes}, "batch-max-bytes", "flush a batch at this many bytes in memory")
	fs.DurationVar(&c.Batch.MaxAge, "batch-max-age", c.Batch.MaxAge, "flush a batch this long after its first row")
	fs.DurationVar(&c.Batch.Grace, "batch-grace", c.Batch.Grace, "keep an hour open this long after it ended, for late records")
	fs.IntVar(&c.Batch.MaxDeadLetters, "batch-max-dead-letters", c.Batch.MaxDeadLetters, "flush dead letters when this many are waiting")
	fs.IntVar(&c.Batch.MaxDeadBytes, "batch-max-dead-bytes", c.Batch.MaxDeadBytes, "flush dead letters when they hold this many bytes")
	fs.IntVar(&c.Batch.MaxRoundBatches, "batch-max-round-files", c.Batch.MaxRoundBatches, "files per flush round; a large flush proceeds in checkpointed rounds of this size")
	fs.IntVar(&c.Batch.WatermarkSupport, "batch-watermark-support", c.Batch.WatermarkSupport, "records that must reach a time before the batch clock moves to it (one outlier never does)")
	fs.Var(&c.Memory.Limit, "memory-limit", "memory budget of the whole process (fetched, parsed, batched and encoding bytes; sets GOMEMLIMIT), e.g. 256MiB, 1GiB")
	fs.Var(&c.Memory.MaxBufferedBytes, "max-buffered-bytes", "optional lower cap, within --memory-limit, on rows in open and flushing batches (0: what the limit leaves)")
	fs.Var(&c.Memory.FetchBufferBytes, "fetch-buffer-bytes", "optional share of --memory-limit for fetched messages not yet merged (0: a quarter of the budget)")
	fs.StringVar(&c.Parquet.Codec, "parquet-codec", c.Parquet.Codec, "zstd, snappy, gzip or none")
	fs.StringVar(&c.Parquet.ZstdLevel, "parquet-zstd-level", c.Parquet.ZstdLevel, "zstd speed: "+strings.Join(encode.ZstdLevels, ", ")+" (fastest makes the smaller files on flow logs)")
	fs.BoolVar(&c.Parquet.DashStrings, "parquet-dash-strings", c.Parquet.DashStrings, "write '-' instead of null in string columns")
	fs.IntVar(&c.Parquet.PageBytes, "parquet-page-bytes", c.Parquet.PageBytes, "target data page size before compression (0: the encoder's default)")
	fs.StringVar(&c.Sink.S3.Region, "s3-region", c.Sink.S3.Region, "S3 region (default: from the AWS config chain)")
	fs.StringVar(&c.Sink.S3.Endpoint, "s3-endpoint", c.Sink.S3.Endpoint, "S3-compatible endpoint URL (path-style addressing)")
	fs.StringVar(&c.Sink.S3.SSE, "s3-sse", c.Sink.S3.SSE, "server-side encryption: AES256 or aws:kms")
	fs.StringVar(&c.Sink.S3.KMSKeyID, "s3-kms-key-id", c.Sink.S3.KMSKeyID, "KMS key id for aws:kms")
	fs.StringVar(&c.Sink.S3.Checksum, "s3-checksum", c.Sink.S3.Checksum, "checksum sent with every PUT: CRC64NVME or SHA256")
	fs.StringVar(&c.Sink.S3.ObjectLockMode, "s3-object-lock-mode", c.Sink.S3.ObjectLockMode, "GOVERNANCE or COMPLIANCE")
	fs.IntVar(&c.Sink.S3.ObjectLockDays, "s3-object-lock-days", c.Sink.S3.ObjectLockDays, "retain objects this many days")
	fs.BoolVar(&c.Sink.S3.PathStyle, "s3-path-style", c.Sink.S3.PathStyle, "path-style addressing (implied by --s3-endpoint)")
	fs.Int64Var(&c.Sink.S3.MultipartThreshold, "s3-multipart-threshold", c.Sink.S3.MultipartThreshold, "files from this size are uploaded in parts")
	fs.Int64Var(&c.Sink.S3.PartSize, "s3-part-size", c.Sink.S3.PartSize, "multipart part size")
	fs.DurationVar(&c.Sink.S3.RequestTimeout, "s3-request-timeout", c.Sink.S3.RequestTimeout, "timeout of one S3 request attempt")
	fs.Var(&list{p: &c.Enrich.ENIInventory}, "eni-inventory", "describe-network-interfaces JSON file or directory (repeatable)")
	fs.Var(&list{p: &c.Enrich.SubnetInventory}, "subnet-inventory", "describe-subnets JSON file or directory (repeatable)")
	fs.Var(&list{p: &c.Enrich.Regions}, "eni-regions", "regions to read the inventory from the EC2 API")
	fs.Var(&list{p: &c.Enrich.RoleARNs}, "eni-role-arns", "role ARNs to assume per account for the EC2 API")
	fs.StringVar(&c.Enrich.EC2Endpoint, "ec2-endpoint", c.Enrich.EC2Endpoint, "EC2 API endpoint override")
	fs.DurationVar(&c.Enrich.RefreshInterval, "eni-refresh-interval", c.Enrich.RefreshInterval, "EC2 inventory refresh interval")
	fs.DurationVar(&c.Enrich.PollInterval, "eni-poll-interval", c.Enrich.PollInterval, "how often inventory files are checked for changes")
	fs.Var(&list{p: &c.Enrich.TagKeys}, "eni-tag-keys", "ENI tag keys to add as eni_tag_<key> columns")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "serve Prometheus metrics on this address (e.g. :9108)")
	fs.StringVar(&c.PprofAddr, "pprof-addr", c.PprofAddr, "serve Go profiles (/debug/pprof/) on this address, e.g. 127.0.0.1:6060 (never expose it)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "text or json")
	inputFlags(fs, &c.Input)
}

// secret is a flag for a secret: it never shows a value, so --help cannot
// print one that came from the file or the environment.
type secret struct{ p *kafka.Secret }

func (s *secret) String() string { return "" }

func (s *secret) Set(v string) error {
	*s.p = kafka.Secret(v)
	return nil
}

func (s *secret) target() any { return s.p }

func (l *list) target() any { return l.p }

// fileOnly lists the YAML keys that have no flag or environment variable,
// and why. A test fails when a key has neither a flag nor an entry here.
var fileOnly = map[string]string{
	"embedded": "set by `flowlake demo` (its in-process broker); `run` refuses it, so production never starts the demo broker",
	"formats":  "a mapping from topic to format; formats contain spaces and ${...}, which make a flag or variable list error-prone",
}

// Parse loads defaults, the config file (--config or FLOWLAKE_CONFIG),
// FLOWLAKE_* env vars and the command line, in that order of precedence
// (last wins), then reads secrets from their files. bind defines the flags
// on fs bound to the config. Mistakes on the command line are returned at
// once, wrapping ErrUsage; problems in the file, the environment or secret
// files are kept and returned by Validate with every other problem. On
// flag.ErrHelp the returned FlagSet shows the built-in defaults, never a
// value from the file or the environment.
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
			var ps Problems
			if !errors.As(err, &ps) {
				return nil, nil, fmt.Errorf("%w: --config: %w", ErrUsage, err)
			}
			c.pending = append(c.pending, ps...)
		}
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	bind(fs, &c)
	paths := flagPaths(fs, &c)
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" {
			return
		}
		env := EnvName(f.Name)
		v, ok := os.LookupEnv(env)
		if !ok {
			return
		}
		p := paths[f.Name]
		prev := f.Value.String()
		if err := fs.Set(f.Name, v); err != nil {
			_ = f.Value.Set(prev) // a failed Set may have zeroed the default
			msg := "invalid value"
			if _, isSecret := f.Value.(*secret); !isSecret {
				msg = fmt.Sprintf("invalid value %q", v)
			}
			c.pending = append(c.pending, Problem{Path: p, Msg: msg + ": " + wantFor(&c, p), where: origin{kind: fromEnv, name: env}})
			return
		}
		c.setOrigin(p, origin{kind: fromEnv, name: env})
		if l, ok := f.Value.(*list); ok {
			l.set = false // a flag replaces the variable's list
		}
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			d := Default()
			help := flag.NewFlagSet(name, flag.ContinueOnError)
			bind(help, &d)
			return nil, help, flag.ErrHelp
		}
		return nil, fs, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, fs, fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	// fs also counts variables as set: parse argv alone to see its flags.
	scratch := Default()
	argv := flag.NewFlagSet(name, flag.ContinueOnError)
	argv.SetOutput(io.Discard)
	bind(argv, &scratch)
	_ = argv.Parse(args) // fs accepted the same arguments
	argv.Visit(func(f *flag.Flag) {
		if p := paths[f.Name]; p != "" {
			c.setOrigin(p, origin{kind: fromFlag, name: f.Name})
		}
	})
	c.readSecretFiles()
	return &c, fs, nil
}

// EnvName is the environment variable of a flag.
func EnvName(flagName string) string {
	return "FLOWLAKE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// readSecretFiles reads secrets given as files; problems are kept for
// Validate. Messages never contain the secret.
func (c *Config) readSecretFiles() {
	a := &c.Kafka.Auth
	if a.PasswordFile == "" {
		return
	}
	const p = "kafka.auth.password_file"
	if a.Password != "" {
		c.pending = append(c.pending, Problem{Path: p, Msg: "set either a password or a password file, not both", where: c.originOf(p)})
		return
	}
	b, err := os.ReadFile(a.PasswordFile)
	if err != nil {
		c.pending = append(c.pending, Problem{Path: p, Msg: fmt.Sprintf("cannot read the password: %v", err), where: c.originOf(p)})
		return
	}
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" {
		c.pending = append(c.pending, Problem{Path: p, Msg: fmt.Sprintf("%s is empty", a.PasswordFile), where: c.originOf(p)})
		return
	}
	a.Password = kafka.Secret(pw)
}

// wantFor describes the value the setting at path takes.
func wantFor(c *Config, path string) string {
	for _, s := range c.settings() {
		if s.path == path {
			if s.value.Kind() == reflect.Slice {
				return "want a comma-separated list"
			}
			return "want " + describe(s.value.Type())
		}
	}
	return "invalid"
}

// flagPaths maps each flag of fs to the YAML path of the field it is bound
// to, by address: a flag bound to c.Kafka.Topic is kafka.topic.
func flagPaths(fs *flag.FlagSet, c *Config) map[string]string {
	byAddr := map[uintptr]string{}
	for _, s := range c.settings() {
		byAddr[s.value.Addr().Pointer()] = s.path
	}
	out := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		if t, ok := f.Value.(interface{ target() any }); ok {
			if p, ok := byAddr[reflect.ValueOf(t.target()).Pointer()]; ok {
				out[f.Name] = p
			}
			return
		}
		rv := reflect.ValueOf(f.Value)
		if rv.Kind() != reflect.Pointer || rv.IsNil() {
			return
		}
		if p, ok := byAddr[rv.Pointer()]; ok { // flag.StringVar and the like
			out[f.Name] = p
			return
		}
		// A custom Value struct holding a pointer to its field.
		if e := rv.Elem(); e.Kind() == reflect.Struct {
			for i := range e.NumField() {
				if fv := e.Field(i); fv.Kind() == reflect.Pointer && !fv.IsNil() {
					if p, ok := byAddr[fv.Pointer()]; ok {
						out[f.Name] = p
						return
					}
				}
			}
		}
	})
	return out
}

// flagNames maps YAML paths to the flag (of run, demo or backfill) that
// sets them.
var flagNames = sync.OnceValue(func() map[string]string {
	out := map[string]string{}
	for _, bind := range []func(*flag.FlagSet, *Config){RunFlags, DemoFlags, BackfillFlags} {
		d := Default()
		fs := flag.NewFlagSet("flowlake", flag.ContinueOnError)
		bind(fs, &d)
		for f, p := range flagPaths(fs, &d) {
			out[p] = f
		}
	}
	return out
})
