package objects_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/faasplatform/faas/internal/eventually"
	"github.com/faasplatform/faas/platform/platformtest"
)

// TestObjectsGoWithTheirFunctionAndOwner: through HTTP, deleting a function
// removes its objects from the store, and deleting the user removes those of
// its other functions; an execution token of a deleted function answers 404.
func TestObjectsGoWithTheirFunctionAndOwner(t *testing.T) {
	st := platformtest.NewStack(t)
	f := st.ServeFixture(t)
	u := f.Register(t, "cascade")
	fn1 := f.CreateFunction(t, u, "cascade-one", nil)
	fn2 := f.CreateFunction(t, u, "cascade-two", nil)
	ex := f.Enqueue(t, u, fn1, "x")
	tok := f.ExecutionToken(t, u.ID, fn1, ex, time.Hour)
	for _, p := range []string{fn1 + "/a", fn1 + "/b/c", fn2 + "/d"} {
		if r := f.Do(t, http.MethodPut, "/api/function-objects/"+p, u.Token, "data"); r.Status != http.StatusCreated {
			t.Fatalf("put %s: %d %s", p, r.Status, r.Body)
		}
	}
	count := func(fn string) int {
		objs, err := st.Objects.List(context.Background(), fn, "")
		if err != nil {
			t.Fatal(err)
		}
		return len(objs)
	}
	if count(fn1) != 2 || count(fn2) != 1 {
		t.Fatalf("stored %d and %d objects, want 2 and 1", count(fn1), count(fn2))
	}

	if r := f.Do(t, http.MethodDelete, "/api/v1/functions/"+fn1, u.Token, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete function: %d %s", r.Status, r.Body)
	}
	eventually.True(t, 10*time.Second, func() bool { return count(fn1) == 0 }, "objects of a deleted function stay")
	if count(fn2) != 1 {
		t.Fatal("deleting one function removed another's objects")
	}
	// The function's executions went with it, so its execution's token is
	// refused as one whose execution is over.
	if r := f.Do(t, http.MethodGet, "/api/function-objects/"+fn1+"/a", tok, nil); r.Status != http.StatusUnauthorized {
		t.Errorf("execution token of a deleted function: %d %s, want 401", r.Status, r.Body)
	}

	if r := f.Do(t, http.MethodDelete, "/api/v1/users/me", u.Token, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete user: %d %s", r.Status, r.Body)
	}
	eventually.True(t, 30*time.Second, func() bool { return count(fn2) == 0 }, "objects of a deleted user stay")
}
