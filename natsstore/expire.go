package natsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faasplatform/faas/domain"
)

// deleteRecordObjects deletes the execution-data objects rec names, those
// it stopped using included.
func (s *ExecutionStore) deleteRecordObjects(ctx context.Context, rec *executionRecord) error {
	names := append([]string(nil), rec.Superseded...)
	for _, f := range blobFields {
		if name := *f.object(rec); name != "" {
			names = append(names, name)
		}
	}
	for _, name := range names {
		if err := s.obj.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return fmt.Errorf("object %s: %w", name, err)
		}
	}
	return nil
}

// Expire removes owner's ended execution id for good: its data objects, its
// index entry, then its record, each purged so that nothing (not even a
// delete marker) is left. Cut short, it can be run again: the record goes
// last, so whatever is left is still found through it. An execution already
// gone is nil; one not ended is domain.ErrConflict.
func (s *ExecutionStore) Expire(ctx context.Context, owner, id string) error {
	if !validToken(owner) || !validToken(id) {
		return nil
	}
	key := executionKey(owner, id)
	entry, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("expire execution %s: %w", id, err)
	}
	var rec executionRecord
	if err := json.Unmarshal(entry.Value(), &rec); err == nil {
		if !rec.Status.Final() {
			return domain.Errorf(domain.ErrConflict, "expire execution %s: it has not ended (%s)", id, rec.Status)
		}
		if err := s.deleteRecordObjects(ctx, &rec); err != nil {
			return fmt.Errorf("expire execution %s: %w", id, err)
		}
		if rec.IndexSeq > 0 {
			if err := s.index.kv.purge(ctx, entryKey(owner, rec.IndexSeq)); err != nil {
				return fmt.Errorf("expire execution %s: index: %w", id, err)
			}
		}
	}
	if err := s.kv.purge(ctx, key); err != nil {
		return fmt.Errorf("expire execution %s: %w", id, err)
	}
	return nil
}

// DeleteFunction removes every execution of owner's function fnID, ended or
// not, with its objects and index entry; it reads the owner's index once to
// find them. A record is deleted with a marker, so a worker running it sees
// the deletion and kills the run, as when its owner is deleted; the
// sweeper drops what is left of it in the active index.
func (s *ExecutionStore) DeleteFunction(ctx context.Context, owner, fnID string) error {
	if !validToken(owner) || !validToken(fnID) {
		return nil
	}
	entries, err := latestValues(ctx, s.index.kv, owner+".*")
	if err != nil {
		return fmt.Errorf("delete executions of function %s: %w", fnID, err)
	}
	for _, ie := range entries {
		var x indexEntry
		if json.Unmarshal(ie.Value(), &x) != nil || x.FunctionID != fnID || !validToken(x.ID) {
			continue // the counter, or another function's
		}
		key := executionKey(owner, x.ID)
		entry, err := s.kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return fmt.Errorf("delete executions of function %s: %s: %w", fnID, x.ID, err)
		default:
			var rec executionRecord
			if json.Unmarshal(entry.Value(), &rec) == nil {
				if err := s.deleteRecordObjects(ctx, &rec); err != nil {
					return fmt.Errorf("delete executions of function %s: %w", fnID, err)
				}
			}
			if err := s.kv.Delete(ctx, key); err != nil {
				return fmt.Errorf("delete executions of function %s: %s: %w", fnID, x.ID, err)
			}
		}
		if err := s.index.kv.purge(ctx, ie.Key()); err != nil {
			return fmt.Errorf("delete executions of function %s: index: %w", fnID, err)
		}
	}
	return nil
}
