package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"flowlake/cmd/flowlake/app"
	"flowlake/config"
)

func runCmd(ctx context.Context, args []string) error {
	return runWith(ctx, "run", args, config.RunFlags, nil)
}

// prepareFunc readies what a command runs the pipeline against (the
// demo's broker) before the app is built: it may change cfg, and returns
// what to add to the app and what to release at the end.
type prepareFunc func(ctx context.Context, cfg *config.Config, logger *slog.Logger) (attach func(*app.App), cleanup func(), err error)

func runWith(ctx context.Context, name string, args []string, bind func(*flag.FlagSet, *config.Config), prepare prepareFunc) error {
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
	logger := app.NewLogger(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	defer app.FlushLogger(logger)
	slog.SetDefault(logger) // for the AWS SDK's logger (stages/awslog)
	tel := app.NewTelemetry()
	var srv *app.Server
	if cfg.MetricsAddr != "" {
		if srv, err = app.ServeTelemetry(cfg.MetricsAddr, tel, logger); err != nil {
			return err
		}
		defer srv.Close()
	}
	attach := func(*app.App) {}
	if prepare != nil {
		var cleanup func()
		if attach, cleanup, err = prepare(ctx, cfg, logger); err != nil {
			return err
		}
		defer cleanup()
	}
	a, err := app.Build(ctx, cfg, logger, tel)
	if err != nil {
		return err
	}
	defer a.Close()
	if srv != nil {
		a.Serve(srv)
	}
	attach(a)
	abortOnSecondSignal(ctx, logger, a.Pipeline.Abort)
	return a.Run(ctx)
}
