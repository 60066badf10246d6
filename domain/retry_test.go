package domain

import (
	"testing"
	"time"
)

func TestRetryDelay(t *testing.T) {
	p := RetryPolicy{MaxAttempts: 3, BaseDelay: 5 * time.Second, MaxDelay: time.Minute, Jitter: 0.2}
	cases := []struct {
		n    int
		rnd  float64
		want time.Duration
	}{
		{1, 0.5, 5 * time.Second}, // rnd 0.5: no jitter
		{2, 0.5, 10 * time.Second},
		{3, 0.5, 20 * time.Second},
		{5, 0.5, time.Minute}, // capped
		{1, 0, 4 * time.Second},
		{1, 0.999999, 6 * time.Second},
		{0, 0.5, 5 * time.Second},
	}
	for _, c := range cases {
		got := p.Delay(c.n, c.rnd)
		if d := got - c.want; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("Delay(%d, %v) = %s, want %s", c.n, c.rnd, got, c.want)
		}
	}
}

func TestRetryNext(t *testing.T) {
	p := RetryPolicy{MaxAttempts: 3, BaseDelay: time.Second}
	cases := []struct {
		name       string
		maxRetries int
		failures   []Failure
		want       []bool // retry after each failure
		exhausted  bool   // of the last refused one
	}{
		{"platform: 3 attempts in all", 0, []Failure{PlatformFailure, PlatformFailure, PlatformFailure}, []bool{true, true, false}, true},
		{"function without retries fails once", 0, []Failure{FunctionFailure}, []bool{false}, false},
		{"function with max_retries 2", 2, []Failure{FunctionFailure, FunctionFailure, FunctionFailure}, []bool{true, true, false}, true},
		{"counted apart", 1, []Failure{FunctionFailure, PlatformFailure, PlatformFailure, FunctionFailure}, []bool{true, true, true, false}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := &Execution{}
			for i, f := range c.failures {
				retry, delay := p.Next(e, c.maxRetries, f, 0.5)
				if retry != c.want[i] {
					t.Fatalf("failure %d: retry %v, want %v", i+1, retry, c.want[i])
				}
				if retry && delay != p.Delay(e.PlatformFailures+e.FunctionFailures, 0.5) {
					t.Fatalf("failure %d: delay %s", i+1, delay)
				}
				if !retry && Exhausted(c.maxRetries, f) != c.exhausted {
					t.Fatalf("exhausted %v, want %v", !c.exhausted, c.exhausted)
				}
			}
		})
	}
	if got := (RetryPolicy{MaxAttempts: 3}).MaxDeliveries(); got < 3+MaxFunctionRetries {
		t.Fatalf("MaxDeliveries %d leaves no room for the attempts", got)
	}
}
