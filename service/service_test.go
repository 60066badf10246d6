package service_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/faasplatform/faas/auth"
	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/platform/platformtest"
	"github.com/faasplatform/faas/service"
)

func testCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// countingHasher records which check a login ran.
type countingHasher struct {
	auth.Passwords
	checks, absent atomic.Int32
}

func (h *countingHasher) CheckPassword(hash, pw string) error {
	h.checks.Add(1)
	return h.Passwords.CheckPassword(hash, pw)
}

func (h *countingHasher) CheckAbsent(pw string) error {
	h.absent.Add(1)
	return h.Passwords.CheckAbsent(pw)
}

func newUsers(t *testing.T, cascade ...service.OwnerDeleter) (*service.Users, *countingHasher, *platformtest.Stack) {
	st := platformtest.NewStack(t)
	h := &countingHasher{Passwords: auth.Passwords{Cost: bcrypt.MinCost}}
	return service.NewUsers(st.Users, auth.NewTokens(st.Secret, time.Hour), h, cascade...), h, st
}

func TestLoginAnswersAlikeAndHashesAlways(t *testing.T) {
	users, h, _ := newUsers(t)
	ctx := testCtx(t)
	if _, err := users.Register(ctx, "alice", "password-1", "a@example.com"); err != nil {
		t.Fatal(err)
	}
	l, err := users.Login(ctx, "alice", "password-1")
	if err != nil || l.Token == "" || l.User.Username != "alice" {
		t.Fatalf("login: %+v %v", l, err)
	}
	if u, err := users.Authenticate(ctx, l.Token); err != nil || u.ID != l.User.ID {
		t.Fatalf("authenticate: %v %v", u, err)
	}

	var msgs []string
	for _, tc := range []struct {
		name, user, pw string
		wantChecks     int32
		wantAbsent     int32
	}{
		{"wrong password", "alice", "password-2", 1, 0},
		{"unknown user", "nobody", "password-1", 0, 1},
		{"invalid username", "a.b", "password-1", 0, 1},
	} {
		h.checks.Store(0)
		h.absent.Store(0)
		_, err := users.Login(ctx, tc.user, tc.pw)
		var pe *domain.PublicError
		if !errors.Is(err, domain.ErrUnauthorized) || !errors.As(err, &pe) {
			t.Fatalf("%s: %v; want a public ErrUnauthorized", tc.name, err)
		}
		msgs = append(msgs, pe.Message)
		if h.checks.Load() != tc.wantChecks || h.absent.Load() != tc.wantAbsent {
			t.Errorf("%s: %d checks, %d absent checks; want %d, %d", tc.name, h.checks.Load(), h.absent.Load(), tc.wantChecks, tc.wantAbsent)
		}
	}
	for _, m := range msgs[1:] {
		if m != msgs[0] {
			t.Errorf("messages differ: %q", msgs)
		}
	}
}

func TestRegisterValidatesAndConflicts(t *testing.T) {
	users, _, _ := newUsers(t)
	ctx := testCtx(t)
	for _, tc := range []struct{ user, pw, email string }{
		{"ab", "password-1", "a@example.com"},
		{"alice", "short", "a@example.com"},
		{"alice", "password-1", "nope"},
	} {
		if _, err := users.Register(ctx, tc.user, tc.pw, tc.email); !errors.Is(err, domain.ErrInvalidInput) {
			t.Errorf("Register(%q, %q, %q) = %v; want ErrInvalidInput", tc.user, tc.pw, tc.email, err)
		}
	}
	u, err := users.Register(ctx, "Alice", "password-1", "a@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == "" || u.PasswordHash == "" || u.CreatedAt.Location() != time.UTC {
		t.Errorf("registered %+v", u)
	}
	if _, err := users.Register(ctx, "alice", "password-1", "b@example.com"); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("second alice: %v; want ErrConflict", err)
	}
}

func TestUpdateUser(t *testing.T) {
	users, _, _ := newUsers(t)
	ctx := testCtx(t)
	u, err := users.Register(ctx, "bob", "password-1", "b@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := users.Update(ctx, u.ID, service.UserUpdate{}); !errors.Is(err, domain.ErrInvalidInput) {
		t.Errorf("empty update: %v", err)
	}
	email, pw := "new@example.com", "password-2"
	got, err := users.Update(ctx, u.ID, service.UserUpdate{Email: &email, Password: &pw})
	if err != nil || got.Email != email || got.PasswordHash == u.PasswordHash || !got.UpdatedAt.After(u.UpdatedAt) {
		t.Fatalf("update: %+v %v", got, err)
	}
	if _, err := users.Login(ctx, "bob", pw); err != nil {
		t.Errorf("login with the new password: %v", err)
	}
	if _, err := users.Update(ctx, "missing", service.UserUpdate{Email: &email}); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("update of a missing user: %v", err)
	}
}

func TestDeleteUserCascade(t *testing.T) {
	var flaky, broken, after atomic.Int32
	users, _, st := newUsers(t,
		service.OwnerDeleterFunc(func(context.Context, string) error {
			if flaky.Add(1) < 3 {
				return errors.New("flaky")
			}
			return nil
		}),
		service.OwnerDeleterFunc(func(context.Context, string) error {
			broken.Add(1)
			return errors.New("broken for good")
		}),
	)
	users.OnDelete(service.OwnerDeleterFunc(func(context.Context, string) error { after.Add(1); return nil }))
	ctx := testCtx(t)
	u, err := users.Register(ctx, "carol", "password-1", "c@example.com")
	if err != nil {
		t.Fatal(err)
	}
	l, err := users.Login(ctx, "carol", "password-1")
	if err != nil {
		t.Fatal(err)
	}
	cleaned := make(chan error, 1)
	users.CascadeDone = func(id string, err error) { cleaned <- err }
	if err := users.Delete(ctx, u.ID); err != nil {
		t.Fatalf("Delete = %v; the user record went, the cleanup runs apart", err)
	}
	if err := <-cleaned; err == nil || !strings.Contains(err.Error(), "broken for good") {
		t.Fatalf("cleanup = %v; want the broken step's error", err)
	}
	if flaky.Load() != 3 || broken.Load() != 3 || after.Load() != 1 {
		t.Errorf("attempts: flaky %d, broken %d, after %d; want 3, 3, 1", flaky.Load(), broken.Load(), after.Load())
	}
	if _, err := st.Users.Get(ctx, u.ID); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("user still stored: %v", err)
	}
	if _, err := users.Authenticate(ctx, l.Token); !errors.Is(err, domain.ErrUnauthorized) {
		t.Errorf("token of a deleted user: %v; want ErrUnauthorized", err)
	}
	if err := users.Delete(ctx, u.ID); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func newExecutions(t *testing.T) (*service.Executions, *platformtest.Stack, *domain.Function) {
	st := platformtest.NewStack(t)
	fns := service.NewFunctions(st.Functions)
	name, image := "fn", "busybox"
	f, err := fns.Create(testCtx(t), "owner1", service.FunctionPatch{Name: &name, ImageURL: &image})
	if err != nil {
		t.Fatal(err)
	}
	return service.NewExecutions(st.Functions, st.Executions, st.Queue, st.Leases), st, f
}

func TestWait(t *testing.T) {
	ex, st, f := newExecutions(t)
	ctx := testCtx(t)

	e, err := ex.Enqueue(ctx, "owner1", f.ID, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got, ended, err := ex.Wait(ctx, "owner1", e.ID, 200*time.Millisecond)
	if err != nil || ended || got.Status != domain.StatusPending || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("wait on a pending execution: %v %v %v after %v", got, ended, err, time.Since(start))
	}

	// Not synchronisation: the pauses mean the updates to land while Wait
	// waits (it should skip running and end at failed); if the machine is
	// slow and they land first, Wait answers the final record at once, which
	// the checks accept too.
	go func() {
		time.Sleep(100 * time.Millisecond)
		_, _ = st.Executions.Update(context.Background(), "owner1", e.ID, func(x *domain.Execution) error {
			x.Status = domain.StatusRunning
			return nil
		})
		time.Sleep(100 * time.Millisecond)
		_, _ = st.Executions.Update(context.Background(), "owner1", e.ID, func(x *domain.Execution) error {
			x.Status, x.Output = domain.StatusFailed, "out"
			return nil
		})
	}()
	start = time.Now()
	got, ended, err = ex.Wait(ctx, "owner1", e.ID, 10*time.Second)
	if err != nil || !ended || got.Status != domain.StatusFailed || got.Output != "out" || time.Since(start) > 5*time.Second {
		t.Fatalf("wait for the end: %+v %v %v", got, ended, err)
	}

	if _, _, err := ex.Wait(ctx, "owner2", e.ID, time.Second); !errors.Is(err, domain.ErrExecutionNotFound) {
		t.Errorf("wait on another owner's execution: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := ex.Wait(cctx, "owner1", e.ID, time.Second); err == nil {
		t.Error("wait with a cancelled context succeeded")
	}
}

func TestEnqueueChecks(t *testing.T) {
	ex, _, f := newExecutions(t)
	ctx := testCtx(t)
	for _, tc := range []struct {
		name, owner, fn string
		input           int
		want            error
	}{
		{"no function id", "owner1", "", 1, domain.ErrInvalidInput},
		{"unknown function", "owner1", "nope", 1, domain.ErrFunctionNotFound},
		{"other owner's function", "owner2", f.ID, 1, domain.ErrFunctionNotFound},
		{"input too large", "owner1", f.ID, domain.MaxInputBytes + 1, domain.ErrPayloadTooLarge},
		{"input at the limit", "owner1", f.ID, domain.MaxInputBytes, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := ex.Enqueue(ctx, tc.owner, tc.fn, make([]byte, tc.input))
			if tc.want == nil {
				if err != nil || e.Status != domain.StatusPending || len(e.Input) != tc.input {
					t.Fatalf("Enqueue: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Enqueue = %v; want %v", err, tc.want)
			}
		})
	}
}

func TestCancel(t *testing.T) {
	ex, st, f := newExecutions(t)
	ctx := testCtx(t)
	e, err := ex.Enqueue(ctx, "owner1", f.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now().UTC().Add(-2 * time.Second)
	if _, err := st.Executions.Update(ctx, "owner1", e.ID, func(x *domain.Execution) error {
		x.Status, x.StartTime = domain.StatusRunning, &started
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := ex.Cancel(ctx, "owner1", e.ID)
	if err != nil || got.Status != domain.StatusCancelled || got.EndTime == nil || got.Duration < 2 || got.Error != "cancelled by user" {
		t.Fatalf("cancel a running execution: %+v %v", got, err)
	}
	_, err = ex.Cancel(ctx, "owner1", e.ID)
	var pe *domain.PublicError
	if !errors.Is(err, domain.ErrConflict) || !errors.As(err, &pe) || pe.Message != "execution already ended with status cancelled" {
		t.Errorf("cancel again: %v", err)
	}
	if _, err := ex.Cancel(ctx, "owner2", e.ID); !errors.Is(err, domain.ErrExecutionNotFound) {
		t.Errorf("cancel another owner's execution: %v", err)
	}
}

func TestListValidates(t *testing.T) {
	ex, _, _ := newExecutions(t)
	ctx := testCtx(t)
	for _, f := range []domain.ExecutionFilter{
		{Status: "done"}, {Limit: -1}, {Limit: domain.MaxListLimit + 1},
	} {
		if _, err := ex.List(ctx, "owner1", f); !errors.Is(err, domain.ErrInvalidInput) {
			t.Errorf("List(%+v) = %v; want ErrInvalidInput", f, err)
		}
	}
	if p, err := ex.List(ctx, "owner1", domain.ExecutionFilter{}); err != nil || p.Executions == nil || len(p.Executions) != 0 || p.Next != "" {
		t.Errorf("empty list: %+v %v", p, err)
	}
	if _, err := ex.List(ctx, "owner1", domain.ExecutionFilter{Cursor: "not-a-cursor"}); !errors.Is(err, domain.ErrInvalidInput) {
		t.Errorf("List with a malformed cursor = %v; want ErrInvalidInput", err)
	}
}

func TestFunctionPatchSemantics(t *testing.T) {
	st := platformtest.NewStack(t)
	fns := service.NewFunctions(st.Functions)
	ctx := testCtx(t)
	ptr := func(s string) *string { return &s }
	zero := 0
	if _, err := fns.Create(ctx, "o", service.FunctionPatch{Name: ptr("f"), ImageURL: ptr("busybox"), Timeout: &zero}); !errors.Is(err, domain.ErrInvalidInput) {
		t.Errorf("explicit timeout 0 on create: %v; want ErrInvalidInput", err)
	}
	f, err := fns.Create(ctx, "o", service.FunctionPatch{Name: ptr("f"), ImageURL: ptr("busybox"), Env: map[string]string{"A": "1"}})
	if err != nil || f.Timeout != domain.DefaultTimeoutSeconds || f.Network != domain.NetworkNone {
		t.Fatalf("create: %+v %v", f, err)
	}
	if _, err := fns.Update(ctx, "o", f.ID, service.FunctionPatch{Timeout: &zero}); !errors.Is(err, domain.ErrInvalidInput) {
		t.Errorf("explicit timeout 0 on update: %v", err)
	}
	g, err := fns.Update(ctx, "o", f.ID, service.FunctionPatch{Description: ptr("d")})
	if err != nil || g.Description != "d" || g.Env["A"] != "1" || g.Timeout != f.Timeout || !g.CreatedAt.Equal(f.CreatedAt) {
		t.Fatalf("partial update: %+v %v", g, err)
	}
	var hooked string
	fns.OnDelete(func(_ context.Context, owner, id string) error { hooked = owner + "/" + id; return nil })
	if err := fns.Delete(ctx, "o", f.ID); err != nil || hooked != "o/"+f.ID {
		t.Errorf("delete: %v, hook saw %q", err, hooked)
	}
	if l, err := fns.List(ctx, "o"); err != nil || l == nil || len(l) != 0 {
		t.Errorf("list after delete: %v %v", l, err)
	}
}
