package natsstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/faasplatform/faas/domain"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
)

// walk lists every page of owner's executions matching f and returns them
// in the order the pages gave them, with the size of each page. It fails
// the test on an error or when the pages do not end.
func walk(t *testing.T, ctx context.Context, s *ExecutionStore, owner string, f domain.ExecutionFilter) ([]*domain.Execution, []int) {
	t.Helper()
	var all []*domain.Execution
	var sizes []int
	for range 10000 {
		page, err := s.List(ctx, owner, f)
		if err != nil {
			t.Fatalf("List(%+v): %v", f, err)
		}
		all = append(all, page.Executions...)
		sizes = append(sizes, len(page.Executions))
		if page.Next == "" {
			return all, sizes
		}
		if page.Next == f.Cursor {
			t.Fatalf("List(%+v) gave its own cursor as next", f)
		}
		f.Cursor = page.Next
	}
	t.Fatal("the pages do not end")
	return nil, nil
}

func ids(es []*domain.Execution) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

// newestFirst returns the ids of es, reversed (es in creation order), that
// keep returns true for.
func newestFirst(es []*domain.Execution, keep func(*domain.Execution) bool) []string {
	var out []string
	for i := len(es) - 1; i >= 0; i-- {
		if keep(es[i]) {
			out = append(out, es[i].ID)
		}
	}
	return out
}

// TestExecutionPaging walks 250 executions of one owner in pages, with and
// without filters: every execution comes once, newest first, pages are full
// but the last, and filters hold across pages. A status changed by Update
// is seen (the record keeps its index number through updates).
func TestExecutionPaging(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	s := NewExecutionStore(env.b.Executions, env.b.ExecutionIndex, env.b.ExecutionData)
	owner, other := uuid.NewString(), uuid.NewString()

	const n = 250
	var created []*domain.Execution
	for i := range n {
		fn := "f1"
		if i%3 == 0 {
			fn = "f2"
		}
		e := newExecution(owner, fn, baseTime.Add(time.Duration(i)*time.Second), domain.StatusPending)
		if err := s.Create(ctx, e); err != nil {
			t.Fatal(err)
		}
		created = append(created, e)
		if i%10 == 0 {
			if err := s.Create(ctx, newExecution(other, fn, baseTime, domain.StatusPending)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, e := range created {
		if i%4 != 0 {
			continue
		}
		e.Status = domain.StatusComplete
		if _, err := s.Update(ctx, owner, e.ID, func(x *domain.Execution) error { x.Status = domain.StatusComplete; return nil }); err != nil {
			t.Fatal(err)
		}
	}

	all := func(*domain.Execution) bool { return true }
	cases := []struct {
		name   string
		filter domain.ExecutionFilter
		keep   func(*domain.Execution) bool
	}{
		{"pages of 40", domain.ExecutionFilter{Limit: 40}, all},
		{"pages of 1", domain.ExecutionFilter{Limit: 1}, all},
		{"one page of 1000", domain.ExecutionFilter{Limit: 1000}, all},
		{"pages of 250 exactly", domain.ExecutionFilter{Limit: 250}, all},
		{"by function", domain.ExecutionFilter{Limit: 7, FunctionID: "f2"},
			func(e *domain.Execution) bool { return e.FunctionID == "f2" }},
		{"by status", domain.ExecutionFilter{Limit: 9, Status: domain.StatusComplete},
			func(e *domain.Execution) bool { return e.Status == domain.StatusComplete }},
		{"by function and status", domain.ExecutionFilter{Limit: 5, FunctionID: "f1", Status: domain.StatusPending},
			func(e *domain.Execution) bool { return e.FunctionID == "f1" && e.Status == domain.StatusPending }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, sizes := walk(t, ctx, s, owner, tc.filter)
			want := newestFirst(created, tc.keep)
			if !slices.Equal(ids(got), want) {
				t.Fatalf("walked %d executions, want %d, in creation order reversed", len(got), len(want))
			}
			for _, e := range got {
				if e.Input != "" || e.Owner != owner {
					t.Errorf("listed %s with input %q, owner %s", e.ID, e.Input, e.Owner)
				}
			}
			if tc.filter.FunctionID == "" && tc.filter.Status == "" {
				// Nothing skipped: every page but the last is full.
				for i, size := range sizes[:len(sizes)-1] {
					if size != tc.filter.Limit {
						t.Errorf("page %d holds %d, want %d", i, size, tc.filter.Limit)
					}
				}
			}
		})
	}

	// A cursor keeps its place while newer executions arrive: the walk
	// goes on with older ones only.
	first, err := s.List(ctx, owner, domain.ExecutionFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := s.Create(ctx, newExecution(owner, "f1", baseTime.Add(time.Hour), domain.StatusPending)); err != nil {
			t.Fatal(err)
		}
	}
	rest, _ := walk(t, ctx, s, owner, domain.ExecutionFilter{Limit: 100, Cursor: first.Next})
	if got, want := append(ids(first.Executions), ids(rest)...), newestFirst(created, all); !slices.Equal(got, want) {
		t.Errorf("a walk with executions created midway: %d listed, want the %d older ones", len(got), len(want))
	}
}

// TestExecutionPagingHoles: numbers without an entry, entries whose record
// is gone, and an entry naming a record numbered otherwise are skipped;
// a refused Create (id in use) lists nothing twice.
func TestExecutionPagingHoles(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	s := NewExecutionStore(env.b.Executions, env.b.ExecutionIndex, env.b.ExecutionData)
	owner := uuid.NewString()

	var created []*domain.Execution
	for i := range 20 {
		e := newExecution(owner, "f", baseTime.Add(time.Duration(i)*time.Second), domain.StatusPending)
		if err := s.Create(ctx, e); err != nil {
			t.Fatal(err)
		}
		created = append(created, e)
		if i%5 == 0 {
			// A Create that failed after numbering: a number and no entry.
			if _, err := s.index.next(ctx, owner); err != nil {
				t.Fatal(err)
			}
		}
	}
	gone := map[string]bool{}
	for _, i := range []int{0, 7, 8, 19} {
		if err := s.kv.Delete(ctx, executionKey(owner, created[i].ID)); err != nil {
			t.Fatal(err)
		}
		gone[created[i].ID] = true
	}
	// A second Create of an existing id is refused and lists nothing.
	if err := s.Create(ctx, created[3]); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("Create of an existing id: %v, want ErrConflict", err)
	}
	// An entry left naming a record of another number (the removal of a
	// refused Create's entry failed).
	n, err := s.index.next(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.index.put(ctx, owner, n, indexEntry{ID: created[5].ID, FunctionID: "f", CreatedAt: baseTime}); err != nil {
		t.Fatal(err)
	}

	want := newestFirst(created, func(e *domain.Execution) bool { return !gone[e.ID] })
	for _, limit := range []int{1, 3, 100} {
		got, _ := walk(t, ctx, s, owner, domain.ExecutionFilter{Limit: limit})
		if !slices.Equal(ids(got), want) {
			t.Errorf("pages of %d: listed %v, want %v", limit, ids(got), want)
		}
	}
}

// TestExecutionPagingScanBudget: a filter that matches nothing recent ends
// a page after scanBudget numbers, empty but with a cursor, so that no page
// reads the whole history; the walk still finds the old match.
func TestExecutionPagingScanBudget(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	s := NewExecutionStore(env.b.Executions, env.b.ExecutionIndex, env.b.ExecutionData)
	owner := uuid.NewString()
	rare := newExecution(owner, "rare", baseTime, domain.StatusPending)
	if err := s.Create(ctx, rare); err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := range n {
		if err := s.Create(ctx, newExecution(owner, "common", baseTime.Add(time.Duration(i+1)*time.Second), domain.StatusPending)); err != nil {
			t.Fatal(err)
		}
	}
	f := domain.ExecutionFilter{Limit: 2, FunctionID: "rare"}
	page, err := s.List(ctx, owner, f)
	if err != nil {
		t.Fatal(err)
	}
	budget := scanBudget(f.Limit)
	if len(page.Executions) != 0 || page.Next != encodeCursor(n+1-budget) {
		t.Errorf("first page: %d executions, next %q; want none and %q", len(page.Executions), page.Next, encodeCursor(n+1-budget))
	}
	got, sizes := walk(t, ctx, s, owner, f)
	if !slices.Equal(ids(got), []string{rare.ID}) {
		t.Errorf("walk found %v, want the one rare execution", ids(got))
	}
	if want := int((n + 1 + budget - 1) / budget); len(sizes) != want {
		t.Errorf("%d pages, want %d", len(sizes), want)
	}
}

// TestExecutionPagingCursors: a cursor is accepted only as given out; one
// past the newest number starts at the newest.
func TestExecutionPagingCursors(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	s := NewExecutionStore(env.b.Executions, env.b.ExecutionIndex, env.b.ExecutionData)
	owner := uuid.NewString()
	var created []*domain.Execution
	for i := range 3 {
		e := newExecution(owner, "f", baseTime.Add(time.Duration(i)*time.Second), domain.StatusPending)
		if err := s.Create(ctx, e); err != nil {
			t.Fatal(err)
		}
		created = append(created, e)
	}
	for _, c := range []string{"x", "v1.", "v1.0", "v1.01", "v1.-1", "v1.+1", "v1.1a", "v1. 1", "v2.1", "V1.1", "1",
		"v1.99999999999999999999", "v1.18446744073709551616", "v1.1.2"} {
		if _, err := s.List(ctx, owner, domain.ExecutionFilter{Cursor: c}); !errors.Is(err, domain.ErrInvalidInput) {
			t.Errorf("cursor %q: %v, want ErrInvalidInput", c, err)
		}
		// Malformed for an owner with no executions too.
		if _, err := s.List(ctx, uuid.NewString(), domain.ExecutionFilter{Cursor: c}); !errors.Is(err, domain.ErrInvalidInput) {
			t.Errorf("cursor %q of an empty owner: %v, want ErrInvalidInput", c, err)
		}
	}
	for c, want := range map[string][]string{
		"v1.2":                    {created[1].ID, created[0].ID},
		"v1.1":                    {created[0].ID},
		"v1.18446744073709551615": {created[2].ID, created[1].ID, created[0].ID},
	} {
		page, err := s.List(ctx, owner, domain.ExecutionFilter{Cursor: c})
		if err != nil || !slices.Equal(ids(page.Executions), want) || page.Next != "" {
			t.Errorf("cursor %q: %v next %q, %v; want %v", c, ids(page.Executions), page.Next, err, want)
		}
	}
}

// indexKeys returns the keys of the execution-index bucket of owner.
func indexKeys(t *testing.T, ctx context.Context, s *ExecutionStore, owner string) []string {
	t.Helper()
	entries, err := latestValues(ctx, s.index.kv, owner+".>")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, e := range entries {
		keys = append(keys, e.Key())
	}
	return keys
}

// TestExecutionPagingDeleteOwner: DeleteOwner clears the owner's counter
// and index entries and leaves other owners' alone; a later Create numbers
// from 1 again.
func TestExecutionPagingDeleteOwner(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	s := NewExecutionStore(env.b.Executions, env.b.ExecutionIndex, env.b.ExecutionData)
	owner, other := uuid.NewString(), uuid.NewString()
	for i := range 30 {
		for _, o := range []string{owner, other} {
			if err := s.Create(ctx, newExecution(o, "f", baseTime.Add(time.Duration(i)*time.Second), domain.StatusPending)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if keys := indexKeys(t, ctx, s, owner); len(keys) != 31 {
		t.Fatalf("%d index keys before DeleteOwner, want 30 entries and the counter", len(keys))
	}
	if err := s.DeleteOwner(ctx, owner); err != nil {
		t.Fatal(err)
	}
	if keys := indexKeys(t, ctx, s, owner); len(keys) != 0 {
		t.Errorf("index keys left: %v", keys)
	}
	if _, err := s.index.kv.Get(ctx, counterKey(owner)); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("counter after DeleteOwner: %v", err)
	}
	if page, err := s.List(ctx, owner, domain.ExecutionFilter{}); err != nil || len(page.Executions) != 0 || page.Next != "" {
		t.Errorf("List after DeleteOwner = %d, next %q, %v", len(page.Executions), page.Next, err)
	}
	if keys := indexKeys(t, ctx, s, other); len(keys) != 31 {
		t.Errorf("the other owner has %d index keys, want 31", len(keys))
	}
	if got, _ := walk(t, ctx, s, other, domain.ExecutionFilter{Limit: 7}); len(got) != 30 {
		t.Errorf("the other owner lists %d, want 30", len(got))
	}

	e := newExecution(owner, "f", baseTime, domain.StatusPending)
	if err := s.Create(ctx, e); err != nil {
		t.Fatal(err)
	}
	if last, err := s.index.last(ctx, owner); err != nil || last != 1 {
		t.Errorf("counter after a new Create: %d, %v; want 1", last, err)
	}
	if page, err := s.List(ctx, owner, domain.ExecutionFilter{}); err != nil || !slices.Equal(ids(page.Executions), []string{e.ID}) {
		t.Errorf("List after a new Create = %v, %v", ids(page.Executions), err)
	}
}

// TestExecutionPagingConcurrentCreates: Creates of one owner through two
// stores (as two processes would, each with its own locks and cached
// counter) number every execution once: the walk lists each exactly once.
func TestExecutionPagingConcurrentCreates(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	stores := []*ExecutionStore{
		NewExecutionStore(env.b.Executions, env.b.ExecutionIndex, env.b.ExecutionData),
		NewExecutionStore(env.b.Executions, env.b.ExecutionIndex, env.b.ExecutionData),
	}
	owner := uuid.NewString()
	const writers, each = 16, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	want := map[string]bool{}
	var mu sync.Mutex
	for w := range writers {
		wg.Go(func() {
			s := stores[w%len(stores)]
			for i := range each {
				e := newExecution(owner, fmt.Sprint("f", w), baseTime.Add(time.Duration(i)*time.Second), domain.StatusPending)
				if err := s.Create(ctx, e); err != nil {
					errs <- err
					continue
				}
				mu.Lock()
				want[e.ID] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Create: %v", err)
	}
	got, _ := walk(t, ctx, stores[0], owner, domain.ExecutionFilter{Limit: 50})
	seen := map[string]bool{}
	for _, e := range got {
		if seen[e.ID] || !want[e.ID] {
			t.Errorf("%s listed twice or never created", e.ID)
		}
		seen[e.ID] = true
	}
	if len(seen) != len(want) {
		t.Errorf("listed %d, want %d", len(seen), len(want))
	}
	if last, err := stores[1].index.last(ctx, owner); err != nil || last != writers*each {
		t.Errorf("counter %d, %v; want %d: numbers given twice or lost", last, err, writers*each)
	}
}
