package seal

import (
	"context"
	"math"
	"testing"
	"time"

	"flowlake/stages/sink"
)

// countingPlanner decides that nothing is sealable and reports each pass.
type countingPlanner struct{ passes chan struct{} }

func (p countingPlanner) Decide(context.Context, time.Time) (Decision, error) {
	return Decision{Frontier: math.MinInt64}, nil
}

func (p countingPlanner) Passed(context.Context, Decision, Result) { p.passes <- struct{}{} }

// TestKickNowSkipsMinGap checks that Kick waits out MinGap after a pass
// and KickNow does not.
func TestKickNowSkipsMinGap(t *testing.T) {
	store, err := sink.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := countingPlanner{passes: make(chan struct{}, 8)}
	s, err := NewPlanned(Config{Interval: time.Hour, MinGap: time.Hour}, store, p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	defer func() { cancel(); <-done }()

	pass := func(want bool, what string) {
		t.Helper()
		select {
		case <-p.passes:
			if !want {
				t.Fatalf("%s: a pass ran within MinGap", what)
			}
		case <-time.After(300 * time.Millisecond):
			if want {
				t.Fatalf("%s: no pass", what)
			}
		}
	}
	s.Kick()
	pass(true, "first Kick")
	s.Kick()
	pass(false, "Kick right after a pass")
	s.KickNow()
	pass(true, "KickNow right after a pass")
	s.KickNow()
	pass(true, "second KickNow")
}
