package tests

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/faasplatform/faas/api"
	"github.com/faasplatform/faas/api/apitest"
	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/platform/platformtest"
	"github.com/faasplatform/faas/service"
)

// TestContract runs the shared contract suites over real HTTP against the
// API on real NATS stores.
func TestContract(t *testing.T) {
	st := platformtest.NewStack(t)
	apitest.RunAll(t, st.Serve(t), st.Secret)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestDeleteUserRemovesEverything checks in the stores themselves that a
// deleted user's functions and executions are gone.
func TestDeleteUserRemovesEverything(t *testing.T) {
	st := platformtest.NewStack(t)
	var hooked atomic.Value
	st.UserService.OnDelete(service.OwnerDeleterFunc(func(_ context.Context, owner string) error {
		hooked.Store(owner)
		return nil
	}))
	f := apitest.NewFixture(t, st.Serve(t), st.Secret)
	u := f.Register(t, "leaver")
	keep := f.Register(t, "stayer")
	for _, name := range []string{"one", "two"} {
		id := f.CreateFunction(t, u, name, nil)
		f.Enqueue(t, u, id, "x")
		f.Enqueue(t, keep, f.CreateFunction(t, keep, name, nil), "y")
	}
	if r := f.Do(t, http.MethodDelete, "/api/v1/users/me", u.Token, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if _, err := st.Users.Get(ctx(t), u.ID); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("user record: %v", err)
	}
	// The cleanup runs apart from the request, under its own deadline.
	if err := st.UserService.WaitCascades(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if fs, err := st.Functions.List(ctx(t), u.ID); err != nil || len(fs) != 0 {
		t.Errorf("functions left: %d, %v", len(fs), err)
	}
	if p, err := st.Executions.List(ctx(t), u.ID, domain.ExecutionFilter{}); err != nil || len(p.Executions) != 0 || p.Next != "" {
		t.Errorf("executions left: %d (next %q), %v", len(p.Executions), p.Next, err)
	}
	if hooked.Load() != u.ID {
		t.Errorf("OnDelete hook got %v", hooked.Load())
	}
	if fs, _ := st.Functions.List(ctx(t), keep.ID); len(fs) != 2 {
		t.Errorf("the other user has %d functions left, want 2", len(fs))
	}
	if p, _ := st.Executions.List(ctx(t), keep.ID, domain.ExecutionFilter{}); len(p.Executions) != 2 {
		t.Errorf("the other user has %d executions left, want 2", len(p.Executions))
	}
}

// TestWait covers ?wait=true: 202 with the pending state when nothing ends
// it in time, 200 with the final record when a (simulated) worker ends it.
func TestWait(t *testing.T) {
	st := platformtest.NewStack(t)
	st.Deps.WaitTimeout = 300 * time.Millisecond
	base := st.Serve(t)
	f := apitest.NewFixture(t, base, st.Secret)
	u := f.Register(t, "waiter")
	fn := f.CreateFunction(t, u, "w", nil)

	start := time.Now()
	r := f.Do(t, http.MethodPost, "/api/v1/executions?wait=true", u.Token, map[string]any{"function_id": fn, "input": "x"})
	if r.Status != http.StatusAccepted || r.Map(t)["status"] != "pending" {
		t.Fatalf("wait without a worker: %d %s", r.Status, r.Body)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 20*time.Second { // generous upper bound
		t.Errorf("wait took %v, want about 300ms", d)
	}

	// A fake worker: complete every pending execution of the user.
	st.Deps.WaitTimeout = 10 * time.Second
	base = st.Serve(t)
	f = apitest.NewFixture(t, base, st.Secret)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			p, err := st.Executions.List(context.Background(), u.ID, domain.ExecutionFilter{Status: domain.StatusPending})
			if err != nil {
				continue
			}
			for _, e := range p.Executions {
				_, _ = st.Executions.Update(context.Background(), u.ID, e.ID, func(x *domain.Execution) error {
					now := time.Now().UTC()
					x.Status, x.Output, x.StartTime, x.EndTime, x.Duration = domain.StatusComplete, "done:"+x.Input, &now, &now, 0.001
					return nil
				})
			}
		}
	}()
	r = f.Do(t, http.MethodPost, "/api/v1/executions?wait=true", u.Token, map[string]any{"function_id": fn, "input": "y"})
	if r.Status != http.StatusOK {
		t.Fatalf("wait with a worker: %d %s", r.Status, r.Body)
	}
	if m := r.Map(t); m["status"] != "complete" || m["output"] != "done:y" {
		t.Errorf("ended execution %v", m)
	}
}

// failingQueue refuses every job.
type failingQueue struct{}

func (failingQueue) Enqueue(context.Context, domain.Job, string) (uint64, error) {
	return 0, errors.New("nats: no responders at 10.0.0.1:4222")
}

// TestEnqueueFailure: a refused job answers 503 without internals and
// leaves the record failed, not pending.
func TestEnqueueFailure(t *testing.T) {
	st := platformtest.NewStack(t)
	st.Deps.Executions = service.NewExecutions(st.Functions, st.Executions, failingQueue{}, st.Leases)
	f := apitest.NewFixture(t, st.Serve(t), st.Secret)
	u := f.Register(t, "unlucky")
	fn := f.CreateFunction(t, u, "fn", nil)
	r := f.Do(t, http.MethodPost, "/api/v1/executions", u.Token, map[string]any{"function_id": fn})
	apitest.Check(t, apitest.Case{Status: http.StatusServiceUnavailable, Code: "unavailable"}, r)
	if strings.Contains(string(r.Body), "10.0.0.1") {
		t.Errorf("answer leaks internals: %s", r.Body)
	}
	p, err := st.Executions.List(ctx(t), u.ID, domain.ExecutionFilter{})
	if err != nil || len(p.Executions) != 1 {
		t.Fatalf("records: %v, %v", p.Executions, err)
	}
	es := p.Executions
	if es[0].Status != domain.StatusFailed || es[0].Error != "could not queue the execution" || es[0].EndTime == nil {
		t.Errorf("record %+v; want failed with the queue error", es[0])
	}
}

// TestHealth: failing, slow and panicking checks answer 503 with the
// health body naming them, plus the error envelope.
func TestHealth(t *testing.T) {
	st := platformtest.NewStack(t)
	st.Deps.HealthTimeout = 200 * time.Millisecond
	st.Deps.Health = map[string]func(context.Context) error{
		"nats": func(context.Context) error { return nil },
		"docker": func(context.Context) error {
			return domain.Errorf(domain.ErrUnavailable, "docker daemon not reachable")
		},
		"slow": func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		},
		"secret": func(context.Context) error { return errors.New("dial unix /var/run/secret.sock: refused") },
		"panics": func(context.Context) error { panic("boom") },
	}
	base := st.Serve(t)
	start := time.Now()
	r := apitest.Do(t, base, http.MethodGet, "/api/v1/health", "", nil, nil)
	// Generous for a loaded machine: without the 200 ms timeout the slow
	// check holds the answer for good.
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("health took %v; checks must run in parallel with a timeout", d)
	}
	apitest.Check(t, apitest.Case{Status: http.StatusServiceUnavailable, Code: "unavailable"}, r)
	var h struct {
		Status string
		Checks map[string]string
		Error  struct{ Message string }
	}
	r.Decode(t, &h)
	want := map[string]string{"nats": "ok", "docker": "docker daemon not reachable", "slow": "timeout",
		"secret": "unavailable", "panics": "unavailable"}
	if h.Status != "unavailable" {
		t.Errorf("status %q", h.Status)
	}
	for k, v := range want {
		if h.Checks[k] != v {
			t.Errorf("check %s = %q, want %q", k, h.Checks[k], v)
		}
	}
	if h.Error.Message != "docker, panics, secret, slow checks failed" {
		t.Errorf("message %q", h.Error.Message)
	}
}

// TestWorkersStatus lists the workers and the pending count; without a
// lister the route answers 503.
func TestWorkersStatus(t *testing.T) {
	st := platformtest.NewStack(t)
	beat := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	st.Deps.Workers = api.WorkerFuncs{
		List: func(context.Context) ([]api.WorkerStatus, error) {
			return []api.WorkerStatus{{ID: "w2", Status: "idle", MaxConcurrent: 10, LastHeartbeat: beat},
				{ID: "w1", Status: "busy", ActiveExecutions: 3, MaxConcurrent: 10, LastHeartbeat: beat}}, nil
		},
		Pending: func(context.Context) (int, error) { return 7, nil },
	}
	f := apitest.NewFixture(t, st.Serve(t), st.Secret)
	u := f.Register(t, "ops")
	r := f.Do(t, http.MethodGet, "/api/v1/workers/status", u.Token, nil)
	want := `{"workers":[{"id":"w1","status":"busy","active_executions":3,"max_concurrent":10,"last_heartbeat":"2025-01-02T03:04:05Z"},` +
		`{"id":"w2","status":"idle","active_executions":0,"max_concurrent":10,"last_heartbeat":"2025-01-02T03:04:05Z"}],"pending":7}`
	if r.Status != http.StatusOK || strings.TrimSpace(string(r.Body)) != want {
		t.Errorf("workers status %d %s", r.Status, r.Body)
	}

	// Once an autoscaler runs, its desired count and last change show.
	wf := st.Deps.Workers.(api.WorkerFuncs)
	wf.Autoscaler = func(context.Context) (*api.AutoscalerStatus, error) {
		return &api.AutoscalerStatus{Desired: 4, LastScale: &api.LastScale{At: beat, From: 2, To: 4, Reason: "backlog"}}, nil
	}
	st.Deps.Workers = wf
	r = apitest.Do(t, st.Serve(t), http.MethodGet, "/api/v1/workers/status", u.Token, nil, nil)
	wantAS := `"pending":7,"autoscaler":{"desired":4,"last_scale":{"at":"2025-01-02T03:04:05Z","from":2,"to":4,"reason":"backlog"}}}`
	if r.Status != http.StatusOK || !strings.HasSuffix(strings.TrimSpace(string(r.Body)), wantAS) {
		t.Errorf("workers status with an autoscaler %d %s", r.Status, r.Body)
	}

	st.Deps.Workers = nil
	r = apitest.Do(t, st.Serve(t), http.MethodGet, "/api/v1/workers/status", u.Token, nil, nil)
	apitest.Check(t, apitest.Case{Status: http.StatusServiceUnavailable, Code: "unavailable"}, r)

	// The real registry through the stack's wiring.
	st2 := platformtest.NewStack(t)
	f2 := apitest.NewFixture(t, st2.Serve(t), st2.Secret)
	u2 := f2.Register(t, "ops")
	f2.Enqueue(t, u2, f2.CreateFunction(t, u2, "q", nil), "x")
	r = f2.Do(t, http.MethodGet, "/api/v1/workers/status", u2.Token, nil)
	if r.Status != http.StatusOK || r.Map(t)["pending"] != float64(1) {
		t.Errorf("stack workers status %d %s; want pending 1", r.Status, r.Body)
	}
}

// TestExtraRoutesAndPanics: Extra routes share the table, auth, path
// parameters and the panic guard.
func TestExtraRoutesAndPanics(t *testing.T) {
	st := platformtest.NewStack(t)
	st.Deps.Extra = []api.Route{
		{Method: http.MethodGet, Pattern: "/api/function-objects/{function_id}/{name...}", Auth: true,
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				u, _ := api.UserFromContext(r.Context())
				api.WriteJSON(w, http.StatusOK, map[string]string{
					"user": u.ID, "function_id": r.PathValue("function_id"), "name": r.PathValue("name")})
			})},
		{Method: http.MethodGet, Pattern: "/api/v1/metrics",
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain; version=0.0.4")
				_, _ = w.Write([]byte("up 1\n"))
			})},
		{Method: http.MethodGet, Pattern: "/boom",
			Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("kaboom") })},
		{Method: http.MethodGet, Pattern: "/not-found",
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				api.WriteError(w, domain.Errorf(domain.ErrObjectNotFound, "no object %q", "x"))
			})},
	}
	base := st.Serve(t)
	f := apitest.NewFixture(t, base, st.Secret)
	u := f.Register(t, "extra")
	apitest.Run(t, base, []apitest.Case{
		{Name: "extra with rest parameter", Method: http.MethodGet, Path: "/api/function-objects/fn1/a/b/c.txt", Token: u.Token,
			Status: http.StatusOK, Check: func(t *testing.T, r *apitest.Response) {
				m := r.Map(t)
				if m["user"] != u.ID || m["function_id"] != "fn1" || m["name"] != "a/b/c.txt" {
					t.Errorf("got %v", m)
				}
			}},
		{Name: "extra needs auth", Method: http.MethodGet, Path: "/api/function-objects/fn1/x", Status: http.StatusUnauthorized, Code: "unauthorized"},
		{Name: "rest parameter must not be empty", Method: http.MethodGet, Path: "/api/function-objects/fn1", Token: u.Token,
			Status: http.StatusNotFound, Code: "invalid_input"},
		{Name: "extra wrong method", Method: http.MethodPost, Path: "/api/v1/metrics", Status: http.StatusMethodNotAllowed,
			Code: "invalid_input", Allow: "GET"},
		{Name: "panic", Method: http.MethodGet, Path: "/boom", Status: http.StatusInternalServerError, Code: "internal_error",
			Check: func(t *testing.T, r *apitest.Response) {
				if strings.Contains(string(r.Body), "kaboom") {
					t.Error("panic value leaked")
				}
			}},
		{Name: "WriteError from an extra route", Method: http.MethodGet, Path: "/not-found",
			Status: http.StatusNotFound, Code: "object_not_found"},
	})
	r := apitest.Do(t, base, http.MethodGet, "/api/v1/metrics", "", nil, nil)
	if r.Status != http.StatusOK || string(r.Body) != "up 1\n" || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("metrics: %d %q %q", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
}

// TestRequestLog: one line per request with method, route, status,
// duration and user, and never the token or a body.
func TestRequestLog(t *testing.T) {
	st := platformtest.NewStack(t)
	core, logs := observer.New(zapcore.DebugLevel)
	base := func() string {
		ts := httptest.NewServer(api.New(st.Deps, zap.New(core)))
		t.Cleanup(ts.Close)
		return ts.URL
	}()
	f := apitest.NewFixture(t, base, st.Secret)
	u := f.Register(t, "logged") // 2 requests: register, login
	_ = f.Do(t, http.MethodGet, "/api/v1/functions/nope", u.Token, nil)
	_ = f.Do(t, http.MethodGet, "/api/v1/nowhere", u.Token, nil)

	entries := logs.FilterMessage("request").All()
	if len(entries) != 4 {
		t.Fatalf("%d request lines for 4 requests", len(entries))
	}
	for _, e := range entries {
		for _, fld := range e.Context {
			if strings.Contains(fld.String, u.Token) || strings.Contains(fld.String, u.Password) {
				t.Errorf("log field %s carries a secret", fld.Key)
			}
		}
	}
	get := entries[2].ContextMap()
	if get["method"] != "GET" || get["route"] != "/api/v1/functions/{id}" || get["status"] != int64(404) ||
		get["user_id"] != u.ID || get["duration"] == nil || get["error"] == nil {
		t.Errorf("log line %v", get)
	}
	if m := entries[3].ContextMap(); m["path"] != "/api/v1/nowhere" || m["status"] != int64(404) {
		t.Errorf("unmatched log line %v", m)
	}
}
