package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"flowlake/config"
	"flowlake/pipeline"
	"flowlake/stages/deadletter"
	"flowlake/stages/parse"
	"flowlake/stages/seal"
	"flowlake/stages/sink"
)

// PipelineConfig maps the configuration onto the pipeline's.
func PipelineConfig(c *config.Config) (pipeline.Config, error) {
	format, err := c.ParsedFormat()
	if err != nil {
		return pipeline.Config{}, err
	}
	formats, err := c.ParsedFormats()
	if err != nil {
		return pipeline.Config{}, err
	}
	return pipeline.Config{
		Source: c.Kafka,
		Parse: parse.Config{Format: format, Formats: formats, AllowNewerFields: c.AllowNewerFields, Region: c.Region, Account: c.Account, JSONFields: c.JSONFields,
			MaxLineBytes: c.Input.MaxLineBytes, MaxDeadPerMessage: c.Input.MaxDeadLettersPerMessage,
			MaxAhead: c.Input.MaxRecordAhead, MaxBehind: c.Input.MaxRecordBehind},
		OnOffsetReset:    c.Input.OnOffsetReset,
		AllowSharedSink:  c.Input.AllowSharedSink,
		Batch:            c.Batch,
		Encode:           c.Parquet,
		FlowLogID:        c.FlowLogID,
		MemoryLimit:      int64(c.Memory.Limit),
		MemoryBytes:      int64(c.Memory.MaxBufferedBytes),
		FetchBufferBytes: int64(c.Memory.FetchBufferBytes),
		ExitWhenIdle:     c.ExitWhenIdle,
		DrainTimeout:     c.DrainTimeout,
		ProgressInterval: c.ProgressInterval,
		Seal:             sealConfig(c),
	}, nil
}

// sealConfig maps the configuration onto the sealer's; nil when sealing is
// off.
func sealConfig(c *config.Config) *seal.Config {
	if !c.Seal.Enabled {
		return nil
	}
	s := seal.Defaults
	s.Lateness, s.Interval = c.Seal.Lateness, c.Seal.Interval
	return &s
}

// S3Config maps the configuration onto the S3 sink's.
func S3Config(c *config.Config) sink.S3Config {
	s := c.Sink.S3
	return sink.S3Config{Region: s.Region, Endpoint: s.Endpoint, PathStyle: s.PathStyle || s.Endpoint != "", SSE: s.SSE,
		KMSKeyID: s.KMSKeyID, Checksum: s.Checksum, ObjectLockMode: s.ObjectLockMode, ObjectLockDays: s.ObjectLockDays,
		MultipartThreshold: s.MultipartThreshold, PartSize: s.PartSize, RequestTimeout: s.RequestTimeout}
}

func openDLQ(ctx context.Context, c *config.Config, logger *slog.Logger, reg prometheus.Registerer) (deadletter.Writer, func(), error) {
	d, err := config.ParseDLQ(c.DLQ)
	if err != nil {
		return nil, nil, err
	}
	if d.Topic != "" {
		tr, err := c.Kafka.Auth.Transport(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("dead-letter producer: %w", err)
		}
		w := deadletter.NewKafkaWriter(c.Kafka.Brokers, d.Topic, logger.With("stage", "deadletter"), deadletter.WithTransport(tr))
		return w, func() { _ = w.Close() }, nil
	}
	s, err := sink.Open(ctx, d.SinkURL, S3Config(c), logger.With("stage", "deadletter"), sinkRegisterer(reg, "dlq"))
	if err != nil {
		return nil, nil, fmt.Errorf("open dead-letter sink: %w", err)
	}
	return deadletter.NewSinkWriter(s, ""), func() {}, nil
}

// sinkRegisterer labels a sink's metrics (flowlake_sink_s3_*) with which
// sink they are about: "data" for the Parquet files and checkpoints, "dlq"
// for a separate dead-letter sink.
func sinkRegisterer(reg prometheus.Registerer, name string) prometheus.Registerer {
	return prometheus.WrapRegistererWith(prometheus.Labels{"sink": name}, reg)
}
