package service

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/faasplatform/faas/domain"
)

// FunctionGetter finds an owner's function (domain.FunctionStore fits).
type FunctionGetter interface {
	Get(ctx context.Context, owner, id string) (*domain.Function, error)
}

// Executions starts, follows, lists and cancels executions. It writes the
// pending record and queues a job; the workers do the rest.
type Executions struct {
	functions FunctionGetter
	store     domain.ExecutionStore
	queue     domain.JobQueue
	// Now is the clock; nil means time.Now.
	Now Clock
	// Results, when set, announces the executions that end here
	// (cancelled ones) on executions.results.
	Results domain.ResultPublisher
	// Log receives what cannot be returned; nil means no logging.
	Log *zap.Logger
}

// NewExecutions returns the execution service.
func NewExecutions(functions FunctionGetter, store domain.ExecutionStore, queue domain.JobQueue) *Executions {
	return &Executions{functions: functions, store: store, queue: queue, Log: zap.NewNop()}
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
	if functionID == "" {
		return nil, domain.Invalid("function_id is required")
	}
	if _, err := s.functions.Get(ctx, owner, functionID); err != nil {
		return nil, fmt.Errorf("enqueue: function %s: %w", functionID, err)
	}
	if len(input) > domain.MaxInputBytes {
		return nil, domain.Errorf(domain.ErrPayloadTooLarge,
			"input is %d bytes, more than the %d KiB allowed: store larger data as an object and pass its name",
			len(input), domain.MaxInputBytes>>10)
	}
	id, err := newID()
	if err != nil {
		return nil, fmt.Errorf("enqueue: %w", err)
	}
	e := &domain.Execution{
		ID:         id,
		FunctionID: functionID,
		Owner:      owner,
		Status:     domain.StatusPending,
		Input:      string(input),
		CreatedAt:  s.Now.now(),
	}
	if err := s.store.Create(ctx, e); err != nil {
		return nil, fmt.Errorf("enqueue: create execution: %w", err)
	}
	job := domain.Job{ExecutionID: id, FunctionID: functionID, Owner: owner}
	if qerr := s.queue.Enqueue(ctx, job); qerr != nil {
		// Mark the record even if the caller has gone: nothing else will.
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, merr := s.store.Update(mctx, owner, id, func(x *domain.Execution) error {
			if x.Status != domain.StatusPending {
				return nil // a worker got it after all
			}
			end := s.Now.now()
			x.Status, x.Error, x.EndTime = domain.StatusFailed, queueFailure, &end
			return nil
		})
		err := fmt.Errorf("enqueue execution %s: %w: %w",
			id, domain.Errorf(domain.ErrUnavailable, "%s, try again later", queueFailure), qerr)
		if merr != nil {
			err = fmt.Errorf("%w (marking it failed: %v)", err, merr)
		}
		return nil, err
	}
	return e, nil
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
	e, err := s.store.Update(ctx, owner, id, func(x *domain.Execution) error {
		if x.Status.Final() {
			return domain.Errorf(domain.ErrConflict, "execution already ended with status %s", x.Status)
		}
		end := s.Now.now()
		x.Status, x.EndTime, x.Error = domain.StatusCancelled, &end, "cancelled by user"
		if x.StartTime != nil {
			x.Duration = end.Sub(*x.StartTime).Seconds()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cancel execution %s: %w", id, err)
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
