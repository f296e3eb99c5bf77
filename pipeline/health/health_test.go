package health

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestReadyAndAlive(t *testing.T) {
	now := time.Unix(1000, 0)
	h := New(map[string]string{Kafka: "not connected yet", Sink: "not checked yet"})
	h.SetClock(func() time.Time { return now })
	mux := http.NewServeMux()
	h.Routes(mux)
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code, rec.Body.String()
	}
	steps := []struct {
		name      string
		do        func()
		readyCode int
		readyBody string
		aliveCode int
		aliveBody string
	}{
		{"start", func() {}, 503, "kafka: not connected yet\nsink: not checked yet\n", 200, "ok\n"},
		{"sink checked", func() { h.Set(Sink, "") }, 503, "kafka: not connected yet\n", 200, "ok\n"},
		{"joined", func() { h.Set(Kafka, "") }, 200, "ok\n", 200, "ok\n"},
		{"loop beats", func() { h.Beat("partition 1 loop", time.Minute) }, 200, "ok\n", 200, "ok\n"},
		{"loop wedged", func() { now = now.Add(61 * time.Second) }, 200, "ok\n", 503, "partition 1 loop: no progress for 1m1s (bound 1m0s)\n"},
		{"loop ends", func() { h.Done("partition 1 loop") }, 200, "ok\n", 200, "ok\n"},
		{"flush failing", func() { h.Setf(Flush, "partition %d: stuck", 3) }, 503, "flush: partition 3: stuck\n", 200, "ok\n"},
	}
	for _, s := range steps {
		s.do()
		if code, body := get("/readyz"); code != s.readyCode || body != s.readyBody {
			t.Errorf("%s: /readyz %d %q, want %d %q", s.name, code, body, s.readyCode, s.readyBody)
		}
		if code, body := get("/healthz"); code != s.aliveCode || !strings.Contains(body, s.aliveBody) {
			t.Errorf("%s: /healthz %d %q, want %d %q", s.name, code, body, s.aliveCode, s.aliveBody)
		}
	}
}
