package service

import (
	"context"
	"fmt"

	"github.com/faasplatform/faas/domain"
)

// DeadLetterStore keeps the dead letters (natsstore.DeadLetterStore fits).
type DeadLetterStore interface {
	Add(ctx context.Context, d domain.DeadLetter) error
	List(ctx context.Context, owner string) ([]domain.DeadLetter, error)
	Get(ctx context.Context, owner, id string) (domain.DeadLetter, error)
	Delete(ctx context.Context, owner, id string) error
}

func (s *Executions) deadLetters() (DeadLetterStore, error) {
	if s.DeadLetters == nil {
		return nil, fmt.Errorf("dead letters: %w", domain.ErrUnavailable)
	}
	return s.DeadLetters, nil
}

// ListDeadLetters returns owner's dead letters, newest first.
func (s *Executions) ListDeadLetters(ctx context.Context, owner string) ([]domain.DeadLetter, error) {
	dl, err := s.deadLetters()
	if err != nil {
		return nil, err
	}
	out, err := dl.List(ctx, owner)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	return out, nil
}

// Redrive starts a new pending execution of owner's dead letter id (same
// function, same input, RedriveOf = id) and takes the dead letter off the
// list. An unknown or foreign id is domain.ErrExecutionNotFound.
func (s *Executions) Redrive(ctx context.Context, owner, id string) (*domain.Execution, error) {
	dl, err := s.deadLetters()
	if err != nil {
		return nil, err
	}
	if _, err := dl.Get(ctx, owner, id); err != nil {
		return nil, fmt.Errorf("redrive %s: %w", id, err)
	}
	old, err := s.store.Get(ctx, owner, id)
	if err != nil {
		return nil, fmt.Errorf("redrive %s: %w", id, err)
	}
	// The redrive's own key makes a repeated redrive (a retried request)
	// start one execution, not two.
	e, _, err := s.EnqueueOnce(ctx, owner, old.FunctionID, []byte(old.Input), s.redriveKey(id), id)
	if err != nil {
		return nil, fmt.Errorf("redrive %s: %w", id, err)
	}
	if err := dl.Delete(ctx, owner, id); err != nil {
		return nil, fmt.Errorf("redrive %s: remove the dead letter: %w", id, err)
	}
	return e, nil
}

// redriveKey is the Idempotency-Key of the redrive of id, or none when
// keys are not kept.
func (s *Executions) redriveKey(id string) string {
	if s.Idempotency == nil {
		return ""
	}
	return "redrive:" + id
}

// DiscardDeadLetter takes owner's dead letter id off the list; the
// execution stays as it ended.
func (s *Executions) DiscardDeadLetter(ctx context.Context, owner, id string) error {
	dl, err := s.deadLetters()
	if err != nil {
		return err
	}
	if err := dl.Delete(ctx, owner, id); err != nil {
		return fmt.Errorf("discard dead letter %s: %w", id, err)
	}
	return nil
}
