package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/faasplatform/faas/domain"
)

// EndedLog is the log of ended executions, oldest first (natsstore.EndedLog
// fits): Oldest reads up to max entries logged at or before before, Forget
// drops the entries up to seq.
type EndedLog interface {
	Oldest(ctx context.Context, before time.Time, max int) ([]domain.Ended, error)
	Forget(ctx context.Context, seq uint64) error
}

// Expirer removes an ended execution with its output, logs and data objects
// for good (natsstore.ExecutionStore fits); one already gone is nil.
type Expirer interface {
	Expire(ctx context.Context, owner, id string) error
}

// retentionBatch is how many log entries a Retention pass reads at once.
const retentionBatch = 256

// Retention deletes each ended execution once EXECUTION_RETENTION has passed
// since it ended: its record, output, logs, data objects and dead letter.
// It reads the ended log from the oldest entry and stops at the first not
// yet due, so a pass costs what it deletes; the log is in NATS, so a restart
// loses nothing and the pass after it catches up.
type Retention struct {
	Keep        time.Duration
	Log         EndedLog
	Store       Expirer
	DeadLetters DeadLetterStore
	Logger      *zap.Logger
	// Now is the clock; nil means time.Now.
	Now Clock
}

// Pass deletes every execution now due and returns how many entries of the
// log it handled. An entry whose deletion fails stops the pass there; the
// next pass tries it again.
func (r *Retention) Pass(ctx context.Context) (int, error) {
	handled := 0
	for ctx.Err() == nil {
		now := r.Now.now()
		due, err := r.Log.Oldest(ctx, now.Add(-r.Keep), retentionBatch)
		if err != nil {
			return handled, fmt.Errorf("retention: %w", err)
		}
		var last uint64
		var failed error
		for _, e := range due {
			if !domain.Due(e.At, now, r.Keep) {
				break
			}
			if err := r.expire(ctx, e); err != nil {
				failed = err
				break
			}
			last = e.Seq
			handled++
		}
		if last > 0 {
			if err := r.Log.Forget(ctx, last); err != nil {
				return handled, fmt.Errorf("retention: %w", err)
			}
		}
		if failed != nil {
			return handled, fmt.Errorf("retention: %w", failed)
		}
		if len(due) < retentionBatch {
			return handled, nil
		}
	}
	return handled, ctx.Err()
}

func (r *Retention) expire(ctx context.Context, e domain.Ended) error {
	if e.Owner == "" || e.ID == "" {
		return nil // not an entry of ours
	}
	err := r.Store.Expire(ctx, e.Owner, e.ID)
	if errors.Is(err, domain.ErrConflict) {
		// Not ended: never logged so by the platform; leave it be.
		r.log().Warn("retention: an execution logged as ended has not ended; kept", zap.String("execution_id", e.ID), zap.Error(err))
		return nil
	}
	if err != nil {
		return fmt.Errorf("expire %s: %w", e.ID, err)
	}
	if r.DeadLetters != nil {
		if err := r.DeadLetters.Delete(ctx, e.Owner, e.ID); err != nil && !errors.Is(err, domain.ErrExecutionNotFound) {
			return fmt.Errorf("expire %s: dead letter: %w", e.ID, err)
		}
	}
	r.log().Debug("execution expired", zap.String("execution_id", e.ID), zap.Time("ended", e.At))
	return nil
}

func (r *Retention) log() *zap.Logger {
	if r.Logger == nil {
		return zap.NewNop()
	}
	return r.Logger
}
