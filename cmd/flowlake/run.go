package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"flowlake/config"
	"flowlake/pipeline"
)

func runCmd(ctx context.Context, args []string) error {
	return runWith(ctx, "run", args, config.RunFlags)
}

// demoCmd runs the pipeline on an in-process broker fed by the generator
// (`make run`). The broker and the generator start only here, never on the
// production `run` path.
func demoCmd(ctx context.Context, args []string) error {
	return runWith(ctx, "demo", args, config.DemoFlags)
}

func runWith(ctx context.Context, name string, args []string, bind func(*flag.FlagSet, *config.Config)) error {
	cfg, fs, err := config.Parse(name, args, bind)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "usage: flowlake %s [flags]  (every flag also reads FLOWLAKE_<FLAG>)\n", name)
		printDefaults(fs)
		fmt.Fprintln(os.Stderr, "\nexit codes: 0 drained (--exit-when-idle) or stopped by a signal, 1 failed, 2 usage or configuration,\n"+
			"  3 topic not drained within --drain-timeout, 4 no Kafka broker reachable, 5 topic missing or Kafka refused access")
		return err
	}
	if err != nil {
		return err
	}
	if name == "run" && cfg.Embedded {
		return fmt.Errorf("%w: embedded: the in-process broker is the demo's; run `flowlake demo`", config.ErrInvalid)
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
	abortOnSecondSignal(ctx, logger, app.Pipeline.Abort)
	return app.Run(ctx)
}
