package tests

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/faasplatform/faas/api/apitest"
	"github.com/faasplatform/faas/internal/eventually"
	"github.com/faasplatform/faas/platform/platformtest"
	"github.com/faasplatform/faas/ratelimit"
)

// TestRequestRateLimit: RATE_LIMIT counts per user once authenticated and
// per client address before; the request past it answers 429 rate_limited
// with Retry-After and the quota headers; health is never counted; another
// user keeps their own quota.
func TestRequestRateLimit(t *testing.T) {
	st := platformtest.NewStack(t)
	st.Deps.RateLimit, st.Deps.RateLimitWindow = ratelimit.New(6, time.Hour, nil), time.Hour
	base := st.Serve(t)
	f := apitest.NewFixture(t, base, st.Secret)
	alice := f.Register(t, "alice") // the address: register + login
	bob := f.Register(t, "bob")     // 4 of 6
	for range 10 {
		apitest.Check(t, apitest.Case{Status: http.StatusOK}, apitest.Do(t, base, http.MethodGet, "/api/v1/health", "", nil, nil))
	}
	for i := 1; i <= 6; i++ {
		r := apitest.Do(t, base, http.MethodGet, "/api/v1/users/me", alice.Token, nil, nil)
		apitest.Check(t, apitest.Case{Status: http.StatusOK}, r)
		if got := r.Header.Get("X-RateLimit-Remaining"); got != strconv.Itoa(6-i) {
			t.Errorf("call %d: X-RateLimit-Remaining %q, want %d", i, got, 6-i)
		}
	}
	r := apitest.Do(t, base, http.MethodGet, "/api/v1/users/me", alice.Token, nil, nil)
	apitest.Check(t, apitest.Case{Status: http.StatusTooManyRequests, Code: "rate_limited"}, r)
	if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 3600 {
		t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	if r.Header.Get("X-RateLimit-Limit") != "6" || r.Header.Get("X-RateLimit-Remaining") != "0" || r.Header.Get("X-RateLimit-Reset") == "" {
		t.Errorf("quota headers %v", r.Header)
	}
	apitest.Check(t, apitest.Case{Status: http.StatusOK}, apitest.Do(t, base, http.MethodGet, "/api/v1/users/me", bob.Token, nil, nil))
	// The address has 2 left: two anonymous requests, then 429.
	for i, want := range []int{http.StatusBadRequest, http.StatusBadRequest, http.StatusTooManyRequests} {
		r := apitest.Do(t, base, http.MethodPost, "/api/v1/users/login", "", "{}", nil)
		if r.Status != want {
			t.Errorf("anonymous call %d: %d %s, want %d", i+1, r.Status, r.Body, want)
		}
	}
}

// TestLoginRateLimit: LOGIN_RATE_LIMIT failed logins of one username (from
// any address) or from one address (for any username) refuse the next
// login with 429, even with the right password; successes are not counted.
func TestLoginRateLimit(t *testing.T) {
	st := platformtest.NewStack(t)
	st.Deps.LoginLimit = ratelimit.New(3, time.Hour, nil)
	base := st.Serve(t)
	f := apitest.NewFixture(t, base, st.Secret)
	carol := f.Register(t, "carol")
	login := func(name, pw string) *apitest.Response {
		return apitest.Do(t, base, http.MethodPost, "/api/v1/users/login", "", map[string]string{"username": name, "password": pw}, nil)
	}
	for range 5 {
		apitest.Check(t, apitest.Case{Status: http.StatusOK}, login(carol.Username, carol.Password))
	}
	for i := range 3 {
		if r := login(carol.Username, "wrong-password"); r.Status != http.StatusUnauthorized {
			t.Fatalf("failed login %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	r := login(carol.Username, carol.Password)
	apitest.Check(t, apitest.Case{Status: http.StatusTooManyRequests, Code: "rate_limited"}, r)
	if r.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	// The address is spent too: another name from it is refused.
	apitest.Check(t, apitest.Case{Status: http.StatusTooManyRequests, Code: "rate_limited"}, login(f.Name("dave"), "whatever-pw"))
	// A token already issued still works.
	apitest.Check(t, apitest.Case{Status: http.StatusOK}, apitest.Do(t, base, http.MethodGet, "/api/v1/users/me", carol.Token, nil, nil))
}

// TestWaitCap: with MaxWaitsPerUser 1, a second ?wait=true of the same user
// answers 202 pending at once while the first still waits; another user
// still waits; once the first has ended, a wait is possible again. Nothing
// runs the executions (no worker): each wait ends when the test cancels its
// execution.
func TestWaitCap(t *testing.T) {
	st := platformtest.NewStack(t)
	st.Deps.MaxWaitsPerUser, st.Deps.WaitTimeout = 1, 5*time.Minute
	base := st.Serve(t)
	f := apitest.NewFixture(t, base, st.Secret)
	alice, bob := f.Register(t, "alice"), f.Register(t, "bob")
	fa := f.CreateFunction(t, alice, "waiter", nil)
	fb := f.CreateFunction(t, bob, "waiter", nil)

	// waitFor starts a ?wait=true run of fn as u and returns its answer's
	// channel and the id of its execution once it exists (its request then
	// holds a wait slot: the slot is taken before the execution is made).
	waitFor := func(u *apitest.User, fn string) (<-chan *apitest.Response, string) {
		seen := map[string]bool{}
		for _, e := range listExecutions(t, f, u) {
			seen[e] = true
		}
		ch := make(chan *apitest.Response, 1)
		go func() {
			ch <- apitest.Do(t, base, http.MethodPost, "/api/v1/executions?wait=true", u.Token,
				map[string]any{"function_id": fn}, nil)
		}()
		var id string
		eventually.True(t, 30*time.Second, func() bool {
			for _, e := range listExecutions(t, f, u) {
				if !seen[e] {
					id = e
					return true
				}
			}
			return false
		}, "the waiting execution never appeared")
		return ch, id
	}
	cancel := func(u *apitest.User, id string) {
		apitest.Check(t, apitest.Case{Status: http.StatusOK},
			apitest.Do(t, base, http.MethodDelete, "/api/v1/executions/"+id, u.Token, nil, nil))
	}
	ended := func(ch <-chan *apitest.Response, what string) {
		r := <-ch
		if r.Status != http.StatusOK || r.Map(t)["status"] != "cancelled" {
			t.Errorf("%s: %d %s, want 200 cancelled after waiting", what, r.Status, r.Body)
		}
	}

	first, firstID := waitFor(alice, fa)
	r := apitest.Do(t, base, http.MethodPost, "/api/v1/executions?wait=true", alice.Token, map[string]any{"function_id": fa}, nil)
	if r.Status != http.StatusAccepted || r.Map(t)["status"] != "pending" {
		t.Fatalf("second wait of alice: %d %s, want 202 pending at once", r.Status, r.Body)
	}
	other, otherID := waitFor(bob, fb)
	cancel(alice, firstID)
	ended(first, "alice's first wait")
	cancel(bob, otherID)
	ended(other, "bob's wait")
	again, againID := waitFor(alice, fa)
	cancel(alice, againID)
	ended(again, "alice's wait after the first ended")
}

// listExecutions returns the ids of u's executions.
func listExecutions(t *testing.T, f *apitest.Fixture, u *apitest.User) []string {
	t.Helper()
	var l struct{ Executions []struct{ ID string } }
	r := f.Do(t, http.MethodGet, "/api/v1/executions", u.Token, nil)
	apitest.Check(t, apitest.Case{Status: http.StatusOK}, r)
	r.Decode(t, &l)
	ids := make([]string, len(l.Executions))
	for i, e := range l.Executions {
		ids[i] = e.ID
	}
	return ids
}
