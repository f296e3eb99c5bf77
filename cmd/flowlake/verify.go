package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"flowlake/config"
	"flowlake/stages/verify"
)

// errProblems is returned when verification found problems (exit 1).
var errProblems = errors.New("verification found problems")

func verifyCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var sf storeFlags
	sf.bind(fs)
	since := fs.String("since", "", "first hour to check (RFC 3339, YYYY-MM-DD or YYYY-MM-DDTHH)")
	until := fs.String("until", "", "check hours before this one")
	accounts := fs.String("accounts", "", "accounts to check, comma separated (default: all)")
	lake := fs.String("lake", "", "for an archive: the lake it copies; every archived hour must hold the lake's rows")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	pos, err := parseCommand(fs, args, "usage: flowlake verify <file:///dir | s3://bucket/prefix> [flags]")
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: want one lake or archive URL, got %d arguments", config.ErrUsage, len(pos))
	}
	var opts verify.Options
	if opts.Since, err = parseHour(*since); err != nil {
		return fmt.Errorf("%w: --since %v", config.ErrUsage, err)
	}
	if opts.Until, err = parseHour(*until); err != nil {
		return fmt.Errorf("%w: --until %v", config.ErrUsage, err)
	}
	opts.Accounts = splitList(*accounts)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := sf.open(ctx, pos[0], false, logger)
	if err != nil {
		return err
	}
	if *lake != "" {
		if opts.Lake, err = sf.open(ctx, *lake, false, logger); err != nil {
			return err
		}
	}
	rep, err := verify.Run(ctx, st, opts)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = rep.Text(stdout)
	}
	if err != nil {
		return err
	}
	if !rep.OK {
		return fmt.Errorf("%w: %d", errProblems, len(rep.Problems))
	}
	return nil
}
