package service

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/faasplatform/faas/domain"
)

// FunctionPatch carries the user-settable fields of a function, each nil
// when the request did not give it.
//
// Create starts from the contract's defaults and applies the given fields;
// Update (HTTP PUT) starts from the stored function and applies the given
// fields: present fields replace, absent ones keep their value (a partial
// update), and env, when present, replaces the whole map. The result is then
// validated as a whole. A field given explicitly is never defaulted, so
// `"timeout": 0` is an error rather than 300.
type FunctionPatch struct {
	Name        *string
	ImageURL    *string
	Description *string
	Timeout     *int
	MemoryMB    *int
	CPUs        *float64
	Env         map[string]string // nil: absent
	Network     *string
	MaxRetries  *int
	Warm        *bool
}

// apply writes the present fields of p onto f.
func (p FunctionPatch) apply(f *domain.Function) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&f.Name, p.Name)
	set(&f.ImageURL, p.ImageURL)
	set(&f.Description, p.Description)
	set(&f.Network, p.Network)
	if p.Timeout != nil {
		f.Timeout = *p.Timeout
	}
	if p.MemoryMB != nil {
		f.MemoryMB = *p.MemoryMB
	}
	if p.CPUs != nil {
		f.CPUs = *p.CPUs
	}
	if p.MaxRetries != nil {
		f.MaxRetries = *p.MaxRetries
	}
	if p.Warm != nil {
		f.Warm = *p.Warm
	}
	if p.Env != nil {
		f.Env = maps.Clone(p.Env)
	}
}

// FunctionHook runs after a function is deleted, e.g. to remove its objects.
type FunctionHook func(ctx context.Context, owner, functionID string) error

// Functions manages functions, always within one owner: another owner's
// function is domain.ErrFunctionNotFound, as if absent.
type Functions struct {
	store    domain.FunctionStore
	onDelete []FunctionHook
	// Now is the clock; nil means time.Now.
	Now Clock
	// Limits are the operator's caps checked at create and update.
	Limits domain.FunctionLimits
	// MaxPerUser caps an owner's functions (USER_MAX_FUNCTIONS); 0: none.
	// Over it, Create is domain.ErrConflict. Counted before the write: two
	// creates at once may pass it by one.
	MaxPerUser int
}

// NewFunctions returns the function service on store.
func NewFunctions(store domain.FunctionStore) *Functions {
	return &Functions{store: store}
}

// OnDelete adds a hook that Delete runs after removing a function. Call it
// while wiring, before the service serves requests.
func (s *Functions) OnDelete(h FunctionHook) { s.onDelete = append(s.onDelete, h) }

// Create deploys a new function for owner. A name the owner already uses is
// domain.ErrConflict.
func (s *Functions) Create(ctx context.Context, owner string, p FunctionPatch) (*domain.Function, error) {
	var f domain.Function
	domain.ApplyFunctionDefaults(&f)
	p.apply(&f)
	if err := domain.ValidateFunction(&f); err != nil {
		return nil, err
	}
	if err := s.Limits.Admit(&f); err != nil {
		return nil, err
	}
	if s.MaxPerUser > 0 {
		fs, err := s.store.List(ctx, owner)
		if err != nil {
			return nil, fmt.Errorf("create function: count: %w", err)
		}
		if len(fs) >= s.MaxPerUser {
			return nil, domain.Errorf(domain.ErrConflict, "a user may have at most %d functions", s.MaxPerUser)
		}
	}
	id, err := newID()
	if err != nil {
		return nil, fmt.Errorf("create function: %w", err)
	}
	now := s.Now.now()
	f.ID, f.Owner, f.CreatedAt, f.UpdatedAt = id, owner, now, now
	if err := s.store.Create(ctx, &f); err != nil {
		return nil, publicize(fmt.Errorf("create function %q: %w", f.Name, err),
			domain.ErrConflict, "a function named %q already exists", f.Name)
	}
	return &f, nil
}

// List returns owner's functions (by name).
func (s *Functions) List(ctx context.Context, owner string) ([]*domain.Function, error) {
	fs, err := s.store.List(ctx, owner)
	if err != nil {
		return nil, fmt.Errorf("list functions: %w", err)
	}
	if fs == nil {
		fs = []*domain.Function{}
	}
	return fs, nil
}

// Get returns owner's function id.
func (s *Functions) Get(ctx context.Context, owner, id string) (*domain.Function, error) {
	f, err := s.store.Get(ctx, owner, id)
	if err != nil {
		return nil, fmt.Errorf("get function %s: %w", id, err)
	}
	return f, nil
}

// Update applies p to owner's function id (see FunctionPatch) and validates
// the result before writing; an invalid result leaves the stored function
// as it was. Renaming to a name the owner uses is domain.ErrConflict.
func (s *Functions) Update(ctx context.Context, owner, id string, p FunctionPatch) (*domain.Function, error) {
	now := s.Now.now()
	f, err := s.store.Update(ctx, owner, id, func(f *domain.Function) error {
		p.apply(f)
		if err := domain.ValidateFunction(f); err != nil {
			return err
		}
		if err := s.Limits.Admit(f); err != nil {
			return err
		}
		f.UpdatedAt = now
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("update function %s: %w", id, err)
	}
	return f, nil
}

// Delete removes owner's function id, then runs the OnDelete hooks, by
// which its executions, dead letters and objects go with it (platform wires
// them).
func (s *Functions) Delete(ctx context.Context, owner, id string) error {
	if err := s.store.Delete(ctx, owner, id); err != nil {
		return fmt.Errorf("delete function %s: %w", id, err)
	}
	var errs []error
	for _, h := range s.onDelete {
		if err := h(context.WithoutCancel(ctx), owner, id); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("delete function %s: function removed, cleanup incomplete: %w", id, errors.Join(errs...))
	}
	return nil
}
