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

// LeaseStore keeps one entry per execution that has not ended, in the
// active-executions bucket keyed by execution id: its job (the stream
// sequence once published) and, while an attempt runs, the lease of the
// worker holding it. It is the sweeper's index: listing it costs what is
// queued or running, never the history. The server's time of an entry's
// last write is its lease's last renewal.
type LeaseStore struct {
	kv *Bucket
}

// NewLeaseStore returns a LeaseStore on kv, the active-executions bucket
// from Setup.
func NewLeaseStore(kv *Bucket) *LeaseStore { return &LeaseStore{kv: kv} }

// Put writes l unconditionally and returns its revision.
func (s *LeaseStore) Put(ctx context.Context, l domain.Lease) (uint64, error) {
	if !validToken(l.ExecutionID) || !validToken(l.Owner) {
		return 0, fmt.Errorf("put lease: %w", domain.Invalid("invalid execution %q or owner %q", l.ExecutionID, l.Owner))
	}
	data, err := json.Marshal(l)
	if err != nil {
		return 0, fmt.Errorf("put lease %s: encode: %w", l.ExecutionID, err)
	}
	rev, err := s.kv.Put(ctx, l.ExecutionID, data)
	if err != nil {
		return 0, fmt.Errorf("put lease %s: %w", l.ExecutionID, err)
	}
	return rev, nil
}

// Renew rewrites l if its entry is still at revision rev, and returns the
// new revision. A newer write (the sweeper took the execution back, or
// another attempt holds it) is domain.ErrStaleAttempt: the lease is lost.
func (s *LeaseStore) Renew(ctx context.Context, l domain.Lease, rev uint64) (uint64, error) {
	data, err := json.Marshal(l)
	if err != nil {
		return 0, fmt.Errorf("renew lease %s: encode: %w", l.ExecutionID, err)
	}
	next, err := s.kv.Update(ctx, l.ExecutionID, data, rev)
	switch {
	case isRevisionConflict(err), errors.Is(err, jetstream.ErrKeyNotFound):
		return 0, fmt.Errorf("renew lease %s: %w", l.ExecutionID, domain.ErrStaleAttempt)
	case err != nil:
		return 0, fmt.Errorf("renew lease %s: %w", l.ExecutionID, err)
	}
	return next, nil
}

// Get returns the entry of execution id with its revision and server write
// time, or domain.ErrExecutionNotFound.
func (s *LeaseStore) Get(ctx context.Context, id string) (*domain.Lease, error) {
	if !validToken(id) {
		return nil, fmt.Errorf("get lease %s: %w", id, domain.ErrExecutionNotFound)
	}
	e, err := s.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("get lease %s: %w", id, domain.ErrExecutionNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get lease %s: %w", id, err)
	}
	return decodeLease(e)
}

// List returns every entry, oldest execution first.
func (s *LeaseStore) List(ctx context.Context) ([]*domain.Lease, error) {
	entries, err := latestValues(ctx, s.kv, jetstream.AllKeys)
	if err != nil {
		return nil, fmt.Errorf("list leases: %w", err)
	}
	out := make([]*domain.Lease, 0, len(entries))
	for _, e := range entries {
		l, err := decodeLease(e)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// Delete removes the entry of execution id; none is no error.
func (s *LeaseStore) Delete(ctx context.Context, id string) error {
	if !validToken(id) {
		return nil
	}
	if err := s.kv.Delete(ctx, id); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("delete lease %s: %w", id, err)
	}
	return nil
}

func decodeLease(e jetstream.KeyValueEntry) (*domain.Lease, error) {
	var l domain.Lease
	if err := json.Unmarshal(e.Value(), &l); err != nil {
		return nil, fmt.Errorf("decode lease %s: %w", e.Key(), err)
	}
	l.Revision, l.Written = e.Revision(), e.Created()
	return &l, nil
}
