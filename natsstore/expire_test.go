package natsstore

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/faasplatform/faas/domain"
)

// TestExpireAndDeleteFunction: Expire removes an ended execution with its
// objects and index entry and leaves no marker; it refuses one not ended
// and is a no-op on one gone. DeleteFunction removes one function's
// executions, ended or not, and nothing of another function's.
func TestExpireAndDeleteFunction(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	s := NewExecutionStore(env.b.Executions, env.b.ExecutionIndex, env.b.ExecutionData)
	big := strings.Repeat("x", InlineLimit+1)

	ended := newExecution("alice", "fn-a", baseTime, domain.StatusComplete)
	ended.Output = big
	running := newExecution("alice", "fn-a", baseTime.Add(time.Second), domain.StatusRunning)
	other := newExecution("alice", "fn-b", baseTime.Add(2*time.Second), domain.StatusFailed)
	other.Input = big
	for _, e := range []*domain.Execution{ended, running, other} {
		if err := s.Create(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	waitObjects(t, ctx, env.js, 2)

	if err := s.Expire(ctx, "alice", running.ID); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("Expire of a running execution = %v, want ErrConflict", err)
	}
	if err := s.Expire(ctx, "alice", ended.ID); err != nil {
		t.Fatalf("Expire: %v", err)
	}
	if _, err := s.Get(ctx, "alice", ended.ID); !errors.Is(err, domain.ErrExecutionNotFound) {
		t.Fatalf("Get after Expire = %v, want not found", err)
	}
	if names := waitObjects(t, ctx, env.js, 1); len(names) != 1 {
		t.Fatalf("objects after Expire = %v, want only the other function's", names)
	}
	if err := s.Expire(ctx, "alice", ended.ID); err != nil {
		t.Fatalf("second Expire = %v, want nil", err)
	}
	page, err := s.List(ctx, "alice", domain.ExecutionFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Executions) != 2 {
		t.Fatalf("listed %d executions after Expire, want 2", len(page.Executions))
	}
	// Purged, not deleted: no marker is left in the bucket.
	if _, err := env.b.Executions.Get(ctx, executionKey("alice", ended.ID)); err == nil {
		t.Fatal("the expired record is still readable")
	}

	if err := s.DeleteFunction(ctx, "alice", "fn-a"); err != nil {
		t.Fatalf("DeleteFunction: %v", err)
	}
	if _, err := s.Get(ctx, "alice", running.ID); !errors.Is(err, domain.ErrExecutionNotFound) {
		t.Fatalf("Get of the deleted function's execution = %v, want not found", err)
	}
	got, err := s.Get(ctx, "alice", other.ID)
	if err != nil || got.Input != big {
		t.Fatalf("the other function's execution = %v, %v; want it intact", got, err)
	}
	page, err = s.List(ctx, "alice", domain.ExecutionFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Executions) != 1 || page.Executions[0].ID != other.ID {
		t.Fatalf("listed %+v after DeleteFunction, want only %s", page.Executions, other.ID)
	}
}

// TestEndedLog: announcing an ended execution logs it once (duplicates
// dropped); Oldest reads only what was logged before its bound, oldest
// first; Forget drops the entries up to a sequence.
func TestEndedLog(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	q := NewQueue(env.js)
	log := NewEndedLog(env.b.Ended)
	a := newExecution("alice", "fn", baseTime, domain.StatusComplete)
	b := newExecution("bob", "fn", baseTime, domain.StatusFailed)
	pending := newExecution("bob", "fn", baseTime, domain.StatusPending)
	for _, e := range []*domain.Execution{a, a, pending, b} {
		if err := q.PublishResult(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	none, err := log.Oldest(ctx, time.Now().Add(-time.Hour), 10)
	if err != nil || len(none) != 0 {
		t.Fatalf("Oldest before anything was logged = %v, %v; want none", none, err)
	}
	all, err := log.Oldest(ctx, time.Now().Add(time.Second), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].ID != a.ID || all[0].Owner != "alice" || all[1].ID != b.ID {
		t.Fatalf("Oldest = %+v, want %s then %s", all, a.ID, b.ID)
	}
	if err := log.Forget(ctx, all[0].Seq); err != nil {
		t.Fatal(err)
	}
	rest, err := log.Oldest(ctx, time.Now().Add(time.Second), 10)
	if err != nil || len(rest) != 1 || rest[0].ID != b.ID {
		t.Fatalf("Oldest after Forget = %+v, %v; want only %s", rest, err, b.ID)
	}
}

// TestExpireTakesSupersededObjects: objects an update stopped using are
// deleted by Expire even when their timer never fired (a restart).
func TestExpireTakesSupersededObjects(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	s := NewExecutionStore(env.b.Executions, env.b.ExecutionIndex, env.b.ExecutionData)
	s.objectGrace = time.Hour // the timers never fire within the test
	e := newExecution("alice", "fn", baseTime, domain.StatusRunning)
	if err := s.Create(ctx, e); err != nil {
		t.Fatal(err)
	}
	for i, status := range []domain.Status{domain.StatusRunning, domain.StatusComplete} {
		if _, err := s.Update(ctx, "alice", e.ID, func(x *domain.Execution) error {
			x.Output = strings.Repeat(string(rune('a'+i)), InlineLimit+1)
			x.Status = status
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(waitObjects(t, ctx, env.js, 2)); n != 2 {
		t.Fatalf("%d objects before Expire, want the current output and the superseded one", n)
	}
	if err := s.Expire(ctx, "alice", e.ID); err != nil {
		t.Fatal(err)
	}
	if names := waitObjects(t, ctx, env.js, 0); len(names) != 0 {
		t.Fatalf("objects left after Expire: %v", names)
	}
}
