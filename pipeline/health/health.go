// Package health keeps what flowlake's probes answer: liveness (the
// process's loops still make progress) and readiness (named conditions that
// must all hold). Components report into it; the HTTP handler reads it.
package health

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Conditions that gate readiness. Each starts unmet with a reason.
const (
	// Kafka holds once the instance has joined the consumer group.
	Kafka = "kafka"
	// Sink holds once the sink was checked (bucket reachable and writable).
	Sink = "sink"
	// Flush holds while no flush round has been running (retrying a
	// failing sink) for longer than the flush bound.
	Flush = "flush"
)

// Health is safe for concurrent use. The zero value is not usable; use New.
type Health struct {
	now func() time.Time

	mu    sync.Mutex
	conds map[string]string // condition -> reason it is unmet ("" = met)
	loops map[string]*loop
}

type loop struct {
	last  time.Time
	bound time.Duration
}

// New returns a Health whose conditions are all unmet with the given
// reasons (condition -> reason).
func New(initial map[string]string) *Health {
	h := &Health{now: time.Now, conds: map[string]string{}, loops: map[string]*loop{}}
	for c, r := range initial {
		h.conds[c] = r
	}
	return h
}

// SetClock replaces the clock (tests).
func (h *Health) SetClock(now func() time.Time) { h.now = now }

// Set marks a condition met (reason "") or unmet with reason.
func (h *Health) Set(cond, reason string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	h.conds[cond] = reason
	h.mu.Unlock()
}

// Setf marks a condition unmet with a formatted reason.
func (h *Health) Setf(cond, format string, args ...any) { h.Set(cond, fmt.Sprintf(format, args...)) }

// Ready reports whether every condition is met, and the reasons of those
// that are not, sorted by condition.
func (h *Health) Ready() (bool, []string) {
	if h == nil {
		return true, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var why []string
	for c, r := range h.conds {
		if r != "" {
			why = append(why, c+": "+r)
		}
	}
	slices.Sort(why)
	return len(why) == 0, why
}

// Beat records that loop name is alive; it is wedged once it has not beaten
// for bound. Loops that end call Done.
func (h *Health) Beat(name string, bound time.Duration) {
	if h == nil {
		return
	}
	now := h.now()
	h.mu.Lock()
	l := h.loops[name]
	if l == nil {
		l = &loop{}
		h.loops[name] = l
	}
	l.last, l.bound = now, bound
	h.mu.Unlock()
}

// Done forgets loop name.
func (h *Health) Done(name string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	delete(h.loops, name)
	h.mu.Unlock()
}

// Alive reports whether no loop is wedged, and the wedged ones.
func (h *Health) Alive() (bool, []string) {
	if h == nil {
		return true, nil
	}
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	var why []string
	for name, l := range h.loops {
		if since := now.Sub(l.last); since > l.bound {
			why = append(why, fmt.Sprintf("%s: no progress for %v (bound %v)", name, since.Round(time.Second), l.bound))
		}
	}
	slices.Sort(why)
	return len(why) == 0, why
}

// Handler serves /healthz and /readyz: 200 "ok", or 503 with one reason per
// line.
func (h *Health) Handler(check func() (bool, []string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		ok, why := check()
		if ok {
			_, _ = w.Write([]byte("ok\n"))
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(strings.Join(why, "\n") + "\n"))
	})
}

// Routes adds /healthz and /readyz to mux.
func (h *Health) Routes(mux *http.ServeMux) {
	mux.Handle("/healthz", h.Handler(h.Alive))
	mux.Handle("/readyz", h.Handler(h.Ready))
}
