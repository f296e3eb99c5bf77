// Package backoff is the one retry delay every retry loop of flowlake uses
// (Kafka fetches, S3 writes, archive reads, dead-letter produces): capped
// exponential growth with full jitter, so that many retrying clients
// spread out instead of retrying in step.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Delay returns the wait before retry number attempt (1 for the first
// retry): uniform in [0, min(maxDelay, base*2^(attempt-1))).
func Delay(attempt int, base, maxDelay time.Duration) time.Duration {
	ceiling := maxDelay
	if attempt < 1 {
		attempt = 1
	}
	if attempt < 32 && base > 0 {
		if c := base << (attempt - 1); c > 0 && c < maxDelay {
			ceiling = c
		}
	}
	if ceiling <= 0 {
		return 0
	}
	return rand.N(ceiling)
}

// Sleep waits d, or until ctx ends, in which case it returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
