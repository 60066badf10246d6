// Package worker runs executions: it takes jobs from the queue, claims each
// execution with a revision-checked update, runs it through a domain.Runtime
// (a fresh container today, a warm one later), records the result and
// announces it. A worker never runs an execution that already ended and never
// overwrites a final status, whatever the queue redelivers.
package worker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/faasplatform/faas/domain"
)

// Functions is what the worker needs of the function store.
type Functions interface {
	Get(ctx context.Context, owner, id string) (*domain.Function, error)
}

// Executions is what the worker needs of the execution store.
type Executions interface {
	Get(ctx context.Context, owner, id string) (*domain.Execution, error)
	Update(ctx context.Context, owner, id string, mutate func(*domain.Execution) error) (*domain.Execution, error)
	Watch(ctx context.Context, owner, id string) (<-chan *domain.Execution, error)
}

// Options tune a Worker. Zero values take the defaults.
type Options struct {
	ID            string
	MaxConcurrent int
	// MaxAttempts is the queue's delivery limit: a platform failure on the
	// last attempt ends the execution failed instead of asking for a retry.
	MaxAttempts int
	// RetryBase is the first retry delay; each attempt doubles it.
	RetryBase time.Duration
	// KeepAlive is how often a long run tells the queue it is in progress
	// (well below the queue's 1 min ack wait).
	KeepAlive time.Duration
}

func (o *Options) defaults() {
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 10
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.RetryBase <= 0 {
		o.RetryBase = 5 * time.Second
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = 20 * time.Second
	}
}

// Worker handles deliveries of execution jobs.
type Worker struct {
	opts      Options
	functions Functions
	execs     Executions
	runtime   domain.Runtime
	results   domain.ResultPublisher
	log       *zap.Logger
	now       func() time.Time

	mu     sync.Mutex
	active map[string]time.Time // execution id → start
}

// New returns a Worker; logger gets the worker_id field.
func New(opts Options, functions Functions, execs Executions, rt domain.Runtime, results domain.ResultPublisher, logger *zap.Logger) *Worker {
	opts.defaults()
	return &Worker{
		opts: opts, functions: functions, execs: execs, runtime: rt, results: results,
		log:    logger.With(zap.String("worker_id", opts.ID)),
		now:    func() time.Time { return time.Now().UTC() },
		active: map[string]time.Time{},
	}
}

// ID is the worker's id, also put on its containers' faas.worker_id label.
func (w *Worker) ID() string { return w.opts.ID }

// MaxConcurrent is how many executions the worker runs at once.
func (w *Worker) MaxConcurrent() int { return w.opts.MaxConcurrent }

// Active lists the executions running now, sorted by id.
func (w *Worker) Active() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := make([]string, 0, len(w.active))
	for id := range w.active {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// sigkillExit is the exit code of a process killed by SIGKILL.
const sigkillExit = 137

// errEnded aborts a claim or a result write on an execution already final.
var errEnded = errors.New("execution already ended")

// Handle processes one delivery to its end: it acks, drops or asks for a
// retry, always exactly once. ctx ending (the worker's drain time is over)
// kills the run and hands the execution back to the queue at once.
func (w *Worker) Handle(ctx context.Context, d domain.Delivery) {
	job := d.Job()
	log := w.log.With(zap.String("execution_id", job.ExecutionID), zap.String("function_id", job.FunctionID), zap.Int("attempt", d.Attempt()))

	claimed, err := w.claim(ctx, job, d.Attempt())
	switch {
	case errors.Is(err, errEnded):
		log.Debug("execution already ended; skipping")
		w.settle(log, "ack", d.Ack())
		return
	case errors.Is(err, domain.ErrExecutionNotFound):
		log.Info("execution no longer exists; dropping job")
		w.settle(log, "drop", d.Drop())
		return
	case err != nil:
		w.retryOrFail(ctx, log, d, job, fmt.Errorf("claim: %w", err))
		return
	}

	fn, err := w.functions.Get(ctx, job.Owner, job.FunctionID)
	if errors.Is(err, domain.ErrFunctionNotFound) {
		w.finish(ctx, log, d, job, func(e *domain.Execution) {
			e.Status, e.Error = domain.StatusFailed, "function no longer exists"
		})
		return
	}
	if err != nil {
		w.retryOrFail(ctx, log, d, job, fmt.Errorf("get function: %w", err))
		return
	}

	res, runErr := w.run(ctx, log, d, claimed, fn)
	if runErr != nil {
		// An absent image or a function the runtime cannot run as set up
		// fails at once: a retry would meet the same answer.
		if errors.Is(runErr, domain.ErrImageNotFound) || errors.Is(runErr, domain.ErrInvalidInput) {
			w.finish(ctx, log, d, job, func(e *domain.Execution) {
				e.Status, e.Error = domain.StatusFailed, publicText(runErr, fmt.Sprintf("image %q cannot be run", fn.ImageURL))
			})
			return
		}
		if ctx.Err() != nil {
			w.release(log, d, job)
			return
		}
		w.retryOrFail(ctx, log, d, job, fmt.Errorf("run: %w", runErr))
		return
	}
	if res.Cancelled && ctx.Err() != nil {
		w.release(log, d, job)
		return
	}
	w.finishRun(ctx, log, d, job, fn, res)
}

// keepRunDetails records what a run of this worker produced on an execution
// cancelled meanwhile: its logs and startup time, never its status.
func (w *Worker) keepRunDetails(e *domain.Execution, res domain.RunResult) bool {
	if e.Status != domain.StatusCancelled || e.WorkerID != w.opts.ID {
		return false
	}
	e.Logs, e.LogsTruncated = string(res.Stderr), res.StderrTruncated
	e.StartupDuration = seconds(res.StartupDuration)
	return true
}

// claim marks the execution running for this attempt, unless it has ended.
func (w *Worker) claim(ctx context.Context, job domain.Job, attempt int) (*domain.Execution, error) {
	return w.execs.Update(ctx, job.Owner, job.ExecutionID, func(e *domain.Execution) error {
		if e.Status.Final() {
			return errEnded
		}
		now := w.now()
		e.Status = domain.StatusRunning
		e.StartTime = &now
		e.Attempts = attempt
		e.WorkerID = w.opts.ID
		e.QueueDuration = seconds(now.Sub(e.CreatedAt))
		e.Error = ""
		return nil
	})
}

// run executes the function, killing it when the record turns cancelled and
// keeping the delivery alive while it lasts.
func (w *Worker) run(ctx context.Context, log *zap.Logger, d domain.Delivery, e *domain.Execution, fn *domain.Function) (domain.RunResult, error) {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	w.mu.Lock()
	w.active[e.ID] = w.now()
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.active, e.ID)
		w.mu.Unlock()
	}()

	updates, err := w.execs.Watch(runCtx, e.Owner, e.ID)
	if err != nil {
		return domain.RunResult{}, fmt.Errorf("watch for cancellation: %w", err)
	}
	go func() {
		keepAlive := time.NewTicker(w.opts.KeepAlive)
		defer keepAlive.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-keepAlive.C:
				if err := d.InProgress(); err != nil {
					log.Warn("in-progress ack failed", zap.Error(err))
				}
			case cur, ok := <-updates:
				if !ok {
					// The record is gone (its user was deleted): nobody
					// wants the result, so the run stops.
					if runCtx.Err() == nil {
						if _, err := w.execs.Get(runCtx, e.Owner, e.ID); errors.Is(err, domain.ErrExecutionNotFound) {
							log.Info("execution deleted; killing its container")
							cancel()
						}
					}
					return
				}
				if cur.Status == domain.StatusCancelled {
					log.Info("execution cancelled; killing its container")
					cancel()
					return
				}
			}
		}
	}()

	env := make(map[string]string, len(fn.Env)+2)
	for k, v := range fn.Env {
		env[k] = v
	}
	env["FAAS_EXECUTION_ID"] = e.ID
	env["FAAS_FUNCTION_ID"] = fn.ID
	spec := domain.RunSpec{
		ExecutionID: e.ID, FunctionID: fn.ID, WorkerID: w.opts.ID,
		Image: fn.ImageURL, Env: env, Input: []byte(e.Input),
		MemoryMB: fn.MemoryMB, CPUs: fn.CPUs, Network: fn.Network,
		Timeout: time.Duration(fn.Timeout) * time.Second,
	}
	log.Debug("running", zap.String("image", fn.ImageURL))
	return w.runtime.Run(runCtx, spec)
}

// applyResult turns what the run produced into the execution's end state.
func applyResult(e *domain.Execution, fn *domain.Function, r domain.RunResult) {
	e.Logs, e.LogsTruncated = string(r.Stderr), r.StderrTruncated
	e.StartupDuration = seconds(r.StartupDuration)
	switch {
	case r.Cancelled:
		e.Status, e.Error = domain.StatusCancelled, "cancelled by user"
	case r.TimedOut:
		e.Status, e.Error = domain.StatusTimeout, fmt.Sprintf("timed out after %d s; container killed", fn.Timeout)
	case r.OOMKilled:
		e.Status, e.Error = domain.StatusFailed, fmt.Sprintf("out of memory: the function exceeded its %d MB memory limit", fn.MemoryMB)
	case r.StdoutOverflow:
		e.Status, e.Error = domain.StatusFailed, fmt.Sprintf("output exceeds the %d byte limit", domain.MaxOutputBytes)
	case r.ExitCode == sigkillExit:
		// The daemon may miss an OOM kill that ends the container at once
		// (Docker 20.10); nothing but the kernel kills a function otherwise.
		e.Status, e.Output = domain.StatusFailed, string(r.Stdout)
		e.Error = fmt.Sprintf("exit code %d: killed (SIGKILL), most likely out of memory: the limit is %d MB", r.ExitCode, fn.MemoryMB)
	case r.ExitCode != 0:
		e.Status, e.Output = domain.StatusFailed, string(r.Stdout)
		e.Error = fmt.Sprintf("exit code %d", r.ExitCode)
		if line := lastLine(r.Stderr); line != "" {
			e.Error += ": " + line
		}
	default:
		e.Status, e.Output = domain.StatusComplete, string(r.Stdout)
	}
}

// finishRun records a run's result. On an execution cancelled while it ran,
// only the run's logs and startup time are kept.
func (w *Worker) finishRun(ctx context.Context, log *zap.Logger, d domain.Delivery, job domain.Job, fn *domain.Function, res domain.RunResult) {
	w.settleEnd(ctx, log, d, job, func(e *domain.Execution) error {
		if e.Status.Final() {
			if w.keepRunDetails(e, res) {
				return nil
			}
			return errEnded
		}
		applyResult(e, fn, res)
		w.stamp(e)
		return nil
	})
}

// finish writes the end state (unless the execution already ended, e.g.
// cancelled meanwhile), announces it and acks the delivery.
func (w *Worker) finish(ctx context.Context, log *zap.Logger, d domain.Delivery, job domain.Job, set func(*domain.Execution)) {
	w.settleEnd(ctx, log, d, job, func(e *domain.Execution) error {
		if e.Status.Final() {
			return errEnded
		}
		set(e)
		w.stamp(e)
		return nil
	})
}

// stamp sets the end time and the duration of an execution ending now.
func (w *Worker) stamp(e *domain.Execution) {
	end := w.now()
	e.EndTime = &end
	if e.StartTime != nil {
		e.Duration = seconds(end.Sub(*e.StartTime))
	}
}

// settleEnd applies mutate to the record, announces the result and acks.
func (w *Worker) settleEnd(ctx context.Context, log *zap.Logger, d domain.Delivery, job domain.Job, mutate func(*domain.Execution) error) {
	// The result must be recorded even if the worker is stopping.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	ended, err := w.execs.Update(wctx, job.Owner, job.ExecutionID, mutate)
	switch {
	case errors.Is(err, errEnded), errors.Is(err, domain.ErrExecutionNotFound):
		log.Info("execution ended elsewhere (cancelled or deleted); result discarded")
		w.settle(log, "ack", d.Ack())
		return
	case err != nil:
		log.Error("recording the result failed; asking for redelivery", zap.Error(err))
		w.settle(log, "retry", d.Retry(w.backoff(d.Attempt())))
		return
	}
	log.Info("execution ended", zap.String("status", string(ended.Status)), zap.Float64("duration", ended.Duration))
	if err := w.results.PublishResult(wctx, ended); err != nil {
		log.Warn("publishing the result failed (the record is saved)", zap.Error(err))
	}
	w.settle(log, "ack", d.Ack())
}

// retryOrFail handles a platform failure: retry with exponential backoff, or
// on the last attempt end the execution failed.
func (w *Worker) retryOrFail(ctx context.Context, log *zap.Logger, d domain.Delivery, job domain.Job, cause error) {
	if ctx.Err() != nil {
		// The failure is the worker stopping, not the platform failing.
		w.release(log, d, job)
		return
	}
	if d.Attempt() < w.opts.MaxAttempts {
		delay := w.backoff(d.Attempt())
		log.Warn("platform failure; retrying", zap.Error(cause), zap.Duration("delay", delay))
		w.requeue(log, d, job, delay)
		return
	}
	log.Error("platform failure on the last attempt; execution failed", zap.Error(cause))
	w.finish(ctx, log, d, job, func(e *domain.Execution) {
		e.Status = domain.StatusFailed
		e.Error = fmt.Sprintf("the platform could not run the execution after %d attempts", d.Attempt())
	})
}

// release hands an execution interrupted by the worker's shutdown back to
// the queue at once, for another worker.
func (w *Worker) release(log *zap.Logger, d domain.Delivery, job domain.Job) {
	log.Warn("worker stopping; execution handed back to the queue")
	w.requeue(log, d, job, 0)
}

// requeue sets the execution pending again (unless it ended meanwhile) and
// asks for redelivery after delay.
func (w *Worker) requeue(log *zap.Logger, d domain.Delivery, job domain.Job, delay time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := w.execs.Update(ctx, job.Owner, job.ExecutionID, func(e *domain.Execution) error {
		if e.Status.Final() {
			return errEnded
		}
		e.Status = domain.StatusPending
		return nil
	}); err != nil && !errors.Is(err, errEnded) {
		log.Warn("resetting the execution to pending failed", zap.Error(err))
	}
	w.settle(log, "retry", d.Retry(delay))
}

func (w *Worker) backoff(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	return w.opts.RetryBase << (attempt - 1)
}

func (w *Worker) settle(log *zap.Logger, what string, err error) {
	if err != nil {
		log.Warn("settling the delivery failed", zap.String("action", what), zap.Error(err))
	}
}

// publicText returns err's PublicError message, or fallback.
func publicText(err error, fallback string) string {
	var pe *domain.PublicError
	if errors.As(err, &pe) {
		return pe.Message
	}
	return fallback
}

// lastLine returns the last non-empty line of b, at most 512 bytes.
func lastLine(b []byte) string {
	s := strings.TrimRight(string(b), "\r\n\t ")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 512 {
		s = s[len(s)-512:]
	}
	return strings.TrimSpace(s)
}

func seconds(d time.Duration) float64 { return d.Seconds() }

// EndDeadJob ends the execution of a job the queue gave up on (it used up
// its deliveries without being settled, e.g. the workers running it died):
// failed, saying so, unless it already ended. The result is announced.
func (w *Worker) EndDeadJob(ctx context.Context, job domain.Job, deliveries int) {
	log := w.log.With(zap.String("execution_id", job.ExecutionID), zap.String("function_id", job.FunctionID))
	ended, err := w.execs.Update(ctx, job.Owner, job.ExecutionID, func(e *domain.Execution) error {
		if e.Status.Final() {
			return errEnded
		}
		e.Status = domain.StatusFailed
		e.Error = fmt.Sprintf("the platform gave up after %d deliveries: no worker finished the execution", deliveries)
		w.stamp(e)
		return nil
	})
	switch {
	case errors.Is(err, errEnded), errors.Is(err, domain.ErrExecutionNotFound):
		return
	case err != nil:
		log.Error("ending a dead execution failed", zap.Error(err))
		return
	}
	log.Warn("execution failed: the queue gave up on it", zap.Int("deliveries", deliveries))
	if err := w.results.PublishResult(ctx, ended); err != nil {
		log.Warn("publishing the result failed (the record is saved)", zap.Error(err))
	}
}
