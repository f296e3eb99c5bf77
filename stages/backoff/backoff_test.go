package backoff

import (
	"context"
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	tests := []struct {
		attempt        int
		base, max, cap time.Duration
	}{
		{1, 100 * time.Millisecond, 30 * time.Second, 100 * time.Millisecond},
		{4, 100 * time.Millisecond, 30 * time.Second, 800 * time.Millisecond},
		{20, 100 * time.Millisecond, 30 * time.Second, 30 * time.Second},
		{1000, 100 * time.Millisecond, 2 * time.Second, 2 * time.Second},
		{0, time.Second, 5 * time.Second, time.Second},
	}
	for _, tt := range tests {
		sawHigh := false
		for i := 0; i < 2000; i++ {
			d := Delay(tt.attempt, tt.base, tt.max)
			if d < 0 || d >= tt.cap {
				t.Fatalf("attempt %d: delay %v outside [0, %v)", tt.attempt, d, tt.cap)
			}
			sawHigh = sawHigh || d > tt.cap/2
		}
		if !sawHigh {
			t.Errorf("attempt %d: no delay above half of %v in 2000 draws: no jitter up to the cap", tt.attempt, tt.cap)
		}
	}
	if d := Delay(3, time.Second, 0); d != 0 {
		t.Errorf("zero cap: %v", d)
	}
}

func TestSleepEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); err == nil {
		t.Fatal("Sleep ignored a cancelled context")
	}
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
}
