package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"flowlake/config"
	"flowlake/stages/archive"
)

func archiveCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("archive", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var sf storeFlags
	sf.bind(fs)
	cfg := archive.Defaults
	from := fs.String("from", "", "the lake: file:///dir or s3://bucket/prefix")
	to := fs.String("to", "", "the archive: file:///dir or s3://bucket/prefix")
	every := fs.Duration("every", 0, "run continuously, a pass this often (0: one pass, then exit)")
	fs.Int64Var(&cfg.TargetFileSize, "target-file-size", cfg.TargetFileSize, "cut an hour's archive files at about this many bytes")
	fs.Int64Var(&cfg.RowGroupRows, "row-group-rows", cfg.RowGroupRows, "rows per row group of archive files")
	fs.Int64Var(&cfg.RunBytes, "sort-memory", cfg.RunBytes, "bytes of rows sorted in memory at once (more spills to --tmp-dir)")
	fs.StringVar(&cfg.TempDir, "tmp-dir", "", "directory for sort runs and files before upload (default: the system's)")
	fs.StringVar(&cfg.FlowLogID, "flow-log-id", cfg.FlowLogID, "flow log id in archive file names")
	since := fs.String("since", "", "first hour to archive (RFC 3339, YYYY-MM-DD or YYYY-MM-DDTHH)")
	until := fs.String("until", "", "archive hours before this one")
	accounts := fs.String("accounts", "", "accounts to archive, comma separated (default: all)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	pos, err := parseCommand(fs, args, "usage: flowlake archive --from <lake> --to <archive> [flags]")
	if err != nil {
		return err
	}
	if len(pos) > 0 || *from == "" || *to == "" {
		return fmt.Errorf("%w: want --from <lake> and --to <archive>", config.ErrUsage)
	}
	if cfg.Since, err = parseHour(*since); err != nil {
		return fmt.Errorf("%w: --since %v", config.ErrUsage, err)
	}
	if cfg.Until, err = parseHour(*until); err != nil {
		return fmt.Errorf("%w: --until %v", config.ErrUsage, err)
	}
	cfg.Accounts = splitList(*accounts)
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("%w: --log-level %v", config.ErrUsage, err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	lake, err := sf.open(ctx, *from, false, logger)
	if err != nil {
		return err
	}
	arch, err := sf.open(ctx, *to, true, logger)
	if err != nil {
		return err
	}
	a := archive.New(cfg, lake, arch, logger)
	for {
		start := time.Now()
		res, err := a.Pass(ctx)
		if err != nil {
			if ctx.Err() != nil && *every > 0 {
				return nil
			}
			return err
		}
		logger.Info("archive pass", "hours", res.Hours, "files", res.Files, "rows", res.Rows, "already_archived", res.Current, "took", time.Since(start).Round(time.Millisecond))
		if *every <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*every):
		}
	}
}
