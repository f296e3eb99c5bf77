package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"flowlake/config"
	"flowlake/stages/deadletter"
	"flowlake/stages/sink"
	"flowlake/stages/source"
	"flowlake/stages/source/archive"
)

// ArchiveSource builds the archive source a backfill reads, without
// anything else (enough for --dry-run).
func ArchiveSource(ctx context.Context, c *config.Config, state sink.Sink, logger *slog.Logger) (*archive.Source, error) {
	b := &c.Backfill
	bucket, prefix, err := archive.ParseURL(b.From)
	if err != nil {
		return nil, fmt.Errorf("%w: --from: %v", config.ErrInvalid, err)
	}
	since, until, err := b.Days()
	if err != nil {
		return nil, err
	}
	region, endpoint := b.S3Region, b.S3Endpoint
	if region == "" {
		region = c.Sink.S3.Region
	}
	if endpoint == "" {
		endpoint = c.Sink.S3.Endpoint
	}
	client, err := archive.NewClient(ctx, archive.ClientConfig{Region: region, Endpoint: endpoint})
	if err != nil {
		return nil, err
	}
	return archive.New(archive.Config{Bucket: bucket, Prefix: prefix, Parallel: b.Parallel,
		Filter: archive.Filter{Range: archive.Range{Since: since, Until: until}, Accounts: b.Accounts, Regions: b.Regions}},
		client, state, logger.With("stage", "archive"))
}

// BuildBackfill assembles an App that reads the archive c.Backfill names
// instead of Kafka, and writes what `run` writes.
func BuildBackfill(ctx context.Context, c *config.Config, logger *slog.Logger, tel *Telemetry) (*App, *archive.Source, error) {
	var src *archive.Source
	app, err := build(ctx, c, logger, tel, func(out sink.Sink, reg prometheus.Registerer) (source.Runner, deadletter.Locator, error) {
		var err error
		src, err = ArchiveSource(ctx, c, out, logger)
		if err != nil {
			return nil, nil, err
		}
		if err := src.Register(reg); err != nil {
			return nil, nil, fmt.Errorf("archive metrics: %w", err)
		}
		return src, src.Locate, nil
	})
	if err != nil {
		return nil, nil, err
	}
	if err := app.Pipeline.SealBackfill(src, c.DLQ == ""); err != nil {
		app.Close()
		return nil, nil, fmt.Errorf("seal: %w", err)
	}
	return app, src, nil
}
