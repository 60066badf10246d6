package tests

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/faasplatform/faas/api/apitest"
	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/platform/platformtest"
	"github.com/faasplatform/faas/wire"
)

// listPage is the body of GET /api/v1/executions (package wire), with
// "next" as a pointer so that a test tells an absent cursor from an empty
// one.
type listPage struct {
	wire.ExecutionList
	Next *string `json:"next"`
}

// TestExecutionListPaging walks 2,500 executions of one user through the
// HTTP API in pages of 1000 following "next": none missing, none twice,
// newest first, and no "next" on the last page; then a filtered walk, and a
// malformed cursor answering 400. The executions are written straight to
// the store (no worker runs: they stay pending), one after another so that
// creation order and created_at agree.
func TestExecutionListPaging(t *testing.T) {
	st := platformtest.NewStack(t)
	f := apitest.NewFixture(t, st.Serve(t), st.Secret)
	u := f.Register(t, "pager")
	fnA := f.CreateFunction(t, u, "a", nil)
	fnB := f.CreateFunction(t, u, "b", nil)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const n = 2500
	base := time.Now().UTC().Add(-time.Hour)
	created := make([]string, n) // oldest first
	var ofB []string             // fnB's, oldest first
	for i := range n {
		fn := fnA
		if i%10 == 0 {
			fn = fnB
		}
		e := &domain.Execution{ID: uuid.NewString(), FunctionID: fn, Owner: u.ID, Status: domain.StatusPending,
			Input: "x", CreatedAt: base.Add(time.Duration(i) * time.Millisecond)}
		if err := st.Executions.Create(ctx, e); err != nil {
			t.Fatalf("create execution %d: %v", i, err)
		}
		created[i] = e.ID
		if fn == fnB {
			ofB = append(ofB, e.ID)
		}
	}

	// walk follows next from the first page of query and returns the ids
	// in the order listed and the size of each page.
	walk := func(t *testing.T, query url.Values) ([]string, []int) {
		t.Helper()
		var got []string
		var sizes []int
		var prev time.Time
		for range 100 {
			r := f.Do(t, http.MethodGet, "/api/v1/executions?"+query.Encode(), u.Token, nil)
			if r.Status != http.StatusOK {
				t.Fatalf("list %s: %d %s", query.Encode(), r.Status, r.Body)
			}
			var p listPage
			r.Decode(t, &p)
			for _, e := range p.Executions {
				if !prev.IsZero() && !e.CreatedAt.Before(prev) {
					t.Fatalf("%s (created %v) listed after one created %v: not newest first", e.ID, e.CreatedAt, prev)
				}
				prev = e.CreatedAt
				got = append(got, e.ID)
			}
			sizes = append(sizes, len(p.Executions))
			if p.Next == nil {
				return got, sizes
			}
			if *p.Next == "" {
				t.Fatal(`"next" present but empty: it should be left out`)
			}
			query.Set("cursor", *p.Next)
		}
		t.Fatal("the pages do not end")
		return nil, nil
	}
	check := func(t *testing.T, got, oldestFirst []string) {
		t.Helper()
		seen := map[string]bool{}
		for _, id := range got {
			if seen[id] {
				t.Errorf("%s listed twice", id)
			}
			seen[id] = true
		}
		for i, id := range oldestFirst {
			if !seen[id] {
				t.Errorf("execution %d (%s) missing", i, id)
			}
		}
		if len(got) != len(oldestFirst) {
			t.Fatalf("listed %d, want %d", len(got), len(oldestFirst))
		}
		for i, id := range got {
			if want := oldestFirst[len(oldestFirst)-1-i]; id != want {
				t.Fatalf("position %d: %s, want %s", i, id, want)
			}
		}
	}

	t.Run("pages of 1000", func(t *testing.T) {
		got, sizes := walk(t, url.Values{"limit": {"1000"}})
		check(t, got, created)
		if fmt.Sprint(sizes) != "[1000 1000 500]" {
			t.Errorf("page sizes %v, want [1000 1000 500]", sizes)
		}
	})
	t.Run("default limit", func(t *testing.T) {
		got, sizes := walk(t, url.Values{})
		check(t, got, created)
		if len(sizes) != n/domain.DefaultListLimit {
			t.Errorf("%d pages, want %d", len(sizes), n/domain.DefaultListLimit)
		}
	})
	t.Run("by function, pages of 100", func(t *testing.T) {
		// fnB has one execution in ten: pages may come short (each scans
		// a bounded stretch of the history), the walk still finds all.
		got, _ := walk(t, url.Values{"limit": {"100"}, "function_id": {fnB}, "status": {"pending"}})
		check(t, got, ofB)
	})
	t.Run("malformed cursor", func(t *testing.T) {
		for _, c := range []string{"nonsense", "v1.0", "v1.abc", "v9.5"} {
			r := f.Do(t, http.MethodGet, "/api/v1/executions?cursor="+url.QueryEscape(c), u.Token, nil)
			apitest.Check(t, apitest.Case{Name: "cursor " + c, Status: http.StatusBadRequest, Code: "invalid_input"}, r)
		}
	})
}
