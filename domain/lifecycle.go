package domain

import (
	"errors"
	"fmt"
	"time"
)

// The execution lifecycle. This file is the one owner of an execution's
// status: the legal transitions, the methods that move an execution from one
// status to another (each checks the transition), the mapping of a run's
// result to a status, and the fence that lets only the current attempt write.
// No other code assigns Execution.Status.
//
//	pending ──claim──▶ running ──result──▶ complete | failed | timeout
//	   │  ▲               │
//	   │  └──requeue──────┘ (retry with backoff, worker died or stopping)
//	   └──▶ failed | cancelled (queue failure, expired, function gone, dead letter; cancel)
//	running ──▶ cancelled (cancel)

// Lifecycle errors. Callers branch on them with errors.Is.
var (
	// ErrIllegalTransition is a status change the lifecycle refuses, e.g.
	// anything out of a final status.
	ErrIllegalTransition = errors.New("illegal status transition")
	// ErrStaleAttempt is a write by an attempt that no longer holds the
	// execution: another attempt took over, or the execution ended.
	ErrStaleAttempt = errors.New("stale attempt")
)

// transitions lists, for each status, the statuses it may move to.
var transitions = map[Status][]Status{
	StatusPending: {StatusRunning, StatusFailed, StatusCancelled},
	StatusRunning: {StatusPending, StatusComplete, StatusFailed, StatusTimeout, StatusCancelled},
}

// Transition reports whether an execution may move from one status to
// another: nil when legal, an error wrapping ErrIllegalTransition otherwise.
func Transition(from, to Status) error {
	for _, s := range transitions[from] {
		if s == to {
			return nil
		}
	}
	return fmt.Errorf("%s → %s: %w", from, to, ErrIllegalTransition)
}

// set moves e to status to, or refuses.
func (e *Execution) set(to Status) error {
	if err := Transition(e.Status, to); err != nil {
		return fmt.Errorf("execution %s: %w", e.ID, err)
	}
	e.Status = to
	return nil
}

// end moves e to a final status at now with the given error text.
func (e *Execution) end(to Status, errText string, now time.Time) error {
	if err := e.set(to); err != nil {
		return err
	}
	e.Error = errText
	e.EndTime = &now
	if e.StartTime != nil {
		e.Duration = now.Sub(*e.StartTime).Seconds()
	}
	e.RetryAt = nil
	return nil
}

// NewPending returns a pending execution of owner's function with input,
// created at now.
func NewPending(id, owner, functionID, input string, now time.Time) *Execution {
	return &Execution{ID: id, Owner: owner, FunctionID: functionID, Input: input, Status: StatusPending, CreatedAt: now}
}

// Claim starts a new attempt of e by worker at now: pending → running. It
// returns the attempt number (from 1), which the fence checks later.
func (e *Execution) Claim(worker string, now time.Time) (int, error) {
	if err := e.set(StatusRunning); err != nil {
		return 0, err
	}
	e.Attempts++
	e.WorkerID = worker
	e.StartTime = &now
	e.EndTime = nil
	e.QueueDuration = now.Sub(e.CreatedAt).Seconds()
	e.Error = ""
	e.RetryAt = nil
	return e.Attempts, nil
}

// Holds is the fence: nil when e is running attempt of worker, an error
// wrapping ErrStaleAttempt otherwise (another attempt took over, it was
// handed back, or it ended).
func (e *Execution) Holds(worker string, attempt int) error {
	if e.Status != StatusRunning || e.WorkerID != worker || e.Attempts != attempt {
		return fmt.Errorf("execution %s: attempt %d of worker %s (now %s, attempt %d of %s): %w",
			e.ID, attempt, worker, e.Status, e.Attempts, e.WorkerID, ErrStaleAttempt)
	}
	return nil
}

// Requeue hands a running e back to the queue for another attempt no
// earlier than retryAt (running → pending), with why as its error until
// then. The caller counted the failure (RetryPolicy.Next) or, for a worker
// that stops, counts none.
func (e *Execution) Requeue(why string, retryAt time.Time) error {
	if err := e.set(StatusPending); err != nil {
		return err
	}
	e.Error = why
	e.RetryAt = &retryAt
	return nil
}

// Fail ends e failed at now, saying why.
func (e *Execution) Fail(why string, now time.Time) error {
	return e.end(StatusFailed, why, now)
}

// DeadLetter ends e failed at now because it used up its attempts: the
// error says so, and DeadAt marks it for the dead-letter list.
func (e *Execution) DeadLetter(why string, now time.Time) error {
	if err := e.end(StatusFailed, fmt.Sprintf("%s; no attempts left after %d (dead letter)", why, e.Attempts), now); err != nil {
		return err
	}
	e.DeadAt = &now
	return nil
}

// Cancel ends e cancelled by its user at now. An ended e is
// ErrIllegalTransition.
func (e *Execution) Cancel(now time.Time) error {
	return e.end(StatusCancelled, "cancelled by user", now)
}

// CancelledDuring reports whether e was cancelled by its user while the
// given attempt of worker ran, so that the run's logs may still be kept.
func (e *Execution) CancelledDuring(worker string, attempt int) bool {
	return e.Status == StatusCancelled && e.WorkerID == worker && e.Attempts == attempt
}

// SigkillExit is the exit code of a process killed by SIGKILL.
const SigkillExit = 137

// Outcome is what a run's result means for its execution.
type Outcome struct {
	Status Status
	Error  string
	Output string
	// Retryable marks a failure of the function itself (failed, timeout),
	// which the function's max_retries may retry.
	Retryable bool
}

// OutcomeOf maps the result of a run of fn to a status, error and output
// (contract §4): exit 0 → complete; otherwise failed with the exit code and
// the last line of stderr; OOM, output over the limit → failed saying so;
// the function's timeout → timeout; a cancel → cancelled.
func OutcomeOf(r RunResult, fn *Function) Outcome {
	switch {
	case r.Cancelled:
		return Outcome{Status: StatusCancelled, Error: "cancelled by user"}
	case r.TimedOut:
		return Outcome{Status: StatusTimeout, Error: fmt.Sprintf("timed out after %d s; container killed", fn.Timeout), Retryable: true}
	case r.OOMKilled:
		return Outcome{Status: StatusFailed, Error: fmt.Sprintf("out of memory: the function exceeded its %d MB memory limit", fn.MemoryMB), Retryable: true}
	case r.StdoutOverflow:
		return Outcome{Status: StatusFailed, Error: fmt.Sprintf("output exceeds the %d byte limit", MaxOutputBytes), Retryable: true}
	case r.ExitCode == SigkillExit:
		// The daemon may miss an OOM kill that ends the container at once
		// (Docker 20.10); nothing but the kernel kills a function otherwise.
		return Outcome{Status: StatusFailed, Output: string(r.Stdout), Retryable: true,
			Error: fmt.Sprintf("exit code %d: killed (SIGKILL), most likely out of memory: the limit is %d MB", r.ExitCode, fn.MemoryMB)}
	case r.ExitCode != 0:
		msg := fmt.Sprintf("exit code %d", r.ExitCode)
		if line := lastLine(r.Stderr); line != "" {
			msg += ": " + line
		}
		return Outcome{Status: StatusFailed, Error: msg, Output: string(r.Stdout), Retryable: true}
	default:
		return Outcome{Status: StatusComplete, Output: string(r.Stdout)}
	}
}

// Finish ends a running e with its run's outcome at now; the run's logs
// and start-up time are kept.
func (e *Execution) Finish(o Outcome, r RunResult, now time.Time) error {
	if err := e.end(o.Status, o.Error, now); err != nil {
		return err
	}
	e.Output = o.Output
	e.KeepRunDetails(r)
	return nil
}

// KeepRunDetails records what a run produced besides its outcome: its logs
// and start-up time (also on an execution cancelled while it ran).
func (e *Execution) KeepRunDetails(r RunResult) {
	e.Logs, e.LogsTruncated = string(r.Stderr), r.StderrTruncated
	e.StartupDuration = r.StartupDuration.Seconds()
	e.ColdStart = r.ColdStart
	e.MaxMemoryBytes, e.CPUSeconds = r.MaxMemoryBytes, r.CPUSeconds
}

// lastLine returns the last non-empty line of b, at most 512 bytes.
func lastLine(b []byte) string {
	end := len(b)
	for end > 0 && (b[end-1] == '\n' || b[end-1] == '\r' || b[end-1] == '\t' || b[end-1] == ' ') {
		end--
	}
	start := end
	for start > 0 && b[start-1] != '\n' {
		start--
	}
	if end-start > 512 {
		start = end - 512
	}
	line := b[start:end]
	for len(line) > 0 && (line[0] == ' ' || line[0] == '\t' || line[0] == '\r') {
		line = line[1:]
	}
	return string(line)
}
