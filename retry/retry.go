// Package retry is the platform's one way to retry an I/O operation with
// exponential backoff and jitter (on github.com/cenkalti/backoff/v5): store
// writes that lose a revision race, Docker calls, cleanup steps. The retry
// policy of executions themselves (MAX_RETRIES, RETRY_DELAY) is
// domain.RetryPolicy; this is for the platform's own calls.
package retry

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Policy says how often and how patiently to try.
type Policy struct {
	Tries   int           // at most this many calls (at least 1)
	Initial time.Duration // first pause; each pause grows ×2, ±50 % jitter
	Max     time.Duration // longest pause (0: no cap but the growth)
}

// Do calls op until it returns nil, a Permanent error, Tries calls were
// made or ctx ends, pausing with backoff in between. It returns op's last
// error (a Permanent one unwrapped), or ctx's cause when ctx ended first.
func Do(ctx context.Context, p Policy, op func() error) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = p.Initial
	b.Multiplier = 2
	b.RandomizationFactor = 0.5
	if p.Max > 0 {
		b.MaxInterval = p.Max
	}
	tries := uint(max(p.Tries, 1))
	_, err := backoff.Retry(ctx, func() (struct{}, error) { return struct{}{}, op() },
		backoff.WithBackOff(b), backoff.WithMaxTries(tries), backoff.WithMaxElapsedTime(0))
	if pe, ok := err.(*backoff.PermanentError); ok {
		return pe.Unwrap()
	}
	return err
}

// Permanent marks err as not worth another try.
func Permanent(err error) error { return backoff.Permanent(err) }
