package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"flowlake/cmd/flowlake/app"
	"flowlake/config"
	"flowlake/pipeline"
	"flowlake/stages/seal"
	"flowlake/stages/source/archive"
)

// errBackfillIncomplete ends a backfill that stopped before every selected
// folder was durable (a signal, an abandoned flush): rerun the same
// command to finish; nothing is read twice into the lake.
var errBackfillIncomplete = errors.New("backfill incomplete")

func backfillCmd(ctx context.Context, args []string) error {
	cfg, fs, err := config.Parse("backfill", args, config.BackfillFlags)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "usage: flowlake backfill --from s3://bucket/prefix [--since YYYY-MM-DD] [--until YYYY-MM-DD] [--accounts ...] [--regions ...] --sink ... [flags]")
		printDefaults(fs)
		return err
	}
	if err != nil {
		return err
	}
	if err := cfg.ValidateBackfill(); err != nil {
		return err
	}
	level := cfg.LogLevel
	if progressMode(cfg) == "bar" && level == "info" {
		level = "warn" // the bar and the summary say what info lines would
	}
	logger := app.NewLogger(os.Stderr, level, cfg.LogFormat)
	if cfg.Backfill.DryRun {
		return dryRun(ctx, cfg, logger, os.Stdout)
	}
	defer app.FlushLogger(logger)
	tel := app.NewTelemetry()
	var srv *app.Server
	if cfg.MetricsAddr != "" {
		if srv, err = app.ServeTelemetry(cfg.MetricsAddr, tel, logger); err != nil {
			return err
		}
		defer srv.Close()
	}
	a, src, err := app.BuildBackfill(ctx, cfg, logger, tel)
	if err != nil {
		return err
	}
	defer a.Close()
	if srv != nil {
		a.Serve(srv)
	}
	abortOnSecondSignal(ctx, logger, a.Pipeline.Abort)
	start := time.Now()
	stopProgress := startProgress(cfg, src, a.Pipeline, logger)
	err = a.Run(ctx)
	stopProgress()
	summary(os.Stdout, src.Stats(), a.Pipeline.Stats(), time.Since(start))
	if done, ok := a.Pipeline.SealDone(); ok {
		sealSummary(os.Stdout, done)
	}
	if err != nil {
		return err
	}
	if st := src.Stats(); !st.Listed || st.FoldersDone < st.Folders {
		return fmt.Errorf("%w: %d of %d folders done; run the same command again to resume", errBackfillIncomplete, st.FoldersDone, st.Folders)
	}
	return nil
}

func dryRun(ctx context.Context, cfg *config.Config, logger *slog.Logger, w io.Writer) error {
	src, err := app.ArchiveSource(ctx, cfg, nil, logger)
	if err != nil {
		return err
	}
	sum, err := src.Summarize(ctx, cfg.Backfill.List)
	if err != nil {
		return fmt.Errorf("list %s: %w", cfg.Backfill.From, err)
	}
	for _, o := range sum.Each {
		fmt.Fprintf(w, "%12d  %s\n", o.Size, o.Key)
	}
	days := "none"
	if sum.Objects > 0 {
		days = sum.From.Format("2006-01-02") + " .. " + sum.To.Format("2006-01-02")
	}
	fmt.Fprintf(w, "would read %d objects, %s (%d bytes), in %d folders; days %s\n", sum.Objects, human(sum.Bytes), sum.Bytes, sum.Folders, days)
	fmt.Fprintf(w, "accounts: %s\nregions: %s\nlayouts: %s\n", list(sum.Accounts), list(sum.Regions), list(sum.Layouts))
	if sum.Ignored > 0 {
		fmt.Fprintf(w, "ignored: %d objects that are no flow log text files (.log.gz, .log)\n", sum.Ignored)
	}
	return nil
}

func list(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// progressMode resolves --progress auto: a bar when stderr is a terminal.
func progressMode(cfg *config.Config) string {
	mode := cfg.Backfill.Progress
	if mode == "auto" {
		mode = "log"
		if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			mode = "bar"
		}
	}
	return mode
}

// startProgress shows progress until the returned function is called: a
// bar on a terminal, log lines at --progress-interval otherwise.
func startProgress(cfg *config.Config, src *archive.Source, p *pipeline.Pipeline, logger *slog.Logger) func() {
	mode := progressMode(cfg)
	if mode == "none" || (mode == "log" && cfg.ProgressInterval <= 0) {
		return func() {}
	}
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		every := cfg.ProgressInterval
		if mode == "bar" {
			every = 250 * time.Millisecond
		}
		t := time.NewTicker(every)
		defer t.Stop()
		var bar *progressbar.ProgressBar
		start := time.Now()
		for {
			select {
			case <-done:
				if bar != nil {
					_ = bar.Exit()
					fmt.Fprintln(os.Stderr)
				}
				return
			case <-t.C:
			}
			s, ps := src.Stats(), p.Stats()
			if !s.Listed {
				continue
			}
			objects := s.ObjectsDone + s.SkippedObjects
			if mode == "bar" {
				if bar == nil {
					bar = progressbar.NewOptions64(max(s.PlannedBytes, 1), progressbar.OptionSetWriter(os.Stderr),
						progressbar.OptionShowBytes(true), progressbar.OptionShowTotalBytes(true), progressbar.OptionSetPredictTime(true),
						progressbar.OptionSetElapsedTime(true), progressbar.OptionSetWidth(24), progressbar.OptionThrottle(200*time.Millisecond),
						progressbar.OptionShowDescriptionAtLineEnd())
				}
				rate := float64(ps.Records) / max(time.Since(start).Seconds(), 1e-3)
				desc := fmt.Sprintf("objects %d/%d  records %d (%.0f/s)  dead %d", objects, s.PlannedObjects, ps.Records, rate, ps.DeadLetters)
				if sd, ok := p.SealDone(); ok {
					desc += fmt.Sprintf("  hours sealed %d", sd.Sealed)
				}
				bar.Describe(desc)
				_ = bar.Set64(s.Bytes + s.SkippedBytes)
				continue
			}
			elapsed := time.Since(start)
			done := float64(s.Bytes) / max(float64(s.PlannedBytes-s.SkippedBytes), 1)
			eta := "unknown"
			if done > 0 {
				eta = (time.Duration(float64(elapsed)/done) - elapsed).Round(time.Second).String()
			}
			args := []any{"objects", objects, "objects_total", s.PlannedObjects, "bytes_read", s.Bytes,
				"bytes_total", s.PlannedBytes, "folders_done", s.FoldersDone, "folders", s.Folders, "records", ps.Records,
				"rows", ps.Rows, "dead_letters", ps.DeadLetters, "records_per_sec", int64(float64(ps.Records) / max(elapsed.Seconds(), 1e-3)), "eta", eta}
			if sd, ok := p.SealDone(); ok {
				args = append(args, "hours_sealed", sd.Sealed, "hours_open", sd.Last.Open)
			}
			logger.Info("backfill progress", args...)
		}
	}()
	return func() { close(done); <-stopped }
}

// summary prints what the backfill did.
func summary(w io.Writer, s archive.Stats, ps pipeline.Stats, took time.Duration) {
	fmt.Fprintf(w, "backfill: %d/%d folders done; objects: %d read, %d already done by an earlier run, %d corrupt (dead-lettered), %d ignored (not flow log text)\n",
		s.FoldersDone, s.Folders, s.ObjectsDone, s.SkippedObjects, s.Corrupt, s.Ignored)
	fmt.Fprintf(w, "records: %d in = %d rows + %d dead letters + %d already durable; %d files (%s) in %s\n",
		ps.Records, ps.Rows, ps.DeadLetters, ps.Skipped, ps.Files, human(ps.FileBytes), took.Round(time.Millisecond))
	if len(ps.DeadByReason) > 0 {
		reasons := make([]string, 0, len(ps.DeadByReason))
		for r := range ps.DeadByReason {
			reasons = append(reasons, r)
		}
		sort.Strings(reasons)
		fmt.Fprint(w, "dead letters by reason:")
		for _, r := range reasons {
			fmt.Fprintf(w, " %s=%d", r, ps.DeadByReason[r])
		}
		fmt.Fprintln(w)
	}
	if s.Corrupt > 0 {
		fmt.Fprintf(w, "%d objects could not be read whole (corrupt gzip): their readable lines are in the lake, the rest is a dead letter naming the object\n", s.Corrupt)
	}
}

// sealSummary prints what sealing did, and why hours were left open.
func sealSummary(w io.Writer, d seal.Done) {
	fmt.Fprintf(w, "hours: %d sealed, %d revised (late rows listed), %d left open", d.Sealed, d.Revised, d.Last.Open)
	if d.Last.Open > 0 {
		reasons := make([]string, 0, len(d.Last.OpenBy))
		for r, n := range d.Last.OpenBy {
			reasons = append(reasons, fmt.Sprintf("%s=%d", r, n))
		}
		sort.Strings(reasons)
		fmt.Fprintf(w, " (%s; the log names them)", strings.Join(reasons, " "))
	}
	fmt.Fprintln(w)
}

func human(b int64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := int64(unit), 0
	for n := b / unit; n >= unit; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(b)/float64(div), "KMGTPE"[exp])
}
