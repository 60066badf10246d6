package domain

import (
	"fmt"
	"time"
)

// MaxFunctionRetries is the largest max_retries a function may set.
const MaxFunctionRetries = 5

// Failure says who failed an attempt: the function (it exited non-zero,
// timed out, ran out of memory) or the platform (Docker or NATS trouble, the
// worker died).
type Failure int

const (
	// FunctionFailure is retried only when the function sets max_retries.
	FunctionFailure Failure = iota
	// PlatformFailure is retried up to RetryPolicy.MaxAttempts attempts.
	PlatformFailure
)

// RetryPolicy is the one retry policy of executions (contract §3): platform
// failures get MaxAttempts attempts in all (MAX_RETRIES), function failures
// the function's max_retries; each retry waits BaseDelay×2^(n-1) (RETRY_DELAY),
// at most MaxDelay, spread by ±Jitter so that retries of many executions do
// not arrive together.
type RetryPolicy struct {
	MaxAttempts int
	BaseDelay   time.Duration
	MaxDelay    time.Duration
	Jitter      float64 // 0 to 1: the share of the delay that is random
}

// DefaultRetryPolicy is the contract's defaults: 3 attempts, 5 s doubling.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 3, BaseDelay: 5 * time.Second, MaxDelay: 5 * time.Minute, Jitter: 0.2}

// deliverySlack is the deliveries a job may use beyond its attempts:
// deliveries that start nothing (a redelivery while the lease holder lives,
// a worker's stop handing the job back).
const deliverySlack = 5

// MaxDeliveries is the queue's delivery limit of one job (the consumer's
// MaxDeliver), derived from the policy so that the two never disagree: it
// is a backstop above every attempt the policy may grant. The policy, read
// from the execution's record, decides the last attempt; a job that still
// reaches MaxDeliveries is ended as a dead letter by the sweeper.
func (p RetryPolicy) MaxDeliveries() int {
	return p.MaxAttempts + MaxFunctionRetries + deliverySlack
}

// Delay is the wait before retry n (from 1): BaseDelay×2^(n-1), capped at
// MaxDelay, then moved by up to ±Jitter of itself; rnd is a random number
// in [0, 1).
func (p RetryPolicy) Delay(n int, rnd float64) time.Duration {
	if n < 1 {
		n = 1
	}
	d := p.BaseDelay
	for i := 1; i < n && (p.MaxDelay <= 0 || d < p.MaxDelay); i++ {
		d *= 2
	}
	if p.MaxDelay > 0 && d > p.MaxDelay {
		d = p.MaxDelay
	}
	if p.Jitter > 0 {
		d += time.Duration(float64(d) * p.Jitter * (2*rnd - 1))
	}
	return d
}

// Next counts a failed attempt of e and decides whether e gets another one.
// maxRetries is the function's max_retries. When it does, retry is true and
// delay the wait before it; otherwise the caller ends e (a dead letter when
// retries were allowed and are used up, see Exhausted).
func (p RetryPolicy) Next(e *Execution, maxRetries int, f Failure, rnd float64) (retry bool, delay time.Duration) {
	switch f {
	case FunctionFailure:
		e.FunctionFailures++
		retry = e.FunctionFailures <= maxRetries
	default:
		e.PlatformFailures++
		retry = e.PlatformFailures < p.MaxAttempts
	}
	if !retry {
		return false, 0
	}
	return true, p.Delay(e.FunctionFailures+e.PlatformFailures, rnd)
}

// Exhausted reports whether an execution whose last failure f was refused a
// retry by Next used up attempts it was allowed: a platform failure
// always (MAX_RETRIES attempts), a function failure when the function asked
// for retries. Such an execution is a dead letter.
func Exhausted(maxRetries int, f Failure) bool {
	return f == PlatformFailure || maxRetries > 0
}

// ValidateRetryPolicy checks a policy read from the configuration.
func ValidateRetryPolicy(p RetryPolicy) error {
	if p.MaxAttempts < 1 || p.BaseDelay < 0 || p.Jitter < 0 || p.Jitter > 1 {
		return fmt.Errorf("retry policy %+v: %w", p, ErrInvalidInput)
	}
	return nil
}
