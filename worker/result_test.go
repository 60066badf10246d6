package worker

import (
	"strings"
	"testing"
	"time"

	"github.com/faasplatform/faas/domain"
)

func TestApplyResult(t *testing.T) {
	fn := &domain.Function{Timeout: 7, MemoryMB: 32}
	cases := []struct {
		name   string
		res    domain.RunResult
		status domain.Status
		errHas string
		output string
	}{
		{"complete", domain.RunResult{Stdout: []byte("ok")}, domain.StatusComplete, "", "ok"},
		{"exit code with last stderr line", domain.RunResult{ExitCode: 3, Stdout: []byte("part"), Stderr: []byte("a\nboom\n\n")}, domain.StatusFailed, "exit code 3: boom", "part"},
		{"exit code without stderr", domain.RunResult{ExitCode: 2}, domain.StatusFailed, "exit code 2", ""},
		{"timeout", domain.RunResult{TimedOut: true, ExitCode: 137}, domain.StatusTimeout, "timed out after 7 s", ""},
		{"oom", domain.RunResult{OOMKilled: true, ExitCode: 137}, domain.StatusFailed, "out of memory", ""},
		{"sigkill", domain.RunResult{ExitCode: 137}, domain.StatusFailed, "most likely out of memory", ""},
		{"overflow", domain.RunResult{StdoutOverflow: true, Stdout: []byte("x")}, domain.StatusFailed, "output exceeds", ""},
		{"cancelled", domain.RunResult{Cancelled: true}, domain.StatusCancelled, "cancelled", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := &domain.Execution{}
			tc.res.StartupDuration = 90 * time.Millisecond
			applyResult(e, fn, tc.res)
			if e.Status != tc.status || !strings.Contains(e.Error, tc.errHas) || e.Output != tc.output {
				t.Fatalf("got status %q error %q output %q", e.Status, e.Error, e.Output)
			}
			if e.StartupDuration != 0.09 {
				t.Errorf("startup %v", e.StartupDuration)
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

func TestBackoffDoubles(t *testing.T) {
	w := &Worker{opts: Options{RetryBase: 5 * time.Second}}
	for attempt, want := range map[int]time.Duration{1: 5 * time.Second, 2: 10 * time.Second, 3: 20 * time.Second} {
		if got := w.backoff(attempt); got != want {
			t.Errorf("attempt %d: %s, want %s", attempt, got, want)
		}
	}
}
