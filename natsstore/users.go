package natsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/faasplatform/faas/domain"
	"github.com/nats-io/nats.go/jetstream"
)

var _ domain.UserStore = (*UserStore)(nil)

// UserStore keeps users in the users bucket: `user.<id>` holds the record,
// `username.<lower-cased name>` the id, which makes usernames unique without
// regard to case.
type UserStore struct {
	kv    *Bucket
	names uniqueIndex
}

// userRecord is a user as stored. It carries the password hash, which
// domain.User keeps out of JSON on purpose.
type userRecord struct {
	ID           string    `json:"id"`
	Username     string    `json:"username"`
	Email        string    `json:"email"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	PasswordHash string    `json:"password_hash"`
	// TokenGeneration: absent in records written before it existed (0).
	TokenGeneration int `json:"token_generation,omitempty"`
}

func newUserRecord(u *domain.User) userRecord {
	return userRecord{
		ID:              u.ID,
		Username:        u.Username,
		Email:           u.Email,
		CreatedAt:       u.CreatedAt,
		UpdatedAt:       u.UpdatedAt,
		PasswordHash:    u.PasswordHash,
		TokenGeneration: u.TokenGeneration,
	}
}

func (r userRecord) user() *domain.User {
	return &domain.User{
		ID:              r.ID,
		Username:        r.Username,
		Email:           r.Email,
		CreatedAt:       r.CreatedAt,
		UpdatedAt:       r.UpdatedAt,
		PasswordHash:    r.PasswordHash,
		TokenGeneration: r.TokenGeneration,
	}
}

// NewUserStore returns a UserStore on kv, the users bucket from Setup.
func NewUserStore(kv *Bucket) *UserStore {
	s := &UserStore{kv: kv}
	s.names = uniqueIndex{
		kv:         kv,
		staleAfter: defaultStaleIndexAge,
		key:        func(name string) string { return "username." + name },
		live: func(ctx context.Context, id, name string) (bool, error) {
			r, _, err := s.load(ctx, id)
			if errors.Is(err, domain.ErrUserNotFound) {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			return usernameKey(r.Username) == name, nil
		},
	}
	return s
}

func userKey(id string) string { return "user." + id }

// usernameKey is the index form of a username: lower-cased, so that "Alice"
// and "alice" are one name.
func usernameKey(username string) string { return strings.ToLower(username) }

// Create stores a new user. Of concurrent creates of one username (in any
// case) exactly one succeeds; the others get domain.ErrConflict.
func (s *UserStore) Create(ctx context.Context, u *domain.User) error {
	name := usernameKey(u.Username)
	if !validToken(u.ID) {
		return fmt.Errorf("create user: %w", domain.Invalid("invalid user id %q", u.ID))
	}
	if !validToken(name) {
		return fmt.Errorf("create user %s: %w", u.ID, domain.Invalid("invalid username %q", u.Username))
	}
	data, err := json.Marshal(newUserRecord(u))
	if err != nil {
		return fmt.Errorf("create user %s: encode: %w", u.ID, err)
	}
	switch err := s.names.claim(ctx, name, u.ID); {
	case errors.Is(err, errIndexTaken):
		return domain.Errorf(domain.ErrConflict, "username already taken")
	case err != nil:
		return fmt.Errorf("create user %s: %w", u.ID, err)
	}
	if _, err := s.kv.Create(ctx, userKey(u.ID), data); err != nil {
		if rerr := s.names.release(ctx, name, u.ID); rerr != nil {
			err = errors.Join(err, rerr)
		}
		if errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("create user %s: id in use: %w", u.ID, domain.ErrConflict)
		}
		return fmt.Errorf("create user %s: %w", u.ID, err)
	}
	return nil
}

// load reads the record of id and its revision.
func (s *UserStore) load(ctx context.Context, id string) (userRecord, uint64, error) {
	if !validToken(id) {
		return userRecord{}, 0, domain.ErrUserNotFound
	}
	e, err := s.kv.Get(ctx, userKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return userRecord{}, 0, domain.ErrUserNotFound
	}
	if err != nil {
		return userRecord{}, 0, err
	}
	var r userRecord
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return userRecord{}, 0, fmt.Errorf("decode: %w", err)
	}
	return r, e.Revision(), nil
}

// Get returns the user with id, or domain.ErrUserNotFound.
func (s *UserStore) Get(ctx context.Context, id string) (*domain.User, error) {
	r, _, err := s.load(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get user %s: %w", id, err)
	}
	return r.user(), nil
}

// GetByUsername returns the user called username (in any case), or
// domain.ErrUserNotFound.
func (s *UserStore) GetByUsername(ctx context.Context, username string) (*domain.User, error) {
	name := usernameKey(username)
	if !validToken(name) {
		return nil, fmt.Errorf("get user by name %q: %w", username, domain.ErrUserNotFound)
	}
	id, err := s.names.lookup(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("get user by name %q: %w", username, domain.ErrUserNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get user by name %q: %w", username, err)
	}
	r, _, err := s.load(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get user by name %q: %w", username, err)
	}
	if usernameKey(r.Username) != name {
		// A stale index entry: its user has gone.
		return nil, fmt.Errorf("get user by name %q: %w", username, domain.ErrUserNotFound)
	}
	return r.user(), nil
}

// Update applies mutate to the latest version of the user and stores the
// result if no one wrote in between, retrying otherwise, so concurrent
// updates are never lost. An error from mutate is returned as it is. The id
// and the username (except for its case) cannot change.
func (s *UserStore) Update(ctx context.Context, id string, mutate func(*domain.User) error) (*domain.User, error) {
	var out *domain.User
	err := retryOnConflict(ctx, "update user "+id, func() error {
		r, rev, err := s.load(ctx, id)
		if err != nil {
			return fmt.Errorf("update user %s: %w", id, err)
		}
		u := r.user()
		if err := mutate(u); err != nil {
			return err
		}
		if u.ID != r.ID {
			return fmt.Errorf("update user %s: %w", id, domain.Invalid("a user's id cannot change"))
		}
		if usernameKey(u.Username) != usernameKey(r.Username) {
			return fmt.Errorf("update user %s: %w", id, domain.Invalid("a username cannot change"))
		}
		data, err := json.Marshal(newUserRecord(u))
		if err != nil {
			return fmt.Errorf("update user %s: encode: %w", id, err)
		}
		if _, err := s.kv.Update(ctx, userKey(id), data, rev); err != nil {
			return fmt.Errorf("update user %s: %w", id, err)
		}
		out = u
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Delete removes the user and frees its username, or returns
// domain.ErrUserNotFound. The record goes first: a crash in between leaves
// an index entry without a user, which the next Create of the name takes
// over.
func (s *UserStore) Delete(ctx context.Context, id string) error {
	r, _, err := s.load(ctx, id)
	if err != nil {
		return fmt.Errorf("delete user %s: %w", id, err)
	}
	if err := s.kv.Delete(ctx, userKey(id)); err != nil {
		return fmt.Errorf("delete user %s: %w", id, err)
	}
	if err := s.names.release(ctx, usernameKey(r.Username), id); err != nil {
		return fmt.Errorf("delete user %s: %w", id, err)
	}
	return nil
}
