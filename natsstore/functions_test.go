package natsstore

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/faasplatform/faas/domain"
	"github.com/google/uuid"
)

func newFunction(owner, name string) *domain.Function {
	now := time.Now().UTC().Truncate(time.Millisecond)
	f := &domain.Function{
		ID: uuid.NewString(), Name: name, ImageURL: "faas-examples/echo:latest",
		Owner: owner, Env: map[string]string{"A": "1"}, CreatedAt: now, UpdatedAt: now,
	}
	domain.ApplyFunctionDefaults(f)
	return f
}

func rename(name string) func(*domain.Function) error {
	return func(f *domain.Function) error { f.Name = name; return nil }
}

func TestFunctionStoreNames(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	s := NewFunctionStore(env.b.Functions)
	owner, other := uuid.NewString(), uuid.NewString()

	echo := newFunction(owner, "echo")
	if err := s.Create(ctx, echo); err != nil {
		t.Fatalf("Create: %v", err)
	}
	wc := newFunction(owner, "wc")
	if err := s.Create(ctx, wc); err != nil {
		t.Fatalf("Create: %v", err)
	}

	steps := []struct {
		name     string
		call     func() error
		conflict bool
	}{
		{"same name, same owner", func() error { return s.Create(ctx, newFunction(owner, "echo")) }, true},
		{"same name, other owner", func() error { return s.Create(ctx, newFunction(other, "echo")) }, false},
		{"rename onto a taken name", func() error { _, err := s.Update(ctx, owner, wc.ID, rename("echo")); return err }, true},
		{"rename to a free name", func() error { _, err := s.Update(ctx, owner, echo.ID, rename("echo2")); return err }, false},
		{"old name free after rename", func() error { return s.Create(ctx, newFunction(owner, "echo")) }, false},
		{"new name taken after rename", func() error { return s.Create(ctx, newFunction(owner, "echo2")) }, true},
		{"rename to own name", func() error { _, err := s.Update(ctx, owner, wc.ID, rename("wc")); return err }, false},
	}
	for _, st := range steps {
		err := st.call()
		switch {
		case st.conflict && !errors.Is(err, domain.ErrConflict):
			t.Errorf("%s: %v, want ErrConflict", st.name, err)
		case !st.conflict && err != nil:
			t.Errorf("%s: %v", st.name, err)
		}
	}

	var pe *domain.PublicError
	err := s.Create(ctx, newFunction(owner, "wc"))
	if !errors.As(err, &pe) || pe.Message != `a function named "wc" already exists` {
		t.Errorf("conflict message: %v", err)
	}

	list, err := s.List(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range list {
		names = append(names, f.Name)
	}
	if want := []string{"echo", "echo2", "wc"}; !slices.Equal(names, want) {
		t.Errorf("List names = %v, want %v", names, want)
	}
}

func TestFunctionStoreOwnerScope(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	s := NewFunctionStore(env.b.Functions)
	owner, other := uuid.NewString(), uuid.NewString()
	f := newFunction(owner, "mine")
	if err := s.Create(ctx, f); err != nil {
		t.Fatal(err)
	}

	got, err := s.Get(ctx, owner, f.ID)
	if err != nil || got.Name != "mine" || got.Env["A"] != "1" || got.MemoryMB != domain.DefaultMemoryMB {
		t.Fatalf("Get = %+v, %v", got, err)
	}

	cases := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := s.Get(ctx, other, f.ID); return err }},
		{"Update", func() error { _, err := s.Update(ctx, other, f.ID, rename("x")); return err }},
		{"Delete", func() error { return s.Delete(ctx, other, f.ID) }},
		{"Get with wildcard owner", func() error { _, err := s.Get(ctx, "*", f.ID); return err }},
	}
	for _, tc := range cases {
		if err := tc.call(); !errors.Is(err, domain.ErrFunctionNotFound) {
			t.Errorf("%s as another owner: %v, want ErrFunctionNotFound", tc.name, err)
		}
	}
	if list, err := s.List(ctx, other); err != nil || len(list) != 0 {
		t.Errorf("List of another owner = %v, %v", list, err)
	}
	if err := s.DeleteOwner(ctx, other); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, owner, f.ID); err != nil {
		t.Errorf("DeleteOwner of another owner removed this one's function: %v", err)
	}
}

func TestFunctionStoreDelete(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	s := NewFunctionStore(env.b.Functions)
	owner, other := uuid.NewString(), uuid.NewString()
	a, b := newFunction(owner, "a"), newFunction(owner, "b")
	keep := newFunction(other, "a")
	for _, f := range []*domain.Function{a, b, keep} {
		if err := s.Create(ctx, f); err != nil {
			t.Fatal(err)
		}
	}

	if err := s.Delete(ctx, owner, a.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(ctx, owner, a.ID); !errors.Is(err, domain.ErrFunctionNotFound) {
		t.Errorf("Get after Delete: %v", err)
	}
	if err := s.Create(ctx, newFunction(owner, "a")); err != nil {
		t.Errorf("name not freed by Delete: %v", err)
	}

	if err := s.DeleteOwner(ctx, owner); err != nil {
		t.Fatalf("DeleteOwner: %v", err)
	}
	if list, _ := s.List(ctx, owner); len(list) != 0 {
		t.Errorf("List after DeleteOwner = %d functions", len(list))
	}
	if err := s.Create(ctx, newFunction(owner, "b")); err != nil {
		t.Errorf("names not freed by DeleteOwner: %v", err)
	}
	if _, err := s.Get(ctx, other, keep.ID); err != nil {
		t.Errorf("other owner's function: %v", err)
	}
}

func TestFunctionStoreUpdate(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	s := NewFunctionStore(env.b.Functions)
	owner := uuid.NewString()
	f := newFunction(owner, "f")
	if err := s.Create(ctx, f); err != nil {
		t.Fatal(err)
	}

	refuse := errors.New("refused")
	if _, err := s.Update(ctx, owner, f.ID, func(*domain.Function) error { return refuse }); err != refuse {
		t.Errorf("refusing mutate: %v, want it as is", err)
	}
	if _, err := s.Update(ctx, owner, f.ID, func(f *domain.Function) error { f.Owner = "x"; return nil }); !errors.Is(err, domain.ErrInvalidInput) {
		t.Errorf("changing the owner: %v, want ErrInvalidInput", err)
	}

	// Concurrent renames of one function to different names: each wins in
	// turn, the last one stands, and every other name is free again.
	const n = 10
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := s.Update(ctx, owner, f.ID, rename("name-"+string(rune('a'+i)))); err != nil {
				t.Errorf("rename %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	got, err := s.Get(ctx, owner, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		name := "name-" + string(rune('a'+i))
		err := s.Create(ctx, newFunction(owner, name))
		if name == got.Name {
			if !errors.Is(err, domain.ErrConflict) {
				t.Errorf("current name %s: Create = %v, want ErrConflict", name, err)
			}
		} else if err != nil {
			t.Errorf("former name %s not freed: %v", name, err)
		}
	}
}

// A name entry left behind by an interrupted rename points at a function
// now called otherwise; once old enough, it is taken over.
func TestFunctionStoreStaleName(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	s := NewFunctionStore(env.b.Functions)
	owner := uuid.NewString()
	f := newFunction(owner, "now")
	if err := s.Create(ctx, f); err != nil {
		t.Fatal(err)
	}
	if _, err := env.b.Functions.Create(ctx, "fname."+owner+".before", []byte(f.ID)); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, newFunction(owner, "before")); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("young stale entry: %v, want ErrConflict", err)
	}
	s.staleIndexAge = time.Nanosecond
	if err := s.Create(ctx, newFunction(owner, "before")); err != nil {
		t.Errorf("old stale entry not taken over: %v", err)
	}
}

func TestFunctionStoreWatchChanges(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	s := NewFunctionStore(env.b.Functions)
	owner := uuid.NewString()
	f := newFunction(owner, "watched")
	if err := s.Create(ctx, f); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 10)
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.WatchChanges(wctx, func(o, id string) { got <- o + "/" + id }) }()
	want := owner + "/" + f.ID
	// The watch starts asynchronously: update until it reports, within
	// a deadline.
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for seen := false; !seen; {
		if _, err := s.Update(ctx, owner, f.ID, rename("watched")); err != nil {
			t.Fatal(err)
		}
		select {
		case c := <-got:
			if c != want {
				t.Fatalf("changed %q, want %q", c, want)
			}
			seen = true
		case <-tick.C:
		case <-deadline:
			t.Fatal("no change reported for an update")
		}
	}
	for len(got) > 0 {
		<-got
	}
	if err := s.Delete(ctx, owner, f.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-got:
		if c != want {
			t.Fatalf("changed %q, want %q", c, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no change reported for a delete")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("WatchChanges: %v", err)
	}
}
