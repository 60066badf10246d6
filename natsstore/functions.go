package natsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/faasplatform/faas/domain"
	"github.com/nats-io/nats.go/jetstream"
)

var _ domain.FunctionStore = (*FunctionStore)(nil)

// FunctionStore keeps functions in the functions bucket, scoped by owner:
// `fn.<owner>.<id>` holds the function as JSON, `fname.<owner>.<name>` its
// id, which makes names unique per owner. A function of another owner is
// simply a key that does not exist, hence domain.ErrFunctionNotFound.
type FunctionStore struct {
	kv *Bucket
	// staleIndexAge is the age at which a name entry whose function is
	// gone or renamed may be taken over (tests shorten it).
	staleIndexAge time.Duration
}

// NewFunctionStore returns a FunctionStore on kv, the functions bucket from
// Setup.
func NewFunctionStore(kv *Bucket) *FunctionStore {
	return &FunctionStore{kv: kv, staleIndexAge: defaultStaleIndexAge}
}

func functionKey(owner, id string) string { return "fn." + owner + "." + id }

// names is the name index of one owner.
func (s *FunctionStore) names(owner string) uniqueIndex {
	return uniqueIndex{
		kv:         s.kv,
		staleAfter: s.staleIndexAge,
		key:        func(name string) string { return "fname." + owner + "." + name },
		live: func(ctx context.Context, id, name string) (bool, error) {
			f, _, err := s.load(ctx, owner, id)
			if errors.Is(err, domain.ErrFunctionNotFound) {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			return f.Name == name, nil
		},
	}
}

func nameTaken(name string) error {
	return domain.Errorf(domain.ErrConflict, "a function named %q already exists", name)
}

// Create stores a new function. Of concurrent creates of one name for one
// owner exactly one succeeds; the others get domain.ErrConflict.
func (s *FunctionStore) Create(ctx context.Context, f *domain.Function) error {
	if !validToken(f.Owner) || !validToken(f.ID) {
		return fmt.Errorf("create function: %w", domain.Invalid("invalid owner %q or id %q", f.Owner, f.ID))
	}
	if !validToken(f.Name) {
		return fmt.Errorf("create function %s: %w", f.ID, domain.Invalid("invalid function name %q", f.Name))
	}
	data, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("create function %s: encode: %w", f.ID, err)
	}
	names := s.names(f.Owner)
	switch err := names.claim(ctx, f.Name, f.ID); {
	case errors.Is(err, errIndexTaken):
		return nameTaken(f.Name)
	case err != nil:
		return fmt.Errorf("create function %s: %w", f.ID, err)
	}
	if _, err := s.kv.Create(ctx, functionKey(f.Owner, f.ID), data); err != nil {
		if rerr := names.release(ctx, f.Name, f.ID); rerr != nil {
			err = errors.Join(err, rerr)
		}
		if errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("create function %s: id in use: %w", f.ID, domain.ErrConflict)
		}
		return fmt.Errorf("create function %s: %w", f.ID, err)
	}
	return nil
}

// load reads owner's function id and its revision.
func (s *FunctionStore) load(ctx context.Context, owner, id string) (*domain.Function, uint64, error) {
	if !validToken(owner) || !validToken(id) {
		return nil, 0, domain.ErrFunctionNotFound
	}
	e, err := s.kv.Get(ctx, functionKey(owner, id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, domain.ErrFunctionNotFound
	}
	if err != nil {
		return nil, 0, err
	}
	var f domain.Function
	if err := json.Unmarshal(e.Value(), &f); err != nil {
		return nil, 0, fmt.Errorf("decode: %w", err)
	}
	return &f, e.Revision(), nil
}

// Get returns owner's function id, or domain.ErrFunctionNotFound.
func (s *FunctionStore) Get(ctx context.Context, owner, id string) (*domain.Function, error) {
	f, _, err := s.load(ctx, owner, id)
	if err != nil {
		return nil, fmt.Errorf("get function %s: %w", id, err)
	}
	return f, nil
}

// List returns every function of owner, sorted by name.
func (s *FunctionStore) List(ctx context.Context, owner string) ([]*domain.Function, error) {
	if !validToken(owner) {
		return []*domain.Function{}, nil
	}
	out, err := latestRecords[domain.Function](ctx, s.kv, functionKey(owner, "*"))
	if err != nil {
		return nil, fmt.Errorf("list functions of %s: %w", owner, err)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Update applies mutate to the latest version of the function and stores
// the result with a revision check, retrying when another writer came first.
// A rename claims the new name before the record changes and frees the old
// one after; a taken name is domain.ErrConflict. An error from mutate is
// returned as it is. The id and the owner cannot change.
func (s *FunctionStore) Update(ctx context.Context, owner, id string, mutate func(*domain.Function) error) (*domain.Function, error) {
	names := s.names(owner)
	var out *domain.Function
	err := retryOnConflict(ctx, "update function "+id, func() error {
		f, rev, err := s.load(ctx, owner, id)
		if err != nil {
			return fmt.Errorf("update function %s: %w", id, err)
		}
		oldName := f.Name
		if err := mutate(f); err != nil {
			return err
		}
		if f.ID != id || f.Owner != owner {
			return fmt.Errorf("update function %s: %w", id, domain.Invalid("a function's id and owner cannot change"))
		}
		if !validToken(f.Name) {
			return fmt.Errorf("update function %s: %w", id, domain.Invalid("invalid function name %q", f.Name))
		}
		data, err := json.Marshal(f)
		if err != nil {
			return fmt.Errorf("update function %s: encode: %w", id, err)
		}
		renamed := f.Name != oldName
		if renamed {
			switch err := names.claim(ctx, f.Name, id); {
			case errors.Is(err, errIndexTaken):
				return nameTaken(f.Name)
			case err != nil:
				return fmt.Errorf("update function %s: %w", id, err)
			}
		}
		if _, err := s.kv.Update(ctx, functionKey(owner, id), data, rev); err != nil {
			if renamed {
				if rerr := names.release(ctx, f.Name, id); rerr != nil {
					err = errors.Join(err, rerr)
				}
			}
			return fmt.Errorf("update function %s: %w", id, err)
		}
		if renamed {
			// The rename stands even if this fails: an entry pointing at
			// a function of another name is stale and gets taken over.
			_ = names.release(ctx, oldName, id)
		}
		out = f
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Delete removes owner's function id and frees its name, or returns
// domain.ErrFunctionNotFound.
func (s *FunctionStore) Delete(ctx context.Context, owner, id string) error {
	what := "delete function " + id
	var name string
	// Revision-checked, so that a rename racing the delete is either seen
	// (its new name is released) or refused and retried.
	err := retryOnConflict(ctx, what, func() error {
		f, rev, err := s.load(ctx, owner, id)
		if err != nil {
			return err
		}
		name = f.Name
		return s.kv.Delete(ctx, functionKey(owner, id), jetstream.LastRevision(rev))
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := s.names(owner).release(ctx, name, id); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// DeleteOwner removes every function of owner and its name index.
func (s *FunctionStore) DeleteOwner(ctx context.Context, owner string) error {
	if !validToken(owner) {
		return nil
	}
	for _, filter := range []string{functionKey(owner, "*"), "fname." + owner + ".*"} {
		entries, err := latestValues(ctx, s.kv, filter)
		if err != nil {
			return fmt.Errorf("delete functions of %s: %w", owner, err)
		}
		for _, e := range entries {
			if err := s.kv.Delete(ctx, e.Key()); err != nil {
				return fmt.Errorf("delete functions of %s: %s: %w", owner, e.Key(), err)
			}
		}
	}
	return nil
}

// WatchChanges calls changed with the owner and id of every function
// updated or deleted from now on, until ctx ends (then it returns nil): a
// worker retires the warm containers of a function that changed. A slow
// callback delays later calls, it never loses them.
func (s *FunctionStore) WatchChanges(ctx context.Context, changed func(owner, id string)) error {
	w, err := s.kv.Watch(ctx, functionKey("*", "*"), jetstream.UpdatesOnly())
	if err != nil {
		return fmt.Errorf("watch functions: %w", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("watch functions: the watcher stopped")
			}
			if e == nil {
				continue
			}
			rest, ok := strings.CutPrefix(e.Key(), "fn.")
			owner, id, ok2 := strings.Cut(rest, ".")
			if ok && ok2 {
				changed(owner, id)
			}
		}
	}
}
