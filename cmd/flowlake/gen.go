package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"flowlake/config"
	"flowlake/schema"
	"flowlake/stages/generate"
)

func genCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		cfg                      generate.Config
		format, regions          string
		brokers, topic, out      string
		inventoryOut, subnetsOut string
		allowNewer               bool
	)
	fs.IntVar(&cfg.Records, "records", 100_000, "records to generate")
	fs.IntVar(&cfg.LinesPerMsg, "lines-per-message", 1, "records per Kafka message")
	fs.IntVar(&cfg.Accounts, "accounts", 5, "distinct accounts")
	fs.StringVar(&cfg.KeyBy, "key-by", generate.KeyByENI, "message key, which picks the partition: eni (<account>/<interface-id>) or account")
	fs.IntVar(&cfg.ENIsPerAccount, "enis", 20, "network interfaces per account")
	fs.StringVar(&regions, "regions", "us-east-1,eu-west-1", "regions, comma separated")
	fs.IntVar(&cfg.Hours, "hours", 3, "consecutive UTC hours the records' start times cover")
	fs.StringVar(&format, "format", schema.DefaultFormatText, "flow log format in AWS syntax")
	fs.BoolVar(&allowNewer, "allow-newer-fields", false, "allow fields newer than version 8 in --format")
	fs.StringVar(&cfg.Envelope, "envelope", "text", "text, gzip, cloudwatch or header")
	fs.Int64Var(&cfg.Seed, "seed", 1, "random seed: the same seed gives the same records")
	fs.Float64Var(&cfg.BadRatio, "bad-ratio", 0, "share of deliberately malformed records")
	fs.StringVar(&brokers, "brokers", "", "produce to these Kafka brokers (comma separated)")
	fs.StringVar(&topic, "topic", "vpc-flow-logs", "Kafka topic to produce to")
	fs.StringVar(&out, "out", "-", "without --brokers: write text lines to this file (- for stdout)")
	fs.StringVar(&inventoryOut, "inventory-out", "", "write the ENIs as describe-network-interfaces JSON to this file")
	fs.StringVar(&subnetsOut, "subnets-out", "", "write the subnets as describe-subnets JSON to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "usage: flowlake gen [flags]")
			printDefaults(fs)
			return err
		}
		return fmt.Errorf("%w: %v", config.ErrUsage, err)
	}
	f, err := schema.ParseFormat(format, schema.AllowNewerFields(allowNewer))
	if err != nil {
		return fmt.Errorf("%w: --format: %v", config.ErrUsage, err)
	}
	cfg.Format = f
	cfg.Regions = strings.Split(regions, ",")
	g, err := generate.New(cfg)
	if err != nil {
		return fmt.Errorf("%w: %v", config.ErrUsage, err)
	}
	for path, doc := range map[string]func() []byte{inventoryOut: g.Inventory, subnetsOut: g.Subnets} {
		if path == "" {
			continue
		}
		if err := os.WriteFile(path, doc(), 0o644); err != nil {
			return err
		}
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if brokers != "" {
		st, err := generate.Produce(ctx, g, strings.Split(brokers, ","), topic, logger)
		if err != nil {
			return err
		}
		logger.Info("produced", "topic", topic, "records", st.Records, "bad_records", st.Bad, "messages", st.Messages)
		return nil
	}
	var w io.Writer = os.Stdout
	if out != "-" {
		file, err := os.Create(out)
		if err != nil {
			return err
		}
		defer file.Close()
		w = file
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if err := generate.WriteText(ctx, bw, g); err != nil {
		return err
	}
	return bw.Flush()
}
