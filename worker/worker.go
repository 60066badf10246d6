// Package worker runs executions: it takes jobs from the queue, claims each
// execution through the lifecycle (a revision-checked update), holds a lease
// on it that it renews while the run lasts, runs it through a domain.Runtime
// (a warm container of the function, or a fresh one), records the result and
// announces it. A worker never runs an execution that already ended or that
// another live attempt holds, and only the current attempt may write the
// result (the fence): whatever the queue redelivers, an execution runs once
// at a time.
package worker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/retry"
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

// Leases is what the worker needs of the active-executions index.
type Leases interface {
	Put(ctx context.Context, l domain.Lease) (uint64, error)
	// Renew rewrites l at revision rev; a newer write is
	// domain.ErrStaleAttempt (the lease is lost).
	Renew(ctx context.Context, l domain.Lease, rev uint64) (uint64, error)
	Get(ctx context.Context, id string) (*domain.Lease, error)
}

// Reclaimer takes back executions of dead workers and completes the
// bookkeeping of ended ones (service.Sweeper fits).
type Reclaimer interface {
	TakeBack(ctx context.Context, e *domain.Execution, l *domain.Lease, why string) (bool, error)
	Finalize(ctx context.Context, e *domain.Execution) error
}

// Reaper removes every container of an execution, so that a new attempt
// never runs beside an old one (the docker Runtime fits).
type Reaper interface {
	RemoveExecution(ctx context.Context, executionID string) (int, error)
}

// Options tune a Worker. Zero values take the defaults.
type Options struct {
	ID            string
	MaxConcurrent int
	// Policy is the retry policy (MAX_RETRIES, RETRY_DELAY).
	Policy domain.RetryPolicy
	// KeepAlive is how often a long run tells the queue it is in progress
	// (well below the queue's 1 min ack wait).
	KeepAlive time.Duration
	// LeaseRenew is how often the lease is renewed (domain.LeaseRenew).
	LeaseRenew time.Duration
	// MemoryMB is the worker's memory budget (WORKER_MEMORY_MB): the
	// memory_mb of the executions it runs at once stays within it. 0: none.
	MemoryMB int
}

func (o *Options) defaults() {
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 10
	}
	if o.Policy.MaxAttempts <= 0 {
		o.Policy = domain.DefaultRetryPolicy
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = 20 * time.Second
	}
	if o.LeaseRenew <= 0 {
		o.LeaseRenew = domain.LeaseRenew
	}
}

// Deps are the ports a Worker uses.
type Deps struct {
	Functions Functions
	Execs     Executions
	Leases    Leases
	Runtime   domain.Runtime
	Reaper    Reaper
	Reclaimer Reclaimer
	Results   domain.ResultPublisher
	// Tokens issues the FAAS_TOKEN of executions of functions with
	// network "internal"; nil: no token (the runtime refuses them).
	Tokens TokenIssuer
}

// TokenIssuer issues execution tokens (auth.ExecutionTokens).
type TokenIssuer interface {
	Issue(ownerID, functionID, executionID string, ttl time.Duration) (string, error)
}

// tokenGrace is how long an execution token outlives the function's
// timeout at most; the objects service refuses it anyway once the
// execution has ended.
const tokenGrace = time.Minute

// Worker handles deliveries of execution jobs.
type Worker struct {
	opts Options
	d    Deps
	log  *zap.Logger
	now  func() time.Time

	budget *Budget

	mu       sync.Mutex
	active   map[string]time.Time // execution id → start
	handling int                  // deliveries in Handle now
	onChange func()               // called when handling turns 0 or 1
}

// New returns a Worker; logger gets the worker_id field.
func New(opts Options, deps Deps, logger *zap.Logger) *Worker {
	opts.defaults()
	return &Worker{
		opts: opts, d: deps,
		log:    logger.With(zap.String("worker_id", opts.ID)),
		now:    func() time.Time { return time.Now().UTC() },
		active: map[string]time.Time{},
		budget: NewBudget(opts.MemoryMB),
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

// Handling is the number of deliveries being handled now (claimed, running
// or being settled): zero means the worker is idle.
func (w *Worker) Handling() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.handling
}

// OnIdleChange sets fn, called (outside the worker's lock) each time the
// worker turns from idle to busy or back; the sidecar beats at once then.
func (w *Worker) OnIdleChange(fn func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.onChange = fn
}

// begin and done count a delivery in Handle.
func (w *Worker) begin() {
	w.mu.Lock()
	w.handling++
	fn := w.onChange
	changed := w.handling == 1
	w.mu.Unlock()
	if changed && fn != nil {
		fn()
	}
}

func (w *Worker) done() {
	w.mu.Lock()
	w.handling--
	fn := w.onChange
	changed := w.handling == 0
	w.mu.Unlock()
	if changed && fn != nil {
		fn()
	}
}

// attempt is one claimed attempt of an execution by this worker.
type attempt struct {
	d     domain.Delivery
	job   domain.Job
	n     int
	fn    *domain.Function
	lease domain.Lease
	rev   uint64
	log   *zap.Logger
	input string
}

// bgTimeout bounds the writes that must happen even while the worker stops.
const bgTimeout = 30 * time.Second

// Handle processes one delivery to its end: it claims and runs the
// execution, or settles the delivery without running it when the execution
// ended, is held by a live attempt or waits for its retry time. ctx ending
// (the worker's drain time is over) kills the run and hands the execution
// back to the queue at once, without counting a failure.
func (w *Worker) Handle(ctx context.Context, d domain.Delivery) {
	w.begin()
	defer w.done()
	job := d.Job()
	log := w.log.With(zap.String("execution_id", job.ExecutionID), zap.String("function_id", job.FunctionID), zap.Int("delivery", d.Delivered()))
	if ctx.Err() != nil {
		// Stopping: another worker takes it at once.
		w.settle(log, "retry", d.Retry(0))
		return
	}

	e, err := w.d.Execs.Get(ctx, job.Owner, job.ExecutionID)
	switch {
	case errors.Is(err, domain.ErrExecutionNotFound):
		log.Info("execution no longer exists; dropping job")
		w.settle(log, "drop", d.Drop())
		return
	case err != nil:
		w.bounce(ctx, log, d, w.opts.Policy.Delay(1, rand.Float64()), fmt.Errorf("read execution: %w", err))
		return
	}
	if e.Status == domain.StatusRunning {
		if !w.takeBackIfDead(ctx, log, d, e) {
			return
		}
		if e, err = w.d.Execs.Get(ctx, job.Owner, job.ExecutionID); err != nil {
			w.bounce(ctx, log, d, w.opts.Policy.Delay(1, rand.Float64()), fmt.Errorf("read execution: %w", err))
			return
		}
	}
	if e.Status.Final() {
		log.Debug("execution already ended; skipping")
		w.finalize(log, e)
		w.settle(log, "ack", d.Ack())
		return
	}
	if e.Status != domain.StatusPending {
		w.bounce(ctx, log, d, domain.LeaseTTL, nil)
		return
	}
	if e.RetryAt != nil {
		if wait := e.RetryAt.Sub(w.now()); wait > 50*time.Millisecond {
			w.settle(log, "retry", d.Retry(wait))
			return
		}
	}

	fn, err := w.d.Functions.Get(ctx, job.Owner, job.FunctionID)
	if errors.Is(err, domain.ErrFunctionNotFound) {
		w.endPending(ctx, log, d, job, "function no longer exists")
		return
	}
	if err != nil {
		w.bounce(ctx, log, d, w.opts.Policy.Delay(1, rand.Float64()), fmt.Errorf("get function: %w", err))
		return
	}

	if !w.reserve(ctx, log, d, fn.MemoryMB) {
		w.settle(log, "retry", d.Retry(0)) // stopping: another worker takes it at once
		return
	}
	defer w.budget.Release(fn.MemoryMB)

	a, ok := w.claim(ctx, log, d, job, fn)
	if !ok {
		return
	}
	res, runErr := w.run(ctx, a)
	w.settleRun(ctx, a, res, runErr)
}

// reserve takes need MB of the memory budget, waiting while the runs of this
// worker leave no room: the delivery is kept alive meanwhile (InProgress), not
// handed back, since every hand-back counts as a delivery and a job out of
// deliveries becomes a dead letter. The wait ends as runs end (an oversized
// job runs alone, Budget), so it always ends; false: ctx ended first.
func (w *Worker) reserve(ctx context.Context, log *zap.Logger, d domain.Delivery, need int) bool {
	if w.budget.TryAcquire(need) {
		return true
	}
	log.Info("waiting for room in the worker's memory budget", zap.Int("memory_mb", need), zap.Int("budget_mb", w.budget.Total()))
	alive := time.NewTicker(w.opts.KeepAlive)
	defer alive.Stop()
	for {
		freed := w.budget.Freed()
		if w.budget.TryAcquire(need) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-alive.C:
			if err := d.InProgress(); err != nil {
				log.Warn("keeping a waiting job alive failed", zap.Error(err))
			}
		case <-freed:
		}
	}
}

// takeBackIfDead handles a delivery of a running execution: when its
// holder's lease is dead it takes the execution back (true: go on with it);
// while the holder lives, the delivery is set aside (false).
func (w *Worker) takeBackIfDead(ctx context.Context, log *zap.Logger, d domain.Delivery, e *domain.Execution) bool {
	l, err := w.d.Leases.Get(ctx, e.ID)
	if err != nil && !errors.Is(err, domain.ErrExecutionNotFound) {
		w.bounce(ctx, log, d, domain.LeaseTTL, fmt.Errorf("read lease: %w", err))
		return false
	}
	if l == nil {
		l = &domain.Lease{ExecutionID: e.ID, Owner: e.Owner, FunctionID: e.FunctionID, CreatedAt: e.CreatedAt}
	}
	sign := l.Written
	if !l.Held(e.WorkerID, e.Attempts) && e.StartTime != nil && e.StartTime.After(sign) {
		sign = *e.StartTime
	}
	if w.now().Sub(sign) <= domain.LeaseTTL {
		log.Info("execution held by a live attempt; delivery set aside",
			zap.String("holder", e.WorkerID), zap.Int("holder_attempt", e.Attempts))
		w.settle(log, "retry", d.Retry(domain.LeaseTTL))
		return false
	}
	if _, err := w.d.Reclaimer.TakeBack(ctx, e, l, "stopped responding"); err != nil {
		w.bounce(ctx, log, d, domain.LeaseTTL, fmt.Errorf("take back: %w", err))
		return false
	}
	return true
}

// claim starts an attempt: the record (pending → running), then the lease;
// on a retry, any container of an earlier attempt is removed first.
func (w *Worker) claim(ctx context.Context, log *zap.Logger, d domain.Delivery, job domain.Job, fn *domain.Function) (*attempt, bool) {
	n := 0
	e, err := w.d.Execs.Update(ctx, job.Owner, job.ExecutionID, func(x *domain.Execution) error {
		var err error
		n, err = x.Claim(w.opts.ID, w.now())
		return err
	})
	switch {
	case errors.Is(err, domain.ErrIllegalTransition):
		// Another delivery claimed it or it ended meanwhile.
		w.bounce(ctx, log, d, domain.LeaseTTL, nil)
		return nil, false
	case errors.Is(err, domain.ErrExecutionNotFound):
		w.settle(log, "drop", d.Drop())
		return nil, false
	case err != nil:
		w.bounce(ctx, log, d, w.opts.Policy.Delay(1, rand.Float64()), fmt.Errorf("claim: %w", err))
		return nil, false
	}
	a := &attempt{d: d, job: job, n: n, fn: fn, log: log.With(zap.Int("attempt", n)), input: e.Input}
	a.lease = domain.Lease{ExecutionID: e.ID, Owner: e.Owner, FunctionID: e.FunctionID, CreatedAt: e.CreatedAt,
		JobSeq: d.JobSeq(), WorkerID: w.opts.ID, Attempt: n, Delivery: d.Ref()}
	if a.rev, err = w.d.Leases.Put(ctx, a.lease); err != nil {
		w.failAttempt(ctx, a, domain.PlatformFailure, fmt.Sprintf("could not take the lease: %v", err), nil)
		return nil, false
	}
	if n > 1 && w.d.Reaper != nil {
		// The taker makes sure the earlier attempt's container is dead
		// before it starts its own.
		if removed, err := w.d.Reaper.RemoveExecution(ctx, e.ID); err != nil {
			w.failAttempt(ctx, a, domain.PlatformFailure, fmt.Sprintf("could not remove the previous attempt's container: %v", err), nil)
			return nil, false
		} else if removed > 0 {
			a.log.Warn("removed the container of an earlier attempt", zap.Int("containers", removed))
		}
	}
	return a, true
}

// errLeaseLost is why a run is stopped when its attempt no longer holds the
// execution.
var errLeaseLost = errors.New("lease lost")

// run executes the function, killing it when the record turns cancelled or
// another attempt takes over, renewing the lease and keeping the delivery
// alive while it lasts. lost reports a run stopped because the lease was
// lost.
func (w *Worker) run(ctx context.Context, a *attempt) (runResult, error) {
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	id := a.job.ExecutionID
	w.mu.Lock()
	w.active[id] = w.now()
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.active, id)
		w.mu.Unlock()
	}()

	updates, err := w.d.Execs.Watch(runCtx, a.job.Owner, id)
	if err != nil {
		return runResult{}, fmt.Errorf("watch for cancellation: %w", err)
	}
	// The watcher writes a.rev: it must be done before the caller reads it.
	var watching sync.WaitGroup
	watching.Go(func() { w.watch(runCtx, cancel, a, updates) })
	defer func() { cancel(nil); watching.Wait() }()

	env := make(map[string]string, len(a.fn.Env)+3)
	for k, v := range a.fn.Env {
		env[k] = v
	}
	env["FAAS_EXECUTION_ID"] = id
	env["FAAS_FUNCTION_ID"] = a.fn.ID
	env["FAAS_ATTEMPT"] = fmt.Sprint(a.n)
	if a.fn.Network == domain.NetworkInternal && w.d.Tokens != nil {
		tok, err := w.d.Tokens.Issue(a.fn.Owner, a.fn.ID, id, time.Duration(a.fn.Timeout)*time.Second+tokenGrace)
		if err != nil {
			return runResult{}, fmt.Errorf("issue the execution token: %w", err)
		}
		env["FAAS_API_URL"], env["FAAS_TOKEN"] = domain.InternalAPIURL, tok
	}
	spec := domain.RunSpec{
		ExecutionID: id, FunctionID: a.fn.ID, WorkerID: w.opts.ID,
		Owner: a.fn.Owner, Version: a.fn.UpdatedAt.UTC().Format(time.RFC3339Nano), Warm: a.fn.Warm,
		Image: a.fn.ImageURL, Env: env, Input: []byte(a.input),
		MemoryMB: a.fn.MemoryMB, CPUs: a.fn.CPUs, Network: a.fn.Network,
		Timeout: time.Duration(a.fn.Timeout) * time.Second,
	}
	a.log.Info("execution started", zap.String("image", a.fn.ImageURL), zap.Bool("warm_allowed", a.fn.Warm))
	res, err := w.d.Runtime.Run(runCtx, spec)
	lost := errors.Is(context.Cause(runCtx), errLeaseLost)
	return runResult{RunResult: res, lost: lost}, err
}

// runResult is a run's result and whether the lease was lost meanwhile.
type runResult struct {
	domain.RunResult
	lost bool
}

// watch follows the run: it renews the lease, keeps the delivery alive, and
// stops the run (cancel) when the user cancels, the record is deleted, or
// the attempt loses its hold (errLeaseLost).
func (w *Worker) watch(ctx context.Context, cancel context.CancelCauseFunc, a *attempt, updates <-chan *domain.Execution) {
	keepAlive := time.NewTicker(w.opts.KeepAlive)
	defer keepAlive.Stop()
	renew := time.NewTicker(w.opts.LeaseRenew)
	defer renew.Stop()
	lastRenewal := w.now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-keepAlive.C:
			if err := a.d.InProgress(); err != nil {
				a.log.Warn("in-progress ack failed", zap.Error(err))
			}
		case <-renew.C:
			rctx, rcancel := context.WithTimeout(ctx, w.opts.LeaseRenew)
			rev, err := w.d.Leases.Renew(rctx, a.lease, a.rev)
			rcancel()
			switch {
			case err == nil:
				a.rev, lastRenewal = rev, w.now()
			case errors.Is(err, domain.ErrStaleAttempt):
				a.log.Warn("lease lost (the execution was taken back); killing the run")
				cancel(errLeaseLost)
				return
			case w.now().Sub(lastRenewal) > domain.LeaseTTL-w.opts.LeaseRenew:
				// Others may take the execution back any moment now: stop
				// before two runs could overlap.
				a.log.Error("lease not renewed in time; killing the run", zap.Error(err))
				cancel(errLeaseLost)
				return
			default:
				a.log.Warn("renewing the lease failed", zap.Error(err))
			}
		case cur, ok := <-updates:
			if !ok {
				// The record is gone (its user was deleted): nobody
				// wants the result, so the run stops.
				if ctx.Err() == nil {
					if _, err := w.d.Execs.Get(ctx, a.job.Owner, a.job.ExecutionID); errors.Is(err, domain.ErrExecutionNotFound) {
						a.log.Info("execution deleted; killing its container")
						cancel(nil)
					}
				}
				return
			}
			if cur.CancelledDuring(w.opts.ID, a.n) {
				a.log.Info("execution cancelled; killing its container")
				cancel(nil)
				return
			}
			if cur.Holds(w.opts.ID, a.n) != nil {
				a.log.Warn("another attempt holds the execution; killing the run")
				cancel(errLeaseLost)
				return
			}
		}
	}
}

// settleRun records what the run produced and settles the delivery.
func (w *Worker) settleRun(ctx context.Context, a *attempt, res runResult, runErr error) {
	switch {
	case res.lost:
		w.settleStale(a)
		return
	case runErr != nil:
		// An absent image or a function the runtime cannot run as set up
		// fails at once: a retry would meet the same answer.
		if errors.Is(runErr, domain.ErrImageNotFound) || errors.Is(runErr, domain.ErrInvalidInput) {
			why := publicText(runErr, fmt.Sprintf("image %q cannot be run", a.fn.ImageURL))
			w.end(ctx, a, func(x *domain.Execution) error { return x.Fail(why, w.now()) })
			return
		}
		if ctx.Err() != nil {
			w.release(a)
			return
		}
		w.failAttempt(ctx, a, domain.PlatformFailure, fmt.Sprintf("run: %v", runErr), nil)
		return
	case res.Cancelled && ctx.Err() != nil:
		w.release(a)
		return
	}
	o := domain.OutcomeOf(res.RunResult, a.fn)
	if o.Retryable && a.fn.MaxRetries > 0 {
		w.failAttempt(ctx, a, domain.FunctionFailure, o.Error, &res.RunResult)
		return
	}
	w.end(ctx, a, func(x *domain.Execution) error {
		if x.CancelledDuring(w.opts.ID, a.n) {
			x.KeepRunDetails(res.RunResult)
			return nil
		}
		if err := x.Holds(w.opts.ID, a.n); err != nil {
			return err
		}
		return x.Finish(o, res.RunResult, w.now())
	})
}

// failAttempt counts a failed attempt: with attempts left the execution goes
// back to pending and the job returns after the backoff; otherwise it ends
// failed (a dead letter when it used up retries it was allowed). r is the
// run's result for a function failure (its logs and output are kept).
func (w *Worker) failAttempt(ctx context.Context, a *attempt, f domain.Failure, why string, r *domain.RunResult) {
	var again bool
	var delay time.Duration
	maxRetries := a.fn.MaxRetries
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bgTimeout)
	defer cancel()
	ended, err := w.record(wctx, a, func(x *domain.Execution) error {
		if err := x.Holds(w.opts.ID, a.n); err != nil {
			return err
		}
		again, delay = w.opts.Policy.Next(x, maxRetries, f, rand.Float64())
		if r != nil {
			x.KeepRunDetails(*r)
			x.Output = string(r.Stdout)
		}
		switch {
		case again:
			return x.Requeue(fmt.Sprintf("attempt %d failed: %s; retrying", a.n, why), w.now().Add(delay))
		case domain.Exhausted(maxRetries, f):
			if f == domain.PlatformFailure {
				why = "the platform could not run the execution: " + why
			}
			return x.DeadLetter(why, w.now())
		default:
			return x.Fail(why, w.now())
		}
	})
	if err != nil {
		w.recordFailed(a, err)
		return
	}
	if again {
		a.log.Warn("attempt failed; retrying", zap.String("cause", why), zap.Duration("delay", delay))
		w.handBack(wctx, a, delay)
		return
	}
	w.ended(wctx, a, ended)
}

// resultRetry is how a result write is retried through a NATS outage (a
// restart, a leader election), within bgTimeout.
var resultRetry = retry.Policy{Tries: 12, Initial: 200 * time.Millisecond, Max: 4 * time.Second}

// record applies mutate to the execution, retrying what is not a refusal
// by the lifecycle (a stale attempt, an ended or deleted execution), so
// that a short NATS outage does not lose a result.
func (w *Worker) record(ctx context.Context, a *attempt, mutate func(*domain.Execution) error) (*domain.Execution, error) {
	var ended *domain.Execution
	err := retry.Do(ctx, resultRetry, func() error {
		var err error
		ended, err = w.d.Execs.Update(ctx, a.job.Owner, a.job.ExecutionID, mutate)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, domain.ErrStaleAttempt), errors.Is(err, domain.ErrIllegalTransition), errors.Is(err, domain.ErrExecutionNotFound):
			return retry.Permanent(err)
		}
		a.log.Warn("recording the result failed; trying again", zap.Error(err))
		return err
	})
	return ended, err
}

// end writes an end state through mutate, announces it and acks.
func (w *Worker) end(ctx context.Context, a *attempt, mutate func(*domain.Execution) error) {
	// The result must be recorded even if the worker is stopping.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bgTimeout)
	defer cancel()
	ended, err := w.record(wctx, a, mutate)
	if err != nil {
		w.recordFailed(a, err)
		return
	}
	w.ended(wctx, a, ended)
}

// ended announces an ended execution, finalizes it and acks the delivery.
func (w *Worker) ended(ctx context.Context, a *attempt, e *domain.Execution) {
	a.log.Info("execution ended", zap.String("status", string(e.Status)), zap.Float64("duration", e.Duration),
		zap.Float64("queue_duration", e.QueueDuration), zap.Float64("startup_duration", e.StartupDuration), zap.Bool("cold_start", e.ColdStart), zap.Bool("dead_letter", e.DeadAt != nil),
		zap.Int64("max_memory_bytes", e.MaxMemoryBytes), zap.Float64("cpu_seconds", e.CPUSeconds))
	if err := w.d.Results.PublishResult(ctx, e); err != nil {
		a.log.Warn("publishing the result failed (the record is saved)", zap.Error(err))
	}
	w.finalize(a.log, e)
	w.settle(a.log, "ack", a.d.Ack())
}

// recordFailed handles a result write that did not happen.
func (w *Worker) recordFailed(a *attempt, err error) {
	switch {
	case errors.Is(err, domain.ErrStaleAttempt), errors.Is(err, domain.ErrIllegalTransition):
		a.log.Info("the attempt no longer holds the execution (cancelled, taken back or ended); result discarded")
		w.settleStale(a)
	case errors.Is(err, domain.ErrExecutionNotFound):
		a.log.Info("execution deleted; result discarded")
		w.settle(a.log, "drop", a.d.Drop())
	default:
		a.log.Error("recording the result failed; the lease will lapse and the execution be taken back", zap.Error(err))
		// Not settling: the job returns after the ack wait, or sooner
		// through the sweeper once the lease is dead.
	}
}

// settleStale settles the delivery of an attempt that lost its hold: an
// ended execution's job is done; a requeued one's job must come back at
// its retry time; while another attempt runs, the delivery is theirs too
// (one message), so it is left alone.
func (w *Worker) settleStale(a *attempt) {
	ctx, cancel := context.WithTimeout(context.Background(), bgTimeout)
	defer cancel()
	e, err := w.d.Execs.Get(ctx, a.job.Owner, a.job.ExecutionID)
	switch {
	case errors.Is(err, domain.ErrExecutionNotFound):
		w.settle(a.log, "drop", a.d.Drop())
	case err != nil:
		a.log.Warn("reading the execution after losing it failed", zap.Error(err))
	case e.Status.Final():
		w.finalize(a.log, e)
		w.settle(a.log, "ack", a.d.Ack())
	case e.Status == domain.StatusPending:
		wait := time.Duration(0)
		if e.RetryAt != nil {
			wait = max(0, e.RetryAt.Sub(w.now()))
		}
		w.settle(a.log, "retry", a.d.Retry(wait))
	}
}

// release hands an execution interrupted by the worker's own stop back to
// the queue at once, for another worker, without counting a failure.
func (w *Worker) release(a *attempt) {
	ctx, cancel := context.WithTimeout(context.Background(), bgTimeout)
	defer cancel()
	a.log.Warn("worker stopping; execution handed back to the queue")
	_, err := w.d.Execs.Update(ctx, a.job.Owner, a.job.ExecutionID, func(x *domain.Execution) error {
		if err := x.Holds(w.opts.ID, a.n); err != nil {
			return err
		}
		return x.Requeue(fmt.Sprintf("worker %s stopped during attempt %d; handed back", w.opts.ID, a.n), w.now())
	})
	if err != nil {
		w.recordFailed(a, err)
		return
	}
	w.handBack(ctx, a, 0)
}

// handBack clears the lease of a requeued execution and asks for the job
// again after delay.
func (w *Worker) handBack(ctx context.Context, a *attempt, delay time.Duration) {
	l := a.lease
	l.WorkerID, l.Attempt, l.Delivery = "", 0, ""
	// Only if the lease is still ours: the next attempt may hold it already.
	if _, err := w.d.Leases.Renew(ctx, l, a.rev); err != nil && !errors.Is(err, domain.ErrStaleAttempt) {
		a.log.Warn("clearing the lease failed (the sweeper will)", zap.Error(err))
	}
	w.settle(a.log, "retry", a.d.Retry(delay))
}

// endPending ends a pending execution that cannot run, e.g. its function
// is gone.
func (w *Worker) endPending(ctx context.Context, log *zap.Logger, d domain.Delivery, job domain.Job, why string) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bgTimeout)
	defer cancel()
	e, err := w.d.Execs.Update(wctx, job.Owner, job.ExecutionID, func(x *domain.Execution) error { return x.Fail(why, w.now()) })
	if err != nil {
		if errors.Is(err, domain.ErrIllegalTransition) {
			w.bounce(ctx, log, d, domain.LeaseTTL, nil)
			return
		}
		w.bounce(ctx, log, d, w.opts.Policy.Delay(1, rand.Float64()), err)
		return
	}
	a := &attempt{d: d, job: job, log: log}
	w.ended(wctx, a, e)
}

// bounce asks for the job again after delay without starting anything;
// cause, when set, is a failure worth a log line.
func (w *Worker) bounce(ctx context.Context, log *zap.Logger, d domain.Delivery, delay time.Duration, cause error) {
	if cause != nil && ctx.Err() == nil {
		log.Warn("job set aside", zap.Error(cause), zap.Duration("delay", delay))
	}
	if ctx.Err() != nil {
		delay = 0 // stopping: another worker may take it at once
	}
	w.settle(log, "retry", d.Retry(delay))
}

// finalize completes an ended execution's bookkeeping (dead-letter list,
// active index); a failure is left to the sweeper.
func (w *Worker) finalize(log *zap.Logger, e *domain.Execution) {
	if w.d.Reclaimer == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), bgTimeout)
	defer cancel()
	if err := w.d.Reclaimer.Finalize(ctx, e); err != nil {
		log.Warn("finalizing the execution failed (the sweeper will)", zap.Error(err))
	}
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
