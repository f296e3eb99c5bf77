// Package awslog routes the AWS SDK's log output through slog, so JSON logs
// stay JSON: the SDK otherwise prints "SDK 2026/12/01 ... WARN ..." lines
// straight to stderr (for example when a response carries no checksum it
// can validate).
package awslog

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/smithy-go/logging"
)

// New returns an SDK logger writing to l (slog.Default() when nil): SDK
// warnings at Warn, debug output at Debug, with component=aws-sdk.
func New(l *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
		lg := l
		if lg == nil {
			lg = slog.Default()
		}
		level := slog.LevelDebug
		if c == logging.Warn {
			level = slog.LevelWarn
		}
		if !lg.Enabled(context.Background(), level) {
			return
		}
		lg.Log(context.Background(), level, fmt.Sprintf(format, v...), "component", "aws-sdk")
	})
}
