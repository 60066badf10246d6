package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/faasplatform/faas/api"
	"github.com/faasplatform/faas/domain"
)

// fakeUsers knows one token.
type fakeUsers struct{ api.Users }

func (fakeUsers) Authenticate(_ context.Context, token string) (*domain.User, error) {
	if token == "good" {
		return &domain.User{ID: "u1", Username: "alice"}, nil
	}
	return nil, domain.ErrUnauthorized
}

// fakeFunctions holds u1's functions.
type fakeFunctions struct {
	api.Functions
	fns map[string]*domain.Function
}

func (f fakeFunctions) Get(_ context.Context, owner, id string) (*domain.Function, error) {
	if fn, ok := f.fns[id]; ok && fn.Owner == owner {
		return fn, nil
	}
	return nil, domain.ErrFunctionNotFound
}

// brokenExecutions fails as a store does when NATS is away, with a detail
// that must not reach the answer.
type brokenExecutions struct{ api.Executions }

func (brokenExecutions) Get(context.Context, string, string) (*domain.Execution, error) {
	return nil, fmt.Errorf("read ex.u1.x: nats: connection to 10.0.0.7:4222 refused (secret detail)")
}

func (brokenExecutions) Wait(context.Context, string, string, time.Duration) (*domain.Execution, bool, error) {
	return nil, false, errors.New("unused")
}

// TestHandlerOnFakes: the handler runs on small fakes of its ports (no NATS,
// no platform): answers come from the ports through the one error mapper,
// and an internal failure shows no detail.
func TestHandlerOnFakes(t *testing.T) {
	fns := fakeFunctions{fns: map[string]*domain.Function{
		"f1": {ID: "f1", Name: "echo", Owner: "u1", ImageURL: "faas-examples/echo:latest", Network: "none"},
		"f2": {ID: "f2", Name: "other", Owner: "u2"},
	}}
	h := api.New(api.Deps{Users: fakeUsers{}, Functions: fns, Executions: brokenExecutions{}}, zap.NewNop())
	tests := []struct {
		name, path, token string
		status            int
		want, notWant     string
	}{
		{"own function", "/api/v1/functions/f1", "good", 200, `"name":"echo"`, ""},
		{"another owner's function", "/api/v1/functions/f2", "good", 404, `"function_not_found"`, "other"},
		{"no token", "/api/v1/functions/f1", "", 401, `"unauthorized"`, "echo"},
		{"a store failure", "/api/v1/executions/x", "good", 500, `"internal_error"`, "secret detail"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodGet, tt.path, nil)
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body := rec.Body.String()
		if rec.Code != tt.status || !strings.Contains(body, tt.want) || (tt.notWant != "" && strings.Contains(body, tt.notWant)) {
			t.Errorf("%s: %d %s; want %d with %s and without %q", tt.name, rec.Code, body, tt.status, tt.want, tt.notWant)
		}
	}
}
