package natsstore

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faasplatform/faas/domain"
	"github.com/google/uuid"
)

func newUser(name string) *domain.User {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return &domain.User{
		ID: uuid.NewString(), Username: name, Email: name + "@example.com",
		CreatedAt: now, UpdatedAt: now, PasswordHash: "$2a$10$hash-of-" + name,
	}
}

func TestUserStoreCRUD(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	s := NewUserStore(env.b.Users)

	alice := newUser("Alice")
	if err := s.Create(ctx, alice); err != nil {
		t.Fatalf("Create: %v", err)
	}
	got, err := s.Get(ctx, alice.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if *got != *alice {
		t.Errorf("Get = %+v, want %+v (hash included)", got, alice)
	}
	for _, name := range []string{"Alice", "alice", "ALICE"} {
		got, err := s.GetByUsername(ctx, name)
		if err != nil || got.ID != alice.ID {
			t.Errorf("GetByUsername(%q) = %v, %v", name, got, err)
		}
	}

	err = s.Create(ctx, newUser("aLiCe"))
	var pe *domain.PublicError
	if !errors.Is(err, domain.ErrConflict) || !errors.As(err, &pe) || pe.Message != "username already taken" {
		t.Errorf("Create of a taken name in other case: %v", err)
	}

	updated, err := s.Update(ctx, alice.ID, func(u *domain.User) error {
		u.Email = "new@example.com"
		return nil
	})
	if err != nil || updated.Email != "new@example.com" || updated.PasswordHash != alice.PasswordHash {
		t.Fatalf("Update = %+v, %v", updated, err)
	}

	refuse := errors.New("refused")
	if _, err := s.Update(ctx, alice.ID, func(*domain.User) error { return refuse }); err != refuse {
		t.Errorf("Update with a refusing mutate: %v, want the mutate error as is", err)
	}
	if _, err := s.Update(ctx, alice.ID, func(u *domain.User) error { u.Username = "bob"; return nil }); !errors.Is(err, domain.ErrInvalidInput) {
		t.Errorf("Update renaming the user: %v, want ErrInvalidInput", err)
	}

	if err := s.Delete(ctx, alice.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	notFound := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := s.Get(ctx, alice.ID); return err }},
		{"GetByUsername", func() error { _, err := s.GetByUsername(ctx, "alice"); return err }},
		{"Update", func() error {
			_, err := s.Update(ctx, alice.ID, func(*domain.User) error { return nil })
			return err
		}},
		{"Delete", func() error { return s.Delete(ctx, alice.ID) }},
		{"Get with a bad id", func() error { _, err := s.Get(ctx, "a.b*>"); return err }},
		{"GetByUsername with a bad name", func() error { _, err := s.GetByUsername(ctx, "x y"); return err }},
	}
	for _, tc := range notFound {
		if err := tc.call(); !errors.Is(err, domain.ErrUserNotFound) {
			t.Errorf("%s after delete: %v, want ErrUserNotFound", tc.name, err)
		}
	}

	// The name is free again.
	if err := s.Create(ctx, newUser("alice")); err != nil {
		t.Errorf("Create after delete: %v", err)
	}
}

func TestUserStoreConcurrentRegistration(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	s := NewUserStore(env.b.Users)

	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = s.Create(ctx, newUser("racer")) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, domain.ErrConflict):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d creates succeeded, want exactly 1", won)
	}
}

func TestUserStoreConcurrentUpdate(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	s := NewUserStore(env.b.Users)
	u := newUser("counter")
	u.Email = "x@example.com"
	if err := s.Create(ctx, u); err != nil {
		t.Fatal(err)
	}

	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := s.Update(ctx, u.ID, func(u *domain.User) error {
				u.Email = fmt.Sprintf("%s%c", u.Email, 'a'+i)
				return nil
			})
			if err != nil {
				t.Errorf("Update %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	got, err := s.Get(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	added := strings.TrimPrefix(got.Email, "x@example.com")
	if len(added) != n {
		t.Fatalf("email %q: %d of %d updates kept", got.Email, len(added), n)
	}
	for i := range n {
		if !strings.ContainsRune(added, rune('a'+i)) {
			t.Errorf("update %d lost", i)
		}
	}
}

// An index entry left by a crash (its user gone) does not block the name
// forever: once older than staleIndexAge, Create takes it over.
func TestUserStoreStaleIndex(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	s := NewUserStore(env.b.Users)
	if _, err := env.b.Users.Create(ctx, "username.ghost", []byte("no-such-user")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetByUsername(ctx, "ghost"); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("GetByUsername of a stale entry: %v", err)
	}
	// Young entries are respected: the Create that wrote it may be in flight.
	if err := s.Create(ctx, newUser("ghost")); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("Create over a young stale entry: %v, want ErrConflict", err)
	}
	s.names.staleAfter = time.Nanosecond
	fresh := newUser("Ghost")
	if err := s.Create(ctx, fresh); err != nil {
		t.Fatalf("Create over an old stale entry: %v", err)
	}
	got, err := s.GetByUsername(ctx, "ghost")
	if err != nil || got.ID != fresh.ID {
		t.Errorf("GetByUsername after takeover = %v, %v", got, err)
	}
	// A live holder is never displaced, however old its entry.
	if err := s.Create(ctx, newUser("ghost")); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("Create over a live entry: %v, want ErrConflict", err)
	}
}
