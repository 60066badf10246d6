package natsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faasplatform/faas/domain"
)

// DeadLetterStore keeps the dead letters (executions that used up their
// attempts) in the deadletters bucket under `<owner>.<execution_id>`, until
// they are redriven or discarded. A bucket is a stream: they survive restarts.
type DeadLetterStore struct {
	kv *Bucket
}

// NewDeadLetterStore returns a DeadLetterStore on kv, the deadletters bucket.
func NewDeadLetterStore(kv *Bucket) *DeadLetterStore { return &DeadLetterStore{kv: kv} }

func deadLetterKey(owner, id string) string { return owner + "." + id }

// Add records d; adding one twice keeps the first.
func (s *DeadLetterStore) Add(ctx context.Context, d domain.DeadLetter) error {
	if !validToken(d.Owner) || !validToken(d.ExecutionID) {
		return fmt.Errorf("add dead letter: %w", domain.Invalid("invalid owner %q or execution %q", d.Owner, d.ExecutionID))
	}
	rec := deadLetterRecord{DeadLetter: d, Owner: d.Owner}
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("add dead letter %s: encode: %w", d.ExecutionID, err)
	}
	if _, err := s.kv.Create(ctx, deadLetterKey(d.Owner, d.ExecutionID), data); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("add dead letter %s: %w", d.ExecutionID, err)
	}
	return nil
}

// deadLetterRecord stores the owner, which the API form leaves out.
type deadLetterRecord struct {
	domain.DeadLetter
	Owner string `json:"owner"`
}

// List returns owner's dead letters, newest first.
func (s *DeadLetterStore) List(ctx context.Context, owner string) ([]domain.DeadLetter, error) {
	if !validToken(owner) {
		return []domain.DeadLetter{}, nil
	}
	recs, err := latestRecords[deadLetterRecord](ctx, s.kv, deadLetterKey(owner, "*"))
	if err != nil {
		return nil, fmt.Errorf("list dead letters of %s: %w", owner, err)
	}
	out := make([]domain.DeadLetter, 0, len(recs))
	for _, r := range recs {
		d := r.DeadLetter
		d.Owner = r.Owner
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].DeadAt.Equal(out[j].DeadAt) {
			return out[i].DeadAt.After(out[j].DeadAt)
		}
		return out[i].ExecutionID > out[j].ExecutionID
	})
	return out, nil
}

// Get returns owner's dead letter of execution id, or
// domain.ErrExecutionNotFound.
func (s *DeadLetterStore) Get(ctx context.Context, owner, id string) (domain.DeadLetter, error) {
	if !validToken(owner) || !validToken(id) {
		return domain.DeadLetter{}, fmt.Errorf("dead letter %s: %w", id, domain.ErrExecutionNotFound)
	}
	e, err := s.kv.Get(ctx, deadLetterKey(owner, id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return domain.DeadLetter{}, fmt.Errorf("dead letter %s: %w", id, domain.ErrExecutionNotFound)
	}
	if err != nil {
		return domain.DeadLetter{}, fmt.Errorf("dead letter %s: %w", id, err)
	}
	var r deadLetterRecord
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return domain.DeadLetter{}, fmt.Errorf("dead letter %s: decode: %w", id, err)
	}
	r.DeadLetter.Owner = r.Owner
	return r.DeadLetter, nil
}

// Delete removes owner's dead letter of execution id; an absent one is
// domain.ErrExecutionNotFound.
func (s *DeadLetterStore) Delete(ctx context.Context, owner, id string) error {
	if _, err := s.Get(ctx, owner, id); err != nil {
		return err
	}
	if err := s.kv.Delete(ctx, deadLetterKey(owner, id)); err != nil {
		return fmt.Errorf("delete dead letter %s: %w", id, err)
	}
	return nil
}

// DeleteOwner removes every dead letter of owner.
func (s *DeadLetterStore) DeleteOwner(ctx context.Context, owner string) error {
	if err := s.deleteWhere(ctx, owner, func(deadLetterRecord) bool { return true }); err != nil {
		return fmt.Errorf("delete dead letters of %s: %w", owner, err)
	}
	return nil
}

// DeleteFunction removes every dead letter of owner's function fnID.
func (s *DeadLetterStore) DeleteFunction(ctx context.Context, owner, fnID string) error {
	err := s.deleteWhere(ctx, owner, func(r deadLetterRecord) bool { return r.FunctionID == fnID })
	if err != nil {
		return fmt.Errorf("delete dead letters of function %s: %w", fnID, err)
	}
	return nil
}

// deleteWhere removes owner's dead letters whose record matches (one that
// does not decode is matched as the zero record).
func (s *DeadLetterStore) deleteWhere(ctx context.Context, owner string, match func(deadLetterRecord) bool) error {
	if !validToken(owner) {
		return nil
	}
	entries, err := latestValues(ctx, s.kv, deadLetterKey(owner, "*"))
	if err != nil {
		return err
	}
	for _, e := range entries {
		var r deadLetterRecord
		_ = json.Unmarshal(e.Value(), &r) // undecodable: the zero record
		if !match(r) {
			continue
		}
		if err := s.kv.Delete(ctx, e.Key()); err != nil {
			return err
		}
	}
	return nil
}
