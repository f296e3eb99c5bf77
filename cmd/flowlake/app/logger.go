package app

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// NewLogger returns a slog logger writing text or JSON at level, with
// repeated warnings sampled (LimitHandler). Call FlushLogger before
// exiting so counts of suppressed messages are written.
func NewLogger(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(NewLimitHandler(h, LogBurst, LogWindow))
}

// FlushLogger writes the counts of suppressed messages of a logger made by
// NewLogger (or any logger over a LimitHandler); others are left alone.
func FlushLogger(l *slog.Logger) {
	if h, ok := l.Handler().(*LimitHandler); ok {
		h.Flush()
	}
}

// Repeated warnings are sampled: per message, the first LogBurst records
// of every LogWindow are written and the rest counted. The count is
// written once the window has passed (with the next record of that
// message, or as a "log messages suppressed" record), and at Flush, for
// the whole life of the process: a dead-letter storm is visible, sampled
// and counted, whether it lasts a minute or a month.
const (
	LogBurst  = 10
	LogWindow = time.Minute
	// maxLogKeys bounds the messages tracked; messages beyond it (only
	// possible with dynamic messages) are written unsampled.
	maxLogKeys = 4096
)

// LimitHandler is a slog.Handler that rate-limits records at Warn and
// above by message. Handlers derived with WithAttrs/WithGroup share the
// limits, so a message is limited across every stage and partition.
type LimitHandler struct {
	next slog.Handler
	st   *limitState
}

type limitState struct {
	mu        sync.Mutex
	burst     int
	window    time.Duration
	now       func() time.Time
	keys      map[string]*limitKey
	lastSweep time.Time
	sink      slog.Handler // where summaries go: the undecorated handler
}

type limitKey struct {
	start      time.Time
	n          int // records in the current window
	suppressed int64
	level      slog.Level
}

// NewLimitHandler wraps next with the sampling policy above.
func NewLimitHandler(next slog.Handler, burst int, window time.Duration) *LimitHandler {
	return &LimitHandler{next: next, st: &limitState{burst: burst, window: window, now: time.Now, keys: map[string]*limitKey{}, sink: next}}
}

// Enabled implements slog.Handler.
func (h *LimitHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// WithAttrs implements slog.Handler.
func (h *LimitHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &LimitHandler{next: h.next.WithAttrs(as), st: h.st}
}

// WithGroup implements slog.Handler.
func (h *LimitHandler) WithGroup(name string) slog.Handler {
	return &LimitHandler{next: h.next.WithGroup(name), st: h.st}
}

// Handle implements slog.Handler.
func (h *LimitHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return h.next.Handle(ctx, r)
	}
	s := h.st
	s.mu.Lock()
	now := s.now()
	summaries := s.sweep(now, r.Message)
	k := s.keys[r.Message]
	if k == nil && len(s.keys) < maxLogKeys {
		k = &limitKey{start: now, level: r.Level}
		s.keys[r.Message] = k
	}
	var write bool
	var carried int64
	if k == nil {
		write = true
	} else {
		if now.Sub(k.start) >= s.window {
			carried, k.suppressed = k.suppressed, 0
			k.start, k.n = now, 0
		}
		k.n++
		write = k.n <= s.burst
		if !write {
			k.suppressed++
		}
	}
	s.mu.Unlock()
	for _, sr := range summaries {
		_ = s.sink.Handle(ctx, sr)
	}
	if !write {
		return nil
	}
	if carried > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int64("suppressed_before", carried))
	}
	return h.next.Handle(ctx, r)
}

// sweep, at most once a second, turns the counts of windows that have
// passed (except skip's, which its own record carries) into summary
// records. Called with mu held.
func (s *limitState) sweep(now time.Time, skip string) []slog.Record {
	if now.Sub(s.lastSweep) < time.Second {
		return nil
	}
	s.lastSweep = now
	var out []slog.Record
	for msg, k := range s.keys {
		if msg == skip || now.Sub(k.start) < s.window {
			continue
		}
		if k.suppressed > 0 {
			out = append(out, summary(now, k.level, msg, k.suppressed, k.start))
		}
		delete(s.keys, msg) // an idle message starts a fresh window
	}
	return out
}

func summary(now time.Time, l slog.Level, msg string, n int64, since time.Time) slog.Record {
	r := slog.NewRecord(now, l, "log messages suppressed", 0)
	r.AddAttrs(slog.String("message", msg), slog.Int64("suppressed", n), slog.Time("since", since))
	return r
}

// Flush writes the counts of every message suppressed and not yet
// reported; call it before the process exits.
func (h *LimitHandler) Flush() {
	s := h.st
	s.mu.Lock()
	now := s.now()
	var out []slog.Record
	for msg, k := range s.keys {
		if k.suppressed > 0 {
			out = append(out, summary(now, k.level, msg, k.suppressed, k.start))
			k.suppressed = 0
		}
	}
	s.mu.Unlock()
	for _, r := range out {
		_ = s.sink.Handle(context.Background(), r)
	}
}
