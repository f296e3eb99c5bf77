package sink

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// Open builds the sink a URL names: file:///dir or a plain path gives a
// Local sink, s3://bucket/prefix an S3 sink configured by s3cfg, whose
// Bucket and Prefix the URL overrides. s3cfg is ignored for local sinks.
// Open makes no request; an S3 sink can be probed with its Check method.
func Open(ctx context.Context, rawURL string, s3cfg S3Config, logger *slog.Logger, reg prometheus.Registerer) (Sink, error) {
	loc, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	switch loc.Scheme {
	case "file":
		l, err := NewLocal(loc.Path)
		if err != nil {
			return nil, err
		}
		return l, nil
	case "s3":
		s3cfg.Bucket, s3cfg.Prefix = loc.Bucket, loc.Path
		s, err := NewS3(ctx, s3cfg, logger, reg)
		if err != nil {
			return nil, err
		}
		return s, nil
	default:
		return nil, fmt.Errorf("sink URL %q: unsupported scheme %q", rawURL, loc.Scheme)
	}
}
