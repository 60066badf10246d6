package api_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/faasplatform/faas/api/apitest"
	"github.com/faasplatform/faas/ratelimit"
)

// TestRequestRateLimit: RATE_LIMIT counts per user once authenticated and
// per client address before; the request past it answers 429 rate_limited
// with Retry-After and the quota headers; health is never counted; another
// user keeps their own quota.
func TestRequestRateLimit(t *testing.T) {
	st := apitest.NewStack(t)
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
	st := apitest.NewStack(t)
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
