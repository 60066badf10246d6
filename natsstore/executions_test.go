package natsstore

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/internal/eventually"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
)

var baseTime = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func newExecution(owner, fn string, created time.Time, status domain.Status) *domain.Execution {
	return &domain.Execution{
		ID: uuid.NewString(), FunctionID: fn, Owner: owner, Status: status,
		Input: `{"n":1}`, CreatedAt: created,
	}
}

// waitObjects waits up to 5 s for the execution-data store to hold n
// objects (retired objects go after a grace period) and returns their names.
func waitObjects(t *testing.T, ctx context.Context, js jetstream.JetStream, n int) []string {
	t.Helper()
	var names []string
	eventually.Within(5*time.Second, func() bool { names = objectNames(t, ctx, js); return len(names) == n })
	return names
}

// objectNames names the live objects in the execution-data store by their
// chunk subjects (one per object; a deleted object has none). The object
// store's own List is avoided: its watcher can wait until ctx ends when
// objects are deleted meanwhile.
func objectNames(t *testing.T, ctx context.Context, js jetstream.JetStream) []string {
	t.Helper()
	s, err := js.Stream(ctx, "OBJ_"+ObjectStoreExecData)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter("$O."+ObjectStoreExecData+".C.>"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for subject := range info.State.Subjects {
		names = append(names, subject)
	}
	slices.Sort(names)
	return names
}

func TestExecutionStoreLargeFields(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	s := NewExecutionStore(env.b.Executions, env.b.ExecutionIndex, env.b.ExecutionData)
	s.objectGrace = time.Second
	owner := uuid.NewString()

	e := newExecution(owner, "fn", baseTime, domain.StatusPending)
	e.Input = strings.Repeat("i", domain.MaxInputBytes)
	if err := s.Create(ctx, e); err != nil {
		t.Fatalf("Create with a large input: %v", err)
	}

	// Control characters take six bytes in JSON: 1 MiB of them would be
	// 6 MiB inline.
	output := strings.Repeat("o\x01", domain.MaxOutputBytes/2)
	logs := strings.Repeat("log line\n", domain.MaxLogBytes/9)
	end := baseTime.Add(time.Minute)
	_, err := s.Update(ctx, owner, e.ID, func(e *domain.Execution) error {
		e.Status, e.Output, e.Logs, e.LogsTruncated, e.EndTime = domain.StatusComplete, output, logs, true, &end
		return nil
	})
	if err != nil {
		t.Fatalf("Update with 1 MiB output and logs: %v", err)
	}
	got, err := s.Get(ctx, owner, e.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got.Input != e.Input || got.Output != output || got.Logs != logs || !got.LogsTruncated ||
		got.Status != domain.StatusComplete || !got.EndTime.Equal(end) {
		t.Errorf("round trip lost data: status %s, input %d, output %d, logs %d bytes, truncated %v",
			got.Status, len(got.Input), len(got.Output), len(got.Logs), got.LogsTruncated)
	}
	if n := len(objectNames(t, ctx, env.js)); n != 3 {
		t.Errorf("%d objects, want 3 (input, output, logs)", n)
	}

	// An update that leaves the large fields alone keeps their objects; one
	// that replaces a field drops the old object.
	before := objectNames(t, ctx, env.js)
	if _, err := s.Update(ctx, owner, e.ID, func(e *domain.Execution) error { e.Error = "note"; return nil }); err != nil {
		t.Fatal(err)
	}
	if after := objectNames(t, ctx, env.js); !slices.Equal(before, after) {
		t.Errorf("objects changed by a small update: %v → %v", before, after)
	}
	if _, err := s.Update(ctx, owner, e.ID, func(e *domain.Execution) error { e.Output = "small"; return nil }); err != nil {
		t.Fatal(err)
	}
	if names := waitObjects(t, ctx, env.js, 2); len(names) != 2 {
		t.Errorf("objects after the output shrank: %v, want 2", names)
	}
	if got, _ := s.Get(ctx, owner, e.ID); got.Output != "small" || got.Logs != logs {
		t.Errorf("after shrinking: output %q, logs %d bytes", got.Output, len(got.Logs))
	}

	page, err := s.List(ctx, owner, domain.ExecutionFilter{})
	list := page.Executions
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v", list, err)
	}
	if l := list[0]; l.Input != "" || l.Output != "" || l.Logs != "" || !l.LogsTruncated || l.Error != "note" {
		t.Errorf("List item keeps large fields or loses metadata: %+v", l)
	}

	if err := s.DeleteOwner(ctx, owner); err != nil {
		t.Fatalf("DeleteOwner: %v", err)
	}
	if _, err := s.Get(ctx, owner, e.ID); !errors.Is(err, domain.ErrExecutionNotFound) {
		t.Errorf("Get after DeleteOwner: %v", err)
	}
	if names := objectNames(t, ctx, env.js); len(names) != 0 {
		t.Errorf("objects left after DeleteOwner: %v", names)
	}
}

func TestExecutionStoreList(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	s := NewExecutionStore(env.b.Executions, env.b.ExecutionIndex, env.b.ExecutionData)
	owner, other := uuid.NewString(), uuid.NewString()

	// e0 oldest … e4 newest; e3 and e4 share a CreatedAt: the order of
	// the Creates decides.
	at := []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}
	fns := []string{"f1", "f2", "f1", "f2", "f1"}
	statuses := []domain.Status{domain.StatusComplete, domain.StatusFailed, domain.StatusPending, domain.StatusComplete, domain.StatusComplete}
	var all []*domain.Execution
	for i := range at {
		e := newExecution(owner, fns[i], baseTime.Add(at[i]), statuses[i])
		if err := s.Create(ctx, e); err != nil {
			t.Fatal(err)
		}
		all = append(all, e)
	}
	if err := s.Create(ctx, newExecution(other, "f1", baseTime, domain.StatusComplete)); err != nil {
		t.Fatal(err)
	}
	newest, second := all[4], all[3]

	cases := []struct {
		name   string
		filter domain.ExecutionFilter
		want   []*domain.Execution
		more   bool // a next page
	}{
		{"all, newest first", domain.ExecutionFilter{}, []*domain.Execution{newest, second, all[2], all[1], all[0]}, false},
		{"by function", domain.ExecutionFilter{FunctionID: "f2"}, []*domain.Execution{all[3], all[1]}, false},
		{"by status", domain.ExecutionFilter{Status: domain.StatusComplete}, []*domain.Execution{newest, second, all[0]}, false},
		{"by function and status", domain.ExecutionFilter{FunctionID: "f1", Status: domain.StatusComplete}, []*domain.Execution{all[4], all[0]}, false},
		{"limit", domain.ExecutionFilter{Limit: 2}, []*domain.Execution{newest, second}, true},
		{"limit over the count", domain.ExecutionFilter{Limit: domain.MaxListLimit + 1}, []*domain.Execution{newest, second, all[2], all[1], all[0]}, false},
		{"no match", domain.ExecutionFilter{FunctionID: "nope"}, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			page, err := s.List(ctx, owner, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if (page.Next != "") != tc.more {
				t.Errorf("next %q, want a next page: %v", page.Next, tc.more)
			}
			var gotIDs, wantIDs []string
			for _, e := range page.Executions {
				gotIDs = append(gotIDs, e.ID)
				if e.Input != "" {
					t.Errorf("List returned input of %s", e.ID)
				}
			}
			for _, e := range tc.want {
				wantIDs = append(wantIDs, e.ID)
			}
			if !slices.Equal(gotIDs, wantIDs) {
				t.Errorf("ids = %v, want %v", gotIDs, wantIDs)
			}
		})
	}

	// The default limit applies when none is given.
	for i := range domain.DefaultListLimit {
		if err := s.Create(ctx, newExecution(owner, "bulk", baseTime.Add(time.Duration(i)*time.Millisecond), domain.StatusPending)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.List(ctx, owner, domain.ExecutionFilter{})
	if err != nil || len(got.Executions) != domain.DefaultListLimit || got.Next == "" {
		t.Errorf("List without limit = %d items, next %q, %v; want %d and a next page", len(got.Executions), got.Next, err, domain.DefaultListLimit)
	}
}

func TestExecutionStoreScopeAndErrors(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	s := NewExecutionStore(env.b.Executions, env.b.ExecutionIndex, env.b.ExecutionData)
	owner, other := uuid.NewString(), uuid.NewString()
	e := newExecution(owner, "f", baseTime, domain.StatusPending)
	if err := s.Create(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, e); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("second Create of one id: %v, want ErrConflict", err)
	}

	noop := func(*domain.Execution) error { return nil }
	cases := []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := s.Get(ctx, other, e.ID); return err }},
		{"Update", func() error { _, err := s.Update(ctx, other, e.ID, noop); return err }},
		{"Watch", func() error { _, err := s.Watch(ctx, other, e.ID); return err }},
		{"Watch missing", func() error { _, err := s.Watch(ctx, owner, uuid.NewString()); return err }},
		{"Get bad id", func() error { _, err := s.Get(ctx, owner, "a.>"); return err }},
	}
	for _, tc := range cases {
		if err := tc.call(); !errors.Is(err, domain.ErrExecutionNotFound) {
			t.Errorf("%s: %v, want ErrExecutionNotFound", tc.name, err)
		}
	}
	if page, err := s.List(ctx, other, domain.ExecutionFilter{}); err != nil || len(page.Executions) != 0 || page.Next != "" {
		t.Errorf("List of another owner = %+v, %v", page, err)
	}

	// mutate refusing a final status comes back as is.
	final := errors.New("already final")
	refuseFinal := func(e *domain.Execution) error {
		if e.Status.Final() {
			return final
		}
		e.Status = domain.StatusCancelled
		return nil
	}
	if _, err := s.Update(ctx, owner, e.ID, refuseFinal); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, owner, e.ID, refuseFinal); err != final {
		t.Errorf("second cancel: %v, want the mutate error", err)
	}
}

func TestExecutionStoreConcurrentUpdate(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	s := NewExecutionStore(env.b.Executions, env.b.ExecutionIndex, env.b.ExecutionData)
	s.objectGrace = time.Second
	owner := uuid.NewString()
	e := newExecution(owner, "f", baseTime, domain.StatusRunning)
	if err := s.Create(ctx, e); err != nil {
		t.Fatal(err)
	}
	const n = 20
	done := make(chan error, n)
	for range n {
		go func() {
			_, err := s.Update(ctx, owner, e.ID, func(e *domain.Execution) error {
				e.Attempts++
				e.Logs += strings.Repeat("x", InlineLimit/8) // grows past InlineLimit midway
				return nil
			})
			done <- err
		}()
	}
	for range n {
		if err := <-done; err != nil {
			t.Errorf("Update: %v", err)
		}
	}
	got, err := s.Get(ctx, owner, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Attempts != n || len(got.Logs) != n*InlineLimit/8 {
		t.Errorf("attempts %d, logs %d bytes: updates lost", got.Attempts, len(got.Logs))
	}
	if names := waitObjects(t, ctx, env.js, 1); len(names) != 1 {
		t.Errorf("objects %v, want just the current logs", names)
	}
}

func TestExecutionStoreWatch(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	s := NewExecutionStore(env.b.Executions, env.b.ExecutionIndex, env.b.ExecutionData)
	owner := uuid.NewString()
	e := newExecution(owner, "f", baseTime, domain.StatusPending)
	if err := s.Create(ctx, e); err != nil {
		t.Fatal(err)
	}

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := s.Watch(wctx, owner, e.ID)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	first := <-ch
	if first.Status != domain.StatusPending {
		t.Errorf("first value status %s, want the current one (pending)", first.Status)
	}

	bigOutput := strings.Repeat("z", 200<<10)
	go func() {
		for _, st := range []domain.Status{domain.StatusRunning, domain.StatusComplete} {
			// Not synchronisation (the watch is open, its first value
			// read): spaces the writes so that the watch usually sees each;
			// the test holds whatever values the watch skips.
			time.Sleep(20 * time.Millisecond)
			_, err := s.Update(ctx, owner, e.ID, func(e *domain.Execution) error {
				e.Status = st
				if st.Final() {
					e.Output = bigOutput
				}
				return nil
			})
			if err != nil {
				t.Errorf("Update to %s: %v", st, err)
			}
		}
	}()

	timeout := time.After(5 * time.Second)
	for done := false; !done; {
		select {
		case got, ok := <-ch:
			if !ok {
				t.Fatal("channel closed before the final status")
			}
			if got.Status.Final() {
				if got.Status != domain.StatusComplete || got.Output != bigOutput {
					t.Errorf("final value: status %s, output %d bytes", got.Status, len(got.Output))
				}
				done = true
			}
		case <-timeout:
			t.Fatal("final status not seen")
		}
	}

	cancel()
	select {
	case _, ok := <-ch:
		for ok {
			_, ok = <-ch
		}
	case <-time.After(10 * time.Second):
		t.Fatal("channel not closed after ctx ended")
	}
}

// TestExecutionStoreWatchDuringUpdates starts watches while the record is
// being rewritten, as a sync request does while a worker claims its
// execution: an existing record is never reported missing.
func TestExecutionStoreWatchDuringUpdates(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	s := NewExecutionStore(env.b.Executions, env.b.ExecutionIndex, env.b.ExecutionData)
	owner := uuid.NewString()
	const rounds = 200
	for i := range rounds {
		e := newExecution(owner, "f", baseTime, domain.StatusPending)
		if err := s.Create(ctx, e); err != nil {
			t.Fatal(err)
		}
		updated := make(chan error, 1)
		go func() {
			_, err := s.Update(ctx, owner, e.ID, func(e *domain.Execution) error {
				e.Status = domain.StatusRunning
				return nil
			})
			updated <- err
		}()
		wctx, cancel := context.WithCancel(ctx)
		ch, err := s.Watch(wctx, owner, e.ID)
		if err != nil {
			cancel()
			t.Fatalf("round %d: Watch of an existing record: %v", i, err)
		}
		if got := <-ch; got.ID != e.ID {
			t.Errorf("round %d: first value is %s", i, got.ID)
		}
		cancel()
		if err := <-updated; err != nil {
			t.Fatal(err)
		}
	}
}
