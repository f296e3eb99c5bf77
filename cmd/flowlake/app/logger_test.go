package app

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLimitHandler(t *testing.T) {
	var buf bytes.Buffer
	lh := NewLimitHandler(slog.NewJSONHandler(&buf, nil), 3, time.Minute)
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	lh.st.now = func() time.Time { return now }
	log := slog.New(lh).With("stage", "round")
	records := func() []map[string]any {
		var out []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			if l == "" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
		buf.Reset()
		return out
	}

	for i := range 100 {
		log.Warn("dead letter", "offset", i)
		log.Info("progress", "i", i) // below Warn: never limited
	}
	got := records()
	if n := count(got, "dead letter"); n != 3 {
		t.Fatalf("window 1: %d dead letters written, want the burst of 3", n)
	}
	if n := count(got, "progress"); n != 100 {
		t.Fatalf("info records limited: %d", n)
	}

	// The next window: the first record carries the count suppressed before.
	now = now.Add(61 * time.Second)
	for i := range 5 {
		log.Warn("dead letter", "offset", 100+i)
	}
	got = records()
	if count(got, "dead letter") != 3 || got[0]["suppressed_before"] != float64(97) || got[0]["stage"] != "round" {
		t.Fatalf("window 2: %v", got)
	}

	// A message that stops: its count is reported by another record's sweep
	// after the window, then by Flush for what remains.
	now = now.Add(61 * time.Second)
	log.Warn("s3 request failed, retrying")
	got = records()
	if len(got) != 2 || got[0]["msg"] != "log messages suppressed" || got[0]["message"] != "dead letter" || got[0]["suppressed"] != float64(2) {
		t.Fatalf("sweep: %v", got)
	}
	for range 10 {
		log.Warn("s3 request failed, retrying")
	}
	lh.Flush()
	got = records()
	last := got[len(got)-1]
	if count(got, "s3 request failed, retrying") != 2 || last["message"] != "s3 request failed, retrying" || last["suppressed"] != float64(8) {
		t.Fatalf("flush: %v", got)
	}
	// Records in = written + suppressed, for the whole run.
	lh.Flush()
	if buf.Len() != 0 {
		t.Fatalf("second flush wrote %s", buf.String())
	}
}

func count(rs []map[string]any, msg string) int {
	n := 0
	for _, r := range rs {
		if r["msg"] == msg {
			n++
		}
	}
	return n
}

func TestNewLoggerSamples(t *testing.T) {
	var buf bytes.Buffer
	log := NewLogger(&buf, "info", "json")
	for range 25 {
		log.Warn("dead letter")
	}
	FlushLogger(log)
	if n := strings.Count(buf.String(), `"msg":"dead letter"`); n != LogBurst || !strings.Contains(buf.String(), `"suppressed":15`) {
		t.Fatalf("%d written:\n%s", n, buf.String())
	}
}
