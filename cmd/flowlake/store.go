package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"flowlake/config"
	"flowlake/stages/sink"
)

// storeFlags are the S3 settings of the commands that read stores given
// by URL (verify, archive).
type storeFlags struct {
	region, endpoint, sse, kmsKeyID, checksum, lockMode string
	lockDays                                            int
}

func (s *storeFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&s.region, "s3-region", "", "S3 region (default: from the AWS config chain)")
	fs.StringVar(&s.endpoint, "s3-endpoint", "", "S3-compatible endpoint URL (path-style addressing)")
	fs.StringVar(&s.sse, "s3-sse", "", "server-side encryption of written objects: AES256 or aws:kms")
	fs.StringVar(&s.kmsKeyID, "s3-kms-key-id", "", "KMS key id for aws:kms")
	fs.StringVar(&s.checksum, "s3-checksum", "", "checksum sent with every PUT: CRC64NVME or SHA256")
	fs.StringVar(&s.lockMode, "s3-object-lock-mode", "", "retain written objects: GOVERNANCE or COMPLIANCE")
	fs.IntVar(&s.lockDays, "s3-object-lock-days", 0, "retain written objects this many days")
}

// open opens the store a URL names. A local directory must exist unless
// create is set (reading a lake must not create an empty one).
func (s *storeFlags) open(ctx context.Context, url string, create bool, logger *slog.Logger) (sink.Store, error) {
	loc, err := sink.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", config.ErrUsage, err)
	}
	if loc.Scheme == "file" && !create {
		if st, err := os.Stat(loc.Path); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("%w: %s is not a directory", config.ErrUsage, loc.Path)
		}
	}
	cfg := sink.S3Config{Region: s.region, Endpoint: s.endpoint, PathStyle: s.endpoint != "", SSE: s.sse, KMSKeyID: s.kmsKeyID,
		Checksum: s.checksum, ObjectLockMode: s.lockMode, ObjectLockDays: s.lockDays, RequestTimeout: 2 * time.Minute}
	out, err := sink.Open(ctx, url, cfg, logger, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", config.ErrUsage, err)
	}
	st, ok := out.(sink.Store)
	if !ok {
		return nil, fmt.Errorf("%s cannot be listed", out)
	}
	return st, nil
}

// parseInterleaved parses flags that may come before or after positional
// arguments (flag stops at the first positional one).
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// parseHour parses a --since/--until value: RFC 3339, or a date with an
// optional hour (2024-05-01, 2024-05-01T13).
func parseHour(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q: want RFC 3339, YYYY-MM-DD or YYYY-MM-DDTHH", v)
}

// parseCommand parses a command's flags and arguments (parseInterleaved).
// On -h it prints usage and the flags and returns flag.ErrHelp; a wrong
// flag is an error wrapping config.ErrUsage (exit 2).
func parseCommand(fs *flag.FlagSet, args []string, usage string) ([]string, error) {
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, usage)
		printDefaults(fs)
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", config.ErrUsage, err)
	}
	return pos, nil
}
