package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDo(t *testing.T) {
	errTry := errors.New("try again")
	errStop := errors.New("give up")
	cases := []struct {
		name      string
		tries     int
		results   []error // op's answer per call; nil ends
		wantCalls int
		want      error
	}{
		{"first call succeeds", 3, []error{nil}, 1, nil},
		{"succeeds on the third", 5, []error{errTry, errTry, nil}, 3, nil},
		{"tries run out", 3, []error{errTry, errTry, errTry, nil}, 3, errTry},
		{"permanent stops at once", 5, []error{Permanent(errStop), nil}, 1, errStop},
		{"permanent on the last try is unwrapped", 2, []error{errTry, Permanent(errStop)}, 2, errStop},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			err := Do(context.Background(), Policy{Tries: c.tries, Initial: time.Microsecond}, func() error {
				calls++
				return c.results[calls-1]
			})
			if calls != c.wantCalls || !errors.Is(err, c.want) {
				t.Fatalf("calls %d err %v, want %d calls and %v", calls, err, c.wantCalls, c.want)
			}
			var pe interface{ Unwrap() error }
			if err != nil && errors.As(err, &pe) && pe.Unwrap() == nil {
				t.Fatalf("a wrapper came back: %T", err)
			}
		})
	}
}

func TestDoStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := Do(ctx, Policy{Tries: 100, Initial: time.Hour}, func() error {
		calls++
		cancel()
		return errors.New("down")
	})
	if calls != 1 || !errors.Is(err, context.Canceled) {
		t.Fatalf("calls %d err %v", calls, err)
	}
}
