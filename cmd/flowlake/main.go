// Command flowlake ingests AWS VPC flow logs from Kafka into Parquet files in
// AWS's Hive layout, on S3 or a local directory.
//
//	flowlake run      consume a topic and write Parquet (see --help)
//	flowlake gen      generate realistic flow log records
//	flowlake inspect  list the files and row counts under a directory
//	flowlake verify   check a lake or an archive against its manifests
//	flowlake archive  copy sealed hours into a compacted archive
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"flowlake/config"
	"flowlake/pipeline"
	"flowlake/stages/source"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd {
	case "run":
		err = runCmd(ctx, args)
	case "gen":
		err = genCmd(ctx, args)
	case "inspect":
		err = inspectCmd(args)
	case "verify":
		err = verifyCmd(ctx, args, os.Stdout)
	case "archive":
		err = archiveCmd(ctx, args)
	case "help", "-h", "--help":
		usage()
		return
	default:
		fmt.Fprintf(os.Stderr, "flowlake: unknown command %q (want run, gen, inspect, verify or archive)\n", cmd)
		os.Exit(2)
	}
	os.Exit(exitCode(cmd, err))
}

// Exit codes (README, "Exit codes").
const (
	exitFailed      = 1 // a permanent sink error, an abandoned final flush, anything else
	exitUsage       = 2 // a wrong flag, value or config file
	exitNotDrained  = 3 // --exit-when-idle: the group did not drain the topic within --drain-timeout
	exitUnreachable = 4 // no Kafka broker answered (within --connect-timeout, or --drain-timeout mid-run)
	exitRefused     = 5 // the topic does not exist, or Kafka refused the credentials or permissions
)

func exitCode(cmd string, err error) int {
	code := exitFailed
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, config.ErrUsage), errors.Is(err, config.ErrInvalid):
		code = exitUsage
	case errors.Is(err, source.ErrTopicNotFound), errors.Is(err, source.ErrAuth):
		code = exitRefused
	case errors.Is(err, source.ErrUnreachable):
		code = exitUnreachable
	case errors.Is(err, pipeline.ErrNotDrained):
		code = exitNotDrained
	}
	fmt.Fprintf(os.Stderr, "flowlake %s: %v\n", cmd, err)
	return code
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: flowlake <command> [flags]

commands:
  run      consume VPC flow logs from Kafka and write Parquet (flowlake run --help)
  gen      generate realistic VPC flow log records (flowlake gen --help)
  inspect  list Parquet files and row counts under a directory
  verify   check a lake or an archive against its manifests (flowlake verify --help)
  archive  copy sealed hours into a compacted, append-only archive (flowlake archive --help)
`)
}

// printDefaults prints a flag set's help.
func printDefaults(fs *flag.FlagSet) {
	fs.SetOutput(os.Stderr)
	fs.PrintDefaults()
}
