package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/retry"
)

// TokenService issues and verifies access tokens (auth.Tokens).
type TokenService interface {
	Issue(userID string, generation int) (token string, expiresAt time.Time, err error)
	Verify(token string) (userID string, generation int, err error)
}

// PasswordHasher hashes and checks passwords (auth.Passwords). CheckAbsent
// costs what a CheckPassword costs and always fails: the login of an unknown
// user calls it so that timing does not reveal which usernames exist.
type PasswordHasher interface {
	HashPassword(password string) (string, error)
	CheckPassword(hash, password string) error
	CheckAbsent(password string) error
}

// OwnerDeleter removes everything of one kind an owner has.
// domain.FunctionStore and domain.ExecutionStore satisfy it; so can an
// objects store, added with Users.OnDelete.
type OwnerDeleter interface {
	DeleteOwner(ctx context.Context, owner string) error
}

// OwnerDeleterFunc adapts a function to OwnerDeleter.
type OwnerDeleterFunc func(ctx context.Context, owner string) error

// DeleteOwner calls f.
func (f OwnerDeleterFunc) DeleteOwner(ctx context.Context, owner string) error { return f(ctx, owner) }

// Login is what a successful login returns (contract: token, expires_at, user).
type Login struct {
	Token     string       `json:"token"`
	ExpiresAt time.Time    `json:"expires_at"`
	User      *domain.User `json:"user"`
}

// UserUpdate is a change to one's account; nil fields stay as they are.
type UserUpdate struct {
	Email    *string
	Password *string
}

// Users registers, authenticates, updates and deletes users.
type Users struct {
	store     domain.UserStore
	tokens    TokenService
	passwords PasswordHasher
	cascade   []OwnerDeleter
	// Now is the clock; nil means time.Now.
	Now Clock
	// CascadeTimeout bounds the cleanup after a user is deleted; zero
	// means DefaultCascadeTimeout.
	CascadeTimeout time.Duration
	// CascadeDone, when set, hears how each cleanup ended (nil: all done).
	CascadeDone func(userID string, err error)
	// Log receives the cleanups that fail; nil means no logging.
	Log *zap.Logger

	cascades sync.WaitGroup
}

// NewUsers returns the user service. cascade lists what Delete removes after
// the user record, in order; pass the function store, then the execution
// store. More (objects) can be added with OnDelete.
func NewUsers(store domain.UserStore, tokens TokenService, passwords PasswordHasher, cascade ...OwnerDeleter) *Users {
	return &Users{store: store, tokens: tokens, passwords: passwords, cascade: cascade}
}

// OnDelete adds d to the things Delete removes for a deleted user. Call it
// while wiring, before the service serves requests.
func (s *Users) OnDelete(d OwnerDeleter) { s.cascade = append(s.cascade, d) }

// Register creates an account. A taken username (in any case) is
// domain.ErrConflict.
func (s *Users) Register(ctx context.Context, username, password, email string) (*domain.User, error) {
	for _, err := range []error{
		domain.ValidateUsername(username),
		domain.ValidatePassword(password),
		domain.ValidateEmail(email),
	} {
		if err != nil {
			return nil, err
		}
	}
	hash, err := s.passwords.HashPassword(password)
	if err != nil {
		return nil, fmt.Errorf("register %q: %w", username, err)
	}
	id, err := newID()
	if err != nil {
		return nil, fmt.Errorf("register %q: %w", username, err)
	}
	now := s.Now.now()
	u := &domain.User{ID: id, Username: username, Email: email, CreatedAt: now, UpdatedAt: now, PasswordHash: hash}
	if err := s.store.Create(ctx, u); err != nil {
		return nil, publicize(fmt.Errorf("register %q: %w", username, err), domain.ErrConflict, "username %q is already taken", username)
	}
	return u, nil
}

// errBadLogin is the one answer to a wrong username or password.
var errBadLogin = domain.Errorf(domain.ErrUnauthorized, "invalid username or password")

// Login checks the pair and issues a token. An unknown username and a wrong
// password get the same error and take the same time (bcrypt runs in both
// cases).
func (s *Users) Login(ctx context.Context, username, password string) (*Login, error) {
	u, err := s.store.GetByUsername(ctx, username)
	switch {
	case errors.Is(err, domain.ErrUserNotFound):
		return nil, fmt.Errorf("login %q: %w: %w", username, errBadLogin, s.passwords.CheckAbsent(password))
	case err != nil:
		return nil, fmt.Errorf("login %q: %w", username, err)
	}
	if err := s.passwords.CheckPassword(u.PasswordHash, password); err != nil {
		if errors.Is(err, domain.ErrUnauthorized) {
			return nil, fmt.Errorf("login %q: %w: %w", username, errBadLogin, err)
		}
		return nil, fmt.Errorf("login %q: %w", username, err)
	}
	token, exp, err := s.tokens.Issue(u.ID, u.TokenGeneration)
	if err != nil {
		return nil, fmt.Errorf("login %q: %w", username, err)
	}
	return &Login{Token: token, ExpiresAt: exp, User: u}, nil
}

// Authenticate verifies token and returns its user. A token whose user no
// longer exists, or that was issued before the user's last password change
// or logout (an older token generation), is domain.ErrUnauthorized, like an
// invalid one.
func (s *Users) Authenticate(ctx context.Context, token string) (*domain.User, error) {
	id, gen, err := s.tokens.Verify(token)
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	u, err := s.store.Get(ctx, id)
	if errors.Is(err, domain.ErrUserNotFound) {
		return nil, fmt.Errorf("authenticate: %w: %w",
			domain.Errorf(domain.ErrUnauthorized, "invalid or expired token"), err)
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if gen != u.TokenGeneration {
		return nil, fmt.Errorf("authenticate: %w: token generation %d, user at %d",
			domain.Errorf(domain.ErrUnauthorized, "invalid or expired token"), gen, u.TokenGeneration)
	}
	return u, nil
}

// Logout revokes every token of user id issued so far (on every device):
// the user moves to the next token generation.
func (s *Users) Logout(ctx context.Context, id string) error {
	_, err := s.store.Update(ctx, id, func(u *domain.User) error {
		u.TokenGeneration++
		u.UpdatedAt = s.Now.now()
		return nil
	})
	if err != nil {
		return fmt.Errorf("logout %s: %w", id, err)
	}
	return nil
}

// Get returns the user with id (domain.ErrUserNotFound when absent).
func (s *Users) Get(ctx context.Context, id string) (*domain.User, error) {
	u, err := s.store.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get user: %w", err)
	}
	return u, nil
}

// Update changes the email and/or the password of user id. At least one
// must be given; each is validated before anything is written. The write is
// revision-checked by the store, so a concurrent update is not lost.
// A password change revokes every token issued before it (the caller logs
// in again).
func (s *Users) Update(ctx context.Context, id string, up UserUpdate) (*domain.User, error) {
	if up.Email == nil && up.Password == nil {
		return nil, domain.Invalid("nothing to update: give email and/or password")
	}
	if up.Email != nil {
		if err := domain.ValidateEmail(*up.Email); err != nil {
			return nil, err
		}
	}
	var hash string
	if up.Password != nil {
		if err := domain.ValidatePassword(*up.Password); err != nil {
			return nil, err
		}
		h, err := s.passwords.HashPassword(*up.Password) // outside mutate: it may run more than once
		if err != nil {
			return nil, fmt.Errorf("update user %s: %w", id, err)
		}
		hash = h
	}
	now := s.Now.now()
	u, err := s.store.Update(ctx, id, func(u *domain.User) error {
		if up.Email != nil {
			u.Email = *up.Email
		}
		if up.Password != nil {
			u.PasswordHash = hash
			u.TokenGeneration++
		}
		u.UpdatedAt = now
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("update user %s: %w", id, err)
	}
	return u, nil
}

// DefaultCascadeTimeout bounds the cleanup of a deleted user's things.
const DefaultCascadeTimeout = 2 * time.Minute

// cascadeRetry is how each cascade step is retried.
var cascadeRetry = retry.Policy{Tries: 3, Initial: 100 * time.Millisecond}

// Delete removes user id, and then, in the background under
// CascadeTimeout, everything it owns. The user record goes first and Delete
// returns once it is gone, so that its tokens fail at once and it cannot
// create anything while the rest is removed; no request waits for the
// cleanup. Each cascade step runs in order (functions, executions, then
// OnDelete additions), each retried a few times with backoff; a step that
// still fails does not stop the others, and the failure is logged naming
// every failed step (the leftovers belong to no one: nobody can reach them,
// an operator can remove them). WaitCascades waits for cleanups under way.
func (s *Users) Delete(ctx context.Context, id string) error {
	if err := s.store.Delete(ctx, id); err != nil {
		return fmt.Errorf("delete user %s: %w", id, err)
	}
	timeout := s.CascadeTimeout
	if timeout <= 0 {
		timeout = DefaultCascadeTimeout
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	s.cascades.Go(func() {
		defer cancel()
		err := s.cleanup(cctx, id)
		if err != nil && s.Log != nil {
			s.Log.Error("cleanup of a deleted user incomplete", zap.String("user_id", id), zap.Error(err))
		}
		if s.CascadeDone != nil {
			s.CascadeDone(id, err)
		}
	})
	return nil
}

// cleanup runs every cascade step for user id.
func (s *Users) cleanup(ctx context.Context, id string) error {
	var errs []error
	for i, d := range s.cascade {
		if err := retry.Do(ctx, cascadeRetry, func() error { return d.DeleteOwner(ctx, id) }); err != nil {
			errs = append(errs, fmt.Errorf("step %d: %w", i+1, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("delete user %s: user removed, cleanup incomplete: %w", id, errors.Join(errs...))
	}
	return nil
}

// WaitCascades waits until the cleanups of deleted users under way have
// ended, or ctx ends.
func (s *Users) WaitCascades(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.cascades.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for user cleanups: %w", ctx.Err())
	}
}
