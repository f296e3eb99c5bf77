package awslog

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/aws/smithy-go/logging"
)

func TestNew(t *testing.T) {
	var buf bytes.Buffer
	l := New(slog.New(slog.NewJSONHandler(&buf, nil)))
	l.Logf(logging.Warn, "Response has no supported checksum. Not validating response payload. %d", 7)
	l.Logf(logging.Debug, "request dump") // below the handler's Info level
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("not one JSON record: %q", buf.String())
	}
	if m["level"] != "WARN" || m["component"] != "aws-sdk" || m["msg"] != "Response has no supported checksum. Not validating response payload. 7" {
		t.Fatalf("%v", m)
	}
}
