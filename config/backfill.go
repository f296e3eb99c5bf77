package config

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"flowlake/schema"
)

// Backfill configures `flowlake backfill`: which archive to read.
type Backfill struct {
	// From is s3://bucket/prefix, the folder holding AWSLogs/.
	From string `yaml:"from"`
	// Since and Until bound the days read, YYYY-MM-DD, Until excluded.
	Since string `yaml:"since"`
	Until string `yaml:"until"`
	// Accounts and Regions select folders (empty: all).
	Accounts []string `yaml:"accounts"`
	Regions  []string `yaml:"regions"`
	// Parallel is how many folders are read at once (0: one per core).
	Parallel int `yaml:"parallel"`
	// DryRun lists what would be read without writing.
	DryRun bool `yaml:"dry_run"`
	// List prints every object in a dry run.
	List bool `yaml:"list"`
	// Progress is auto (a bar on a terminal, log lines otherwise), bar,
	// log or none.
	Progress string `yaml:"progress"`
	// S3Region and S3Endpoint reach the archive when it is not where the
	// sink is (default: the sink's --s3-region and --s3-endpoint).
	S3Region   string `yaml:"s3_region"`
	S3Endpoint string `yaml:"s3_endpoint"`
}

const dayLayout = "2006-01-02"

// Days returns the parsed date bounds (zero when unset).
func (b *Backfill) Days() (since, until time.Time, err error) {
	if b.Since != "" {
		if since, err = time.Parse(dayLayout, b.Since); err != nil {
			return since, until, fmt.Errorf("%w: backfill.since: %q: want YYYY-MM-DD", ErrInvalid, b.Since)
		}
	}
	if b.Until != "" {
		if until, err = time.Parse(dayLayout, b.Until); err != nil {
			return since, until, fmt.Errorf("%w: backfill.until: %q: want YYYY-MM-DD", ErrInvalid, b.Until)
		}
	}
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		return since, until, fmt.Errorf("%w: backfill.until: %s is not after backfill.since %s", ErrInvalid, b.Until, b.Since)
	}
	return since, until, nil
}

// ValidateBackfill checks the configuration of `flowlake backfill` and
// returns every problem at once, like Validate.
func (c *Config) ValidateBackfill() error {
	v := &validator{c: c, ps: append(Problems(nil), c.pending...)}
	b := &c.Backfill
	if b.From == "" {
		v.bad("backfill.from", "required: s3://bucket/prefix of the flow log archive")
	} else {
		rest, ok := strings.CutPrefix(b.From, "s3://")
		if bucket, _, _ := strings.Cut(rest, "/"); !ok || bucket == "" {
			v.bad("backfill.from", "%q: want s3://bucket/prefix", b.From)
		}
	}
	var since, until time.Time
	var err error
	if b.Since != "" {
		if since, err = time.Parse(dayLayout, b.Since); err != nil {
			v.bad("backfill.since", "%q: want YYYY-MM-DD", b.Since)
		}
	}
	if b.Until != "" {
		if until, err = time.Parse(dayLayout, b.Until); err != nil {
			v.bad("backfill.until", "%q: want YYYY-MM-DD", b.Until)
		}
	}
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		v.bad("backfill.until", "%s is not after backfill.since %s", b.Until, b.Since)
	}
	for _, a := range b.Accounts {
		if !schema.ValidAccount([]byte(a)) || a == "unknown" {
			v.bad("backfill.accounts", "%q is not a 12-digit account id", a)
		}
	}
	for _, r := range b.Regions {
		if !schema.ValidRegion([]byte(r)) {
			v.bad("backfill.regions", "%q is not a region name", r)
		}
	}
	if b.Parallel < 0 {
		v.bad("backfill.parallel", "must not be negative")
	}
	switch b.Progress {
	case "auto", "bar", "log", "none":
	default:
		v.bad("backfill.progress", "%q: want auto, bar, log or none", b.Progress)
	}
	if strings.HasPrefix(c.DLQ, "kafka://") {
		v.bad("dlq", "backfill writes dead letters to a sink (file:// or s3://), not to Kafka")
	}
	c.outputProblems(v)
	return v.ps.err()
}

// BackfillFlags binds the `flowlake backfill` flags to c: the archive, and
// every output flag `run` has (same lake, same files).
func BackfillFlags(fs *flag.FlagSet, c *Config) {
	b := &c.Backfill
	if b.Progress == "" {
		b.Progress = "auto"
	}
	fs.String("config", "", "YAML config file (env FLOWLAKE_CONFIG)")
	fs.DurationVar(&c.ProgressInterval, "progress-interval", c.ProgressInterval, "without a terminal, log progress this often")
	fs.StringVar(&b.From, "from", b.From, "flow log archive: s3://bucket/prefix (the folder holding AWSLogs/)")
	fs.StringVar(&b.Since, "since", b.Since, "first day to read, YYYY-MM-DD (default: the oldest)")
	fs.StringVar(&b.Until, "until", b.Until, "day to stop before, YYYY-MM-DD (default: the newest included)")
	fs.Var(&list{p: &b.Accounts}, "accounts", "accounts to read, comma separated (default: all)")
	fs.Var(&list{p: &b.Regions}, "regions", "regions to read, comma separated (default: all)")
	fs.IntVar(&b.Parallel, "parallel", b.Parallel, "folders (account, region, day) read at once (0: one per core)")
	fs.BoolVar(&b.DryRun, "dry-run", b.DryRun, "list what would be read (objects, bytes, days) and write nothing")
	fs.BoolVar(&b.List, "list", b.List, "with --dry-run, print every object")
	fs.StringVar(&b.Progress, "progress", b.Progress, "auto (a bar on a terminal, log lines otherwise), bar, log or none")
	fs.StringVar(&b.S3Region, "from-s3-region", b.S3Region, "region of the archive bucket (default: --s3-region)")
	fs.StringVar(&b.S3Endpoint, "from-s3-endpoint", b.S3Endpoint, "S3-compatible endpoint of the archive (default: --s3-endpoint)")
	outputFlags(fs, c)
}
