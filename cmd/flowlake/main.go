// Command flowlake ingests AWS VPC flow logs from Kafka into Parquet files in
// AWS's Hive layout, on S3 or a local directory.
//
//	flowlake run      consume a topic and write Parquet (see --help)
//	flowlake backfill read flow log archives (AWS's S3 delivery) into the lake
//	flowlake demo     the pipeline on an in-process broker fed by the generator
//	flowlake gen      generate realistic flow log records
//	flowlake inspect  list the files, rows, dead letters and checkpoints of a sink
//	flowlake ddl      print the Athena table over the sink
//	flowlake config   check a config file, or print the effective configuration
//	flowlake version  print the version
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
	"flowlake/stages/source/kafka"
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
	case "demo":
		err = demoCmd(ctx, args)
	case "backfill":
		err = backfillCmd(ctx, args)
	case "gen":
		err = genCmd(ctx, args)
	case "inspect":
		err = inspectCmd(ctx, args, os.Stdout)
	case "ddl":
		err = ddlCmd(args, os.Stdout)
	case "config":
		err = configCmd(args, os.Stdout, os.Stderr)
	case "version", "--version", "-version":
		printVersion(os.Stdout)
		return
	case "verify":
		err = verifyCmd(ctx, args, os.Stdout)
	case "archive":
		err = archiveCmd(ctx, args)
	case "help", "-h", "--help":
		usage()
		return
	default:
		fmt.Fprintf(os.Stderr, "flowlake: unknown command %q (want run, backfill, demo, gen, inspect, ddl, config, verify, archive or version)\n", cmd)
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
	case errors.As(err, new(errSilent)):
		return exitUsage
	case errors.Is(err, config.ErrUsage), errors.Is(err, config.ErrInvalid):
		var ps config.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				fmt.Fprintf(os.Stderr, "flowlake %s: %s\n", cmd, p)
			}
			return exitUsage
		}
		code = exitUsage
	case errors.Is(err, kafka.ErrTopicNotFound), errors.Is(err, kafka.ErrAuth):
		code = exitRefused
	case errors.Is(err, kafka.ErrUnreachable):
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
  backfill read flow log archives from S3 into the same lake (flowlake backfill --help)
  demo     run the pipeline on an in-process Kafka broker fed by the generator
  gen      generate realistic VPC flow log records (flowlake gen --help)
  inspect  files, rows and bytes per partition, dead letters and checkpoints of a sink
  ddl      print the Athena CREATE EXTERNAL TABLE for the sink (flowlake ddl --help)
  config   check FILE: report every problem; print: the effective configuration
  version  print the version (also --version)
  verify   check a lake or an archive against its manifests (flowlake verify --help)
  archive  copy sealed hours into a compacted, append-only archive (flowlake archive --help)
`)
}

// printDefaults prints a flag set's help.
func printDefaults(fs *flag.FlagSet) {
	fs.SetOutput(os.Stderr)
	fs.PrintDefaults()
}
