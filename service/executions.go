package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/faasplatform/faas/domain"
)

// FunctionGetter finds an owner's function (domain.FunctionStore fits).
type FunctionGetter interface {
	Get(ctx context.Context, owner, id string) (*domain.Function, error)
}

// Leases is what the services need of the active-executions index (the
// natsstore LeaseStore fits): one entry per execution not yet ended.
type Leases interface {
	Put(ctx context.Context, l domain.Lease) (uint64, error)
	// Renew writes l if its entry is still at revision rev; otherwise it
	// is domain.ErrStaleAttempt (someone else wrote since).
	Renew(ctx context.Context, l domain.Lease, rev uint64) (uint64, error)
	Get(ctx context.Context, id string) (*domain.Lease, error)
	List(ctx context.Context) ([]*domain.Lease, error)
	Delete(ctx context.Context, id string) error
}

// Idempotency binds Idempotency-Keys to executions (natsstore fits).
type Idempotency interface {
	Claim(ctx context.Context, owner, key string, r domain.IdempotencyRecord) (domain.IdempotencyRecord, bool, error)
}

// Executions starts, follows, lists and cancels executions. It writes the
// active-index entry and the pending record, then queues a job; the workers
// do the rest, and the Sweeper finishes what a crash left half done.
type Executions struct {
	functions FunctionGetter
	store     domain.ExecutionStore
	queue     domain.JobQueue
	leases    Leases
	// Now is the clock; nil means time.Now.
	Now Clock
	// Results, when set, announces the executions that end here
	// (cancelled ones) on executions.results.
	Results domain.ResultPublisher
	// Idempotency, when set, makes Idempotency-Key work.
	Idempotency Idempotency
	// DeadLetters, when set, serves the dead-letter routes.
	DeadLetters DeadLetterStore
	// AfterRecord, when set, runs between writing the pending record and
	// publishing its job; an error it returns stops Enqueue there, as if
	// the process died (fault injection for tests of the Sweeper).
	AfterRecord func(*domain.Execution) error
	// Log receives what cannot be returned; nil means no logging.
	Log *zap.Logger
}

// NewExecutions returns the execution service.
func NewExecutions(functions FunctionGetter, store domain.ExecutionStore, queue domain.JobQueue, leases Leases) *Executions {
	return &Executions{functions: functions, store: store, queue: queue, leases: leases, Log: zap.NewNop()}
}

// queueFailure is what a caller and the record say when the job could not be
// queued.
const queueFailure = "could not queue the execution"

// Enqueue records a pending execution of owner's function functionID with
// input and queues its job. An unknown function is
// domain.ErrFunctionNotFound; input over domain.MaxInputBytes is
// domain.ErrPayloadTooLarge. When the queue refuses the job, the record is
// marked failed (so it does not stay pending forever) and the error wraps
// domain.ErrUnavailable.
func (s *Executions) Enqueue(ctx context.Context, owner, functionID string, input []byte) (*domain.Execution, error) {
	e, _, err := s.EnqueueOnce(ctx, owner, functionID, input, "", "")
	return e, err
}

// EnqueueOnce is Enqueue with an Idempotency-Key (none when key is empty):
// the same key again within 24 h returns the execution it made the first
// time (replayed true) without running it again; the key with another
// function or input is domain.ErrConflict. redriveOf names the dead letter
// this execution redrives, if any.
func (s *Executions) EnqueueOnce(ctx context.Context, owner, functionID string, input []byte, key, redriveOf string) (*domain.Execution, bool, error) {
	if functionID == "" {
		return nil, false, domain.Invalid("function_id is required")
	}
	if _, err := s.functions.Get(ctx, owner, functionID); err != nil {
		return nil, false, fmt.Errorf("enqueue: function %s: %w", functionID, err)
	}
	if len(input) > domain.MaxInputBytes {
		return nil, false, domain.Errorf(domain.ErrPayloadTooLarge,
			"input is %d bytes, more than the %d KiB allowed: store larger data as an object and pass its name",
			len(input), domain.MaxInputBytes>>10)
	}
	id, err := newID()
	if err != nil {
		return nil, false, fmt.Errorf("enqueue: %w", err)
	}
	replayed := false
	if key != "" {
		if err := domain.ValidateIdempotencyKey(key); err != nil {
			return nil, false, err
		}
		if s.Idempotency == nil {
			return nil, false, fmt.Errorf("enqueue: idempotency keys: %w", domain.ErrUnavailable)
		}
		sum := sha256.Sum256(input)
		want := domain.IdempotencyRecord{ExecutionID: id, FunctionID: functionID, InputSHA256: hex.EncodeToString(sum[:])}
		got, won, err := s.Idempotency.Claim(ctx, owner, key, want)
		if err != nil {
			return nil, false, fmt.Errorf("enqueue: %w", err)
		}
		if !won {
			if got.FunctionID != want.FunctionID || got.InputSHA256 != want.InputSHA256 {
				return nil, false, domain.Errorf(domain.ErrConflict, "Idempotency-Key was used with another function_id or input")
			}
			e, err := s.store.Get(ctx, owner, got.ExecutionID)
			if err == nil {
				return e, true, nil
			}
			if !errors.Is(err, domain.ErrExecutionNotFound) {
				return nil, false, fmt.Errorf("enqueue: replay %s: %w", got.ExecutionID, err)
			}
			// The first request died before its record: make it now,
			// under the id the key names.
			id, replayed = got.ExecutionID, true
		}
	}
	e := domain.NewPending(id, owner, functionID, string(input), s.Now.now())
	e.RedriveOf = redriveOf
	lease := domain.Lease{ExecutionID: id, Owner: owner, FunctionID: functionID, CreatedAt: e.CreatedAt}
	// The index entry comes first: whatever happens after it, the Sweeper
	// finds the execution.
	rev, err := s.leases.Put(ctx, lease)
	if err != nil {
		return nil, false, fmt.Errorf("enqueue: %w", err)
	}
	if err := s.store.Create(ctx, e); err != nil {
		if replayed && errors.Is(err, domain.ErrConflict) {
			cur, gerr := s.store.Get(ctx, owner, id)
			if gerr != nil {
				return nil, false, fmt.Errorf("enqueue: replay %s: %w", id, gerr)
			}
			return cur, true, nil
		}
		return nil, false, fmt.Errorf("enqueue: create execution: %w", err)
	}
	if s.AfterRecord != nil {
		if err := s.AfterRecord(e); err != nil {
			return nil, false, fmt.Errorf("enqueue: %w", err)
		}
	}
	seq, qerr := s.queue.Enqueue(ctx, domain.Job{ExecutionID: id, FunctionID: functionID, Owner: owner}, id)
	if qerr != nil {
		// Mark the record even if the caller has gone: nothing else will
		// answer this caller.
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, merr := s.store.Update(mctx, owner, id, func(x *domain.Execution) error {
			return x.Fail(queueFailure, s.Now.now()) // refused once a worker got it after all
		})
		if merr == nil {
			if derr := s.leases.Delete(mctx, id); derr != nil {
				s.Log.Warn("removing a failed execution from the active index failed (the sweeper will)",
					zap.String("execution_id", id), zap.Error(derr))
			}
		}
		err := fmt.Errorf("enqueue execution %s: %w: %w",
			id, domain.Errorf(domain.ErrUnavailable, "%s, try again later", queueFailure), qerr)
		if merr != nil && !errors.Is(merr, domain.ErrIllegalTransition) {
			err = fmt.Errorf("%w (marking it failed: %v)", err, merr)
		}
		return nil, false, err
	}
	lease.JobSeq = seq
	// Only if nothing wrote since: a worker may already hold the lease.
	if _, err := s.leases.Renew(ctx, lease, rev); err != nil && !errors.Is(err, domain.ErrStaleAttempt) {
		// The Sweeper publishes again (deduplicated) without the sequence.
		s.Log.Warn("recording the job's sequence failed", zap.String("execution_id", id), zap.Error(err))
	}
	return e, replayed, nil
}

// Wait follows owner's execution id until it ends or max elapses, and
// returns its latest record; ended tells which. The caller's ctx ending
// first is an error.
func (s *Executions) Wait(ctx context.Context, owner, id string, max time.Duration) (*domain.Execution, bool, error) {
	wctx, cancel := context.WithTimeout(ctx, max)
	defer cancel()
	ch, err := s.store.Watch(wctx, owner, id)
	if err != nil {
		return nil, false, fmt.Errorf("wait for execution %s: %w", id, err)
	}
	for e := range ch {
		if e.Status.Final() {
			cancel()
			break
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("wait for execution %s: %w", id, err)
	}
	// Read the record once more: the watched value may predate the end, and
	// the single-execution shape (output included) comes from Get.
	e, err := s.store.Get(ctx, owner, id)
	if err != nil {
		return nil, false, fmt.Errorf("wait for execution %s: %w", id, err)
	}
	return e, e.Status.Final(), nil
}

// List returns one page of owner's executions matching f, newest first,
// without input, output and logs, and the cursor of the next page when
// older ones remain (see domain.ExecutionStore). A zero Limit means
// domain.DefaultListLimit; a Limit outside 1 to domain.MaxListLimit, an
// unknown status or a malformed cursor is domain.ErrInvalidInput. The order
// is the store's: sorting here would break the order across pages.
func (s *Executions) List(ctx context.Context, owner string, f domain.ExecutionFilter) (domain.ExecutionPage, error) {
	if f.Status != "" && !f.Status.Valid() {
		return domain.ExecutionPage{}, domain.Invalid("status must be one of pending, running, complete, failed, cancelled, timeout")
	}
	switch {
	case f.Limit == 0:
		f.Limit = domain.DefaultListLimit
	case f.Limit < 1 || f.Limit > domain.MaxListLimit:
		return domain.ExecutionPage{}, domain.Invalid("limit must be 1 to %d", domain.MaxListLimit)
	}
	page, err := s.store.List(ctx, owner, f)
	if err != nil {
		return domain.ExecutionPage{}, fmt.Errorf("list executions: %w", err)
	}
	if len(page.Executions) > f.Limit {
		page.Executions = page.Executions[:f.Limit]
	}
	for _, e := range page.Executions {
		e.Input, e.Output, e.Logs = "", "", ""
	}
	if page.Executions == nil {
		page.Executions = []*domain.Execution{}
	}
	return page, nil
}

// Get returns owner's execution id with its input and output.
func (s *Executions) Get(ctx context.Context, owner, id string) (*domain.Execution, error) {
	e, err := s.store.Get(ctx, owner, id)
	if err != nil {
		return nil, fmt.Errorf("get execution %s: %w", id, err)
	}
	return e, nil
}

// Logs returns the logs (the container's stderr) of owner's execution id and
// whether they were cut at domain.MaxLogBytes.
func (s *Executions) Logs(ctx context.Context, owner, id string) (logs string, truncated bool, err error) {
	e, err := s.Get(ctx, owner, id)
	if err != nil {
		return "", false, err
	}
	return e.Logs, e.LogsTruncated, nil
}

// Cancel ends owner's execution id as cancelled. A pending one is skipped by
// the worker that receives its job; a running one is killed by its worker,
// which watches the record. An ended one is domain.ErrConflict.
func (s *Executions) Cancel(ctx context.Context, owner, id string) (*domain.Execution, error) {
	wasPending := false
	e, err := s.store.Update(ctx, owner, id, func(x *domain.Execution) error {
		wasPending = x.Status == domain.StatusPending
		if err := x.Cancel(s.Now.now()); err != nil {
			return domain.Errorf(domain.ErrConflict, "execution already ended with status %s", x.Status)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cancel execution %s: %w", id, err)
	}
	if wasPending {
		// Nobody runs it: it leaves the active index here (a running one
		// leaves when its worker has killed the run).
		if derr := s.leases.Delete(ctx, id); derr != nil {
			s.Log.Warn("removing a cancelled execution from the active index failed (the sweeper will)",
				zap.String("execution_id", id), zap.Error(derr))
		}
	}
	// A pending execution ends here, so its end is announced here; a running
	// one is announced again by its worker, with the run's logs.
	if s.Results != nil {
		if perr := s.Results.PublishResult(ctx, e); perr != nil {
			s.Log.Warn("announcing a cancelled execution failed (the record is saved)",
				zap.String("execution_id", id), zap.String("function_id", e.FunctionID), zap.Error(perr))
		}
	}
	return e, nil
}
