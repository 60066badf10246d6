package service

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"go.uber.org/zap"

	"github.com/faasplatform/faas/domain"
)

// SweepJobs is what the Sweeper needs of the queue (natsstore.Queue fits).
type SweepJobs interface {
	domain.JobQueue
	JobExists(ctx context.Context, seq uint64) (bool, error)
	RetryDelivery(ctx context.Context, ref string, delay time.Duration) error
	DropDelivery(ctx context.Context, ref string) error
	// Delivered is the stream sequence of the newest job ever delivered.
	Delivered(ctx context.Context) (uint64, error)
}

// AdvisoryDrainer hands over the kept MAX_DELIVERIES advisories
// (natsstore.Advisories fits).
type AdvisoryDrainer interface {
	Drain(ctx context.Context, handle func(ctx context.Context, j domain.Job, deliveries int) error) error
}

// Holder is a lock in NATS (natsstore.Lock fits): of several sweepers one
// acts at a time.
type Holder interface {
	Hold(ctx context.Context) (bool, error)
}

// SweeperOptions tune a Sweeper; zero values take the defaults.
type SweeperOptions struct {
	Policy domain.RetryPolicy
	// Interval between passes (domain.SweepInterval).
	Interval time.Duration
	// PublishGrace is how long a pending execution may wait for its first
	// publish before the Sweeper publishes it (a gateway died in between).
	PublishGrace time.Duration
	// StallAfter is how long a delivered pending job may go unclaimed past
	// its retry time before it is published again (its delivery was lost).
	StallAfter time.Duration
	// QueueMaxAge is how long a job stays in the stream; a pending
	// execution older than that expired in the queue.
	QueueMaxAge time.Duration
	// OrphanAge is how old an index entry without a record must be before
	// it is dropped (the gateway died before writing the record).
	OrphanAge time.Duration
}

func (o *SweeperOptions) defaults() {
	if o.Policy.MaxAttempts == 0 {
		o.Policy = domain.DefaultRetryPolicy
	}
	if o.Interval <= 0 {
		o.Interval = domain.SweepInterval
	}
	if o.PublishGrace <= 0 {
		o.PublishGrace = 15 * time.Second
	}
	if o.StallAfter <= 0 {
		o.StallAfter = 2 * time.Minute
	}
	if o.QueueMaxAge <= 0 {
		o.QueueMaxAge = 24 * time.Hour
	}
	if o.OrphanAge <= 0 {
		o.OrphanAge = time.Minute
	}
}

// Sweeper resolves what no worker will: executions whose worker died
// (their lease unrenewed for domain.LeaseTTL) are handed back to the queue,
// or end as dead letters when their attempts are used up; pending ones whose
// job was never published (a gateway died between record and publish) are
// published; pending ones whose job was lost are published again; pending
// ones older than the queue's max age fail, saying they expired; jobs the
// queue gave up on (MAX_DELIVERIES advisories) end as dead letters. Every
// change is a revision-checked update through the lifecycle, so sweepers
// and workers racing on one execution cannot both win; the lock makes one
// sweeper act at a time anyway.
type Sweeper struct {
	opts    SweeperOptions
	store   domain.ExecutionStore
	leases  Leases
	jobs    SweepJobs
	results domain.ResultPublisher
	dls     DeadLetterStore
	adv     AdvisoryDrainer
	lock    Holder
	log     *zap.Logger
	// Now is the clock; nil means time.Now.
	Now Clock
	// Retention, when set, runs a pass after each sweep, under the same
	// lock (EXECUTION_RETENTION).
	Retention *Retention
}

// NewSweeper returns a Sweeper. adv and lock may be nil (no advisories;
// always act).
func NewSweeper(opts SweeperOptions, store domain.ExecutionStore, leases Leases, jobs SweepJobs,
	results domain.ResultPublisher, dls DeadLetterStore, adv AdvisoryDrainer, lock Holder, logger *zap.Logger) *Sweeper {
	opts.defaults()
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Sweeper{opts: opts, store: store, leases: leases, jobs: jobs, results: results, dls: dls, adv: adv, lock: lock, log: logger}
}

// Run sweeps every Interval until ctx ends.
func (s *Sweeper) Run(ctx context.Context) {
	t := time.NewTicker(s.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s.lock != nil {
			held, err := s.lock.Hold(ctx)
			if err != nil {
				s.log.Warn("sweeper lock", zap.Error(err))
			}
			if !held {
				continue
			}
		}
		if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("sweep", zap.Error(err))
		}
		if s.Retention != nil {
			n, err := s.Retention.Pass(ctx)
			if err != nil && ctx.Err() == nil {
				s.log.Warn("retention", zap.Int("expired", n), zap.Error(err))
			} else if n > 0 {
				s.log.Info("retention: ended executions expired", zap.Int("expired", n))
			}
		}
	}
}

// Sweep makes one pass over the executions not yet ended and the kept
// advisories.
func (s *Sweeper) Sweep(ctx context.Context) error {
	var errs []error
	if s.adv != nil {
		if err := s.adv.Drain(ctx, s.deadJob); err != nil {
			errs = append(errs, err)
		}
	}
	leases, err := s.leases.List(ctx)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("sweep: %w", err))...)
	}
	if len(leases) == 0 {
		return errors.Join(errs...)
	}
	delivered, err := s.jobs.Delivered(ctx)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("sweep: %w", err))...)
	}
	for _, l := range leases {
		if ctx.Err() != nil {
			break
		}
		if err := s.resolve(ctx, l, delivered); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Sweeper) log1(l *domain.Lease) *zap.Logger {
	return s.log.With(zap.String("execution_id", l.ExecutionID), zap.String("function_id", l.FunctionID))
}

// resolve applies the rules to one entry of the active index.
func (s *Sweeper) resolve(ctx context.Context, l *domain.Lease, delivered uint64) error {
	now := s.Now.now()
	e, err := s.store.Get(ctx, l.Owner, l.ExecutionID)
	switch {
	case errors.Is(err, domain.ErrExecutionNotFound):
		if now.Sub(l.CreatedAt) > s.opts.OrphanAge {
			return s.leases.Delete(ctx, l.ExecutionID)
		}
		return nil
	case err != nil:
		return fmt.Errorf("sweep %s: %w", l.ExecutionID, err)
	}
	switch e.Status {
	case domain.StatusRunning:
		if now.Sub(lastSign(e, l)) > domain.LeaseTTL {
			_, err := s.TakeBack(ctx, e, l, "stopped responding")
			return err
		}
		return nil
	case domain.StatusPending:
		return s.pending(ctx, e, l, delivered, now)
	default:
		return s.Finalize(ctx, e)
	}
}

// lastSign is the last sign of life of e's current attempt: its lease's
// last renewal, or its claim when the lease does not name it yet (the
// worker died between the two writes).
func lastSign(e *domain.Execution, l *domain.Lease) time.Time {
	if l.Held(e.WorkerID, e.Attempts) {
		return l.Written
	}
	t := l.Written
	if e.StartTime != nil && e.StartTime.After(t) {
		t = *e.StartTime
	}
	return t
}

// pending handles a pending execution: publish a job never published, fail
// one that outlived the queue, publish again one whose delivery was lost.
func (s *Sweeper) pending(ctx context.Context, e *domain.Execution, l *domain.Lease, delivered uint64, now time.Time) error {
	log := s.log1(l)
	if now.Sub(e.CreatedAt) > s.opts.QueueMaxAge {
		ended, err := s.store.Update(ctx, e.Owner, e.ID, func(x *domain.Execution) error {
			return x.Fail(fmt.Sprintf("expired in the queue: not run within %s", s.opts.QueueMaxAge), s.Now.now())
		})
		if err != nil {
			return skipRaced(err)
		}
		log.Warn("execution expired in the queue")
		s.announce(ctx, ended)
		return s.Finalize(ctx, ended)
	}
	switch {
	case l.JobSeq == 0 && now.Sub(l.Written) > s.opts.PublishGrace:
		log.Warn("pending execution without a job (its gateway stopped before publishing); publishing it")
		return s.republish(ctx, l, e.ID)
	case l.JobSeq != 0 && l.JobSeq <= delivered && s.stalled(e, l, now):
		exists, err := s.jobs.JobExists(ctx, l.JobSeq)
		if err != nil {
			return fmt.Errorf("sweep %s: %w", l.ExecutionID, err)
		}
		log.Warn("pending execution's job not delivered again in time; publishing it again", zap.Bool("job_in_stream", exists))
		return s.republish(ctx, l, fmt.Sprintf("%s.r%d", e.ID, now.UnixNano()))
	}
	return nil
}

// stalled reports whether a delivered pending job should have been claimed
// again by now: StallAfter past its retry time and past the index entry's
// last write.
func (s *Sweeper) stalled(e *domain.Execution, l *domain.Lease, now time.Time) bool {
	since := l.Written
	if e.RetryAt != nil && e.RetryAt.After(since) {
		since = *e.RetryAt
	}
	return now.Sub(since) > s.opts.StallAfter
}

// republish publishes e's job under msgID and records its sequence.
func (s *Sweeper) republish(ctx context.Context, l *domain.Lease, msgID string) error {
	seq, err := s.jobs.Enqueue(ctx, domain.Job{ExecutionID: l.ExecutionID, FunctionID: l.FunctionID, Owner: l.Owner}, msgID)
	if err != nil {
		return fmt.Errorf("sweep %s: publish: %w", l.ExecutionID, err)
	}
	next := *l
	next.JobSeq, next.WorkerID, next.Attempt, next.Delivery = seq, "", 0, ""
	if _, err := s.leases.Renew(ctx, next, l.Revision); err != nil && !errors.Is(err, domain.ErrStaleAttempt) {
		return fmt.Errorf("sweep %s: %w", l.ExecutionID, err)
	}
	return nil
}

// errChanged aborts a take-back when the execution moved on meanwhile.
var errChanged = errors.New("execution changed meanwhile")

// TakeBack ends the attempt of running e whose worker is gone (why says how
// it went): a platform failure. With attempts left, e goes back to pending
// and its job is delivered again after the policy's backoff; otherwise e
// ends failed as a dead letter. The holder's delivery is settled through
// l.Delivery so that nothing waits for the ack timeout. It reports whether
// e was requeued. An e that changed meanwhile is left alone (false, nil).
func (s *Sweeper) TakeBack(ctx context.Context, e *domain.Execution, l *domain.Lease, why string) (bool, error) {
	worker, attempt := e.WorkerID, e.Attempts
	var retry bool
	var delay time.Duration
	cur, err := s.store.Update(ctx, e.Owner, e.ID, func(x *domain.Execution) error {
		if x.Holds(worker, attempt) != nil {
			return errChanged
		}
		retry, delay = s.opts.Policy.Next(x, 0, domain.PlatformFailure, rand.Float64())
		msg := fmt.Sprintf("the worker %s running attempt %d %s", worker, attempt, why)
		if retry {
			return x.Requeue(msg+"; retrying", s.Now.now().Add(delay))
		}
		return x.DeadLetter(msg, s.Now.now())
	})
	if err != nil {
		return false, skipRaced(err)
	}
	log := s.log1(l).With(zap.String("worker_id", worker), zap.Int("attempt", attempt))
	held := l.Held(worker, attempt) && l.Delivery != ""
	if retry {
		log.Warn("worker gone; execution handed back to the queue", zap.Duration("delay", delay))
		next := *l
		next.WorkerID, next.Attempt, next.Delivery = "", 0, ""
		// Only if nothing wrote since: the next attempt may already hold
		// it (its claim came right after the requeue).
		if l.Revision == 0 {
			if _, err := s.leases.Put(ctx, next); err != nil {
				return true, fmt.Errorf("take back %s: %w", e.ID, err)
			}
		} else if _, err := s.leases.Renew(ctx, next, l.Revision); err != nil && !errors.Is(err, domain.ErrStaleAttempt) {
			return true, fmt.Errorf("take back %s: %w", e.ID, err)
		}
		if held {
			if err := s.jobs.RetryDelivery(ctx, l.Delivery, delay); err != nil {
				log.Warn("handing the dead worker's delivery back failed (it returns after the ack wait)", zap.Error(err))
			}
		}
		return true, nil
	}
	log.Error("worker gone on the last attempt; execution is a dead letter")
	if held {
		if err := s.jobs.DropDelivery(ctx, l.Delivery); err != nil {
			log.Warn("dropping the dead worker's delivery failed", zap.Error(err))
		}
	}
	s.announce(ctx, cur)
	return false, s.Finalize(ctx, cur)
}

// deadJob ends the execution of a job the queue gave up on.
func (s *Sweeper) deadJob(ctx context.Context, j domain.Job, deliveries int) error {
	e, err := s.store.Get(ctx, j.Owner, j.ExecutionID)
	if errors.Is(err, domain.ErrExecutionNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("dead job %s: %w", j.ExecutionID, err)
	}
	if e.Status == domain.StatusRunning {
		// Its holder may still live and finish it; if it dies, the lease
		// rule takes it back and publishes again.
		return nil
	}
	if e.Status.Final() {
		return nil
	}
	ended, err := s.store.Update(ctx, e.Owner, e.ID, func(x *domain.Execution) error {
		return x.DeadLetter(fmt.Sprintf("the queue gave up after %d deliveries", deliveries), s.Now.now())
	})
	if err != nil {
		return skipRaced(err)
	}
	s.log.Error("the queue gave up on a job; execution is a dead letter",
		zap.String("execution_id", j.ExecutionID), zap.String("function_id", j.FunctionID), zap.Int("deliveries", deliveries))
	s.announce(ctx, ended)
	return s.Finalize(ctx, ended)
}

// Finalize completes the bookkeeping of an ended execution: a dead letter
// joins the list, and the execution leaves the active index. Workers call
// it too; it is idempotent.
func (s *Sweeper) Finalize(ctx context.Context, e *domain.Execution) error {
	if e.DeadAt != nil && s.dls != nil {
		if err := s.dls.Add(ctx, domain.DeadLetterOf(e)); err != nil {
			return fmt.Errorf("finalize %s: %w", e.ID, err)
		}
	}
	if err := s.leases.Delete(ctx, e.ID); err != nil {
		return fmt.Errorf("finalize %s: %w", e.ID, err)
	}
	return nil
}

func (s *Sweeper) announce(ctx context.Context, e *domain.Execution) {
	if s.results == nil {
		return
	}
	if err := s.results.PublishResult(ctx, e); err != nil {
		s.log.Warn("publishing the result failed (the record is saved)", zap.String("execution_id", e.ID), zap.Error(err))
	}
}

// skipRaced turns "someone else moved the execution first" into nil: the
// next pass sees the new state.
func skipRaced(err error) error {
	if errors.Is(err, errChanged) || errors.Is(err, domain.ErrIllegalTransition) || errors.Is(err, domain.ErrExecutionNotFound) {
		return nil
	}
	return err
}
