package domain

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var allStatuses = []Status{StatusPending, StatusRunning, StatusComplete, StatusFailed, StatusCancelled, StatusTimeout}

// TestTransitionTable checks every pair of statuses, legal or refused.
func TestTransitionTable(t *testing.T) {
	legal := map[[2]Status]bool{
		{StatusPending, StatusRunning}:   true, // claim
		{StatusPending, StatusFailed}:    true, // queue failure, expired, function gone, dead letter
		{StatusPending, StatusCancelled}: true,
		{StatusRunning, StatusPending}:   true, // requeue: retry, worker died or stopped
		{StatusRunning, StatusComplete}:  true,
		{StatusRunning, StatusFailed}:    true,
		{StatusRunning, StatusTimeout}:   true,
		{StatusRunning, StatusCancelled}: true,
	}
	for _, from := range allStatuses {
		for _, to := range allStatuses {
			err := Transition(from, to)
			want := legal[[2]Status{from, to}]
			if want && err != nil {
				t.Errorf("%s → %s refused: %v", from, to, err)
			}
			if !want && !errors.Is(err, ErrIllegalTransition) {
				t.Errorf("%s → %s: got %v, want ErrIllegalTransition", from, to, err)
			}
		}
	}
}

func TestClaimFenceAndRequeue(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	e := NewPending("x", "o", "f", "in", t0)
	n, err := e.Claim("w1", t0.Add(2*time.Second))
	if err != nil || n != 1 || e.Status != StatusRunning || e.QueueDuration != 2 {
		t.Fatalf("claim: n=%d err=%v %+v", n, err, e)
	}
	if _, err := e.Claim("w2", t0); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("second claim of a running execution: %v", err)
	}
	if err := e.Holds("w1", 1); err != nil {
		t.Fatalf("holder refused: %v", err)
	}
	for _, c := range []struct {
		w string
		n int
	}{{"w2", 1}, {"w1", 2}} {
		if err := e.Holds(c.w, c.n); !errors.Is(err, ErrStaleAttempt) {
			t.Errorf("Holds(%s, %d) = %v, want ErrStaleAttempt", c.w, c.n, err)
		}
	}
	retryAt := t0.Add(time.Minute)
	if err := e.Requeue("worker died; retrying", retryAt); err != nil || e.Status != StatusPending || !e.RetryAt.Equal(retryAt) {
		t.Fatalf("requeue: %v %+v", err, e)
	}
	if err := e.Holds("w1", 1); !errors.Is(err, ErrStaleAttempt) {
		t.Fatalf("a requeued attempt still holds: %v", err)
	}
	if n, _ := e.Claim("w2", retryAt); n != 2 || e.RetryAt != nil {
		t.Fatalf("second attempt n=%d retryAt=%v", n, e.RetryAt)
	}
	if err := e.DeadLetter("the worker died", retryAt.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if e.Status != StatusFailed || e.DeadAt == nil || !strings.Contains(e.Error, "dead letter") || e.Duration != 1 {
		t.Fatalf("dead letter: %+v", e)
	}
	if err := e.Cancel(t0); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("cancel of an ended execution: %v", err)
	}
}

func TestOutcomeOf(t *testing.T) {
	fn := &Function{Timeout: 7, MemoryMB: 32}
	cases := []struct {
		name      string
		res       RunResult
		status    Status
		errHas    string
		output    string
		retryable bool
	}{
		{"complete", RunResult{Stdout: []byte("ok")}, StatusComplete, "", "ok", false},
		{"exit code with last stderr line", RunResult{ExitCode: 3, Stdout: []byte("part"), Stderr: []byte("a\nboom\n\n")}, StatusFailed, "exit code 3: boom", "part", true},
		{"exit code without stderr", RunResult{ExitCode: 2}, StatusFailed, "exit code 2", "", true},
		{"timeout", RunResult{TimedOut: true, ExitCode: 137}, StatusTimeout, "timed out after 7 s", "", true},
		{"oom", RunResult{OOMKilled: true, ExitCode: 137}, StatusFailed, "out of memory", "", true},
		{"sigkill", RunResult{ExitCode: 137}, StatusFailed, "most likely out of memory", "", true},
		{"overflow", RunResult{StdoutOverflow: true, Stdout: []byte("x")}, StatusFailed, "output exceeds", "", true},
		{"cancelled", RunResult{Cancelled: true}, StatusCancelled, "cancelled", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := OutcomeOf(tc.res, fn)
			if o.Status != tc.status || !strings.Contains(o.Error, tc.errHas) || o.Output != tc.output || o.Retryable != tc.retryable {
				t.Fatalf("got %+v", o)
			}
			e := NewPending("x", "o", "f", "", time.Now())
			if _, err := e.Claim("w", time.Now()); err != nil {
				t.Fatal(err)
			}
			tc.res.StartupDuration = 90 * time.Millisecond
			if err := e.Finish(o, tc.res, time.Now()); err != nil {
				t.Fatal(err)
			}
			if e.Status != tc.status || e.StartupDuration != 0.09 {
				t.Fatalf("finished: %+v", e)
			}
		})
	}
}

func TestLastLine(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "",
		"one":                    "one",
		"one\ntwo\n":             "two",
		"one\ntwo\r\n\n  ":       "two",
		strings.Repeat("x", 600): strings.Repeat("x", 512),
	} {
		if got := lastLine([]byte(in)); got != want {
			t.Errorf("lastLine(%.20q) = %.20q, want %.20q", in, got, want)
		}
	}
}
