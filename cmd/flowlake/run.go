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
	"flowlake/pipeline"
)

func runCmd(ctx context.Context, args []string) error {
	cfg, fs, err := config.Parse("run", args, config.RunFlags)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "usage: flowlake run [flags]  (every flag also reads FLOWLAKE_<FLAG>)")
		printDefaults(fs)
		fmt.Fprintln(os.Stderr, "\nexit codes: 0 drained (--exit-when-idle) or stopped by a signal, 1 failed, 2 usage or configuration,\n"+
			"  3 topic not drained within --drain-timeout, 4 no Kafka broker reachable, 5 topic missing or Kafka refused access")
		return err
	}
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger := pipeline.NewLogger(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	defer pipeline.FlushLogger(logger)
	slog.SetDefault(logger) // for the AWS SDK's logger (stages/awslog)
	tel := pipeline.NewTelemetry()
	if cfg.MetricsAddr != "" {
		stop, err := serveTelemetry(cfg.MetricsAddr, tel, logger)
		if err != nil {
			return err
		}
		defer stop()
	}
	app, err := pipeline.Build(ctx, cfg, logger, tel)
	if err != nil {
		return err
	}
	defer app.Close()
	// A second signal while the pipeline drains abandons the final flush.
	go func() {
		<-ctx.Done()
		sig := make(chan os.Signal, 1)
		notifyAgain(sig)
		<-sig
		logger.Warn("second signal: abandoning the final flush; unflushed records will be re-read")
		app.Pipeline.Abort()
		time.AfterFunc(5*time.Second, func() { os.Exit(1) })
	}()
	return app.Run(ctx)
}
