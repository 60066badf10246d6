// Package objects is the objects service of contract §3: the HTTP routes
// under /api/function-objects that store, serve, list and delete a
// function's objects, for the function's owner (user JWT) or for one of the
// function's running executions (its FAAS_TOKEN). The routes join the API's
// table (api.Deps.Extra), so they share its router, error envelope and
// request log; the standalone gateway serves them on its port, and APISIX
// proxies /api/function-objects/* to that same service, bodies included,
// without the plugin runner (which cannot carry bodies over ~214 KiB). The
// service therefore checks every token itself.
package objects

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"go.uber.org/zap"

	"github.com/faasplatform/faas/api"
	"github.com/faasplatform/faas/auth"
	"github.com/faasplatform/faas/domain"
)

// Route patterns.
const (
	ListPattern = "/api/function-objects/{function_id}"
	ItemPattern = "/api/function-objects/{function_id}/{name...}"
)

// Store keeps the objects' content and metadata (natsstore.Objects).
type Store interface {
	Put(ctx context.Context, owner, functionID, name, contentType string, body io.Reader, limit int64) (domain.Object, bool, error)
	Stat(ctx context.Context, functionID, name string) (domain.Object, error)
	Open(ctx context.Context, functionID, name string, offset int64) (domain.Object, io.ReadCloser, error)
	Delete(ctx context.Context, functionID, name string) error
	List(ctx context.Context, functionID, prefix string) ([]domain.Object, error)
	Usage(ctx context.Context, functionID string) (int64, error)
}

// Functions finds an owner's function (service.Functions): another user's
// function is domain.ErrFunctionNotFound.
type Functions interface {
	Get(ctx context.Context, owner, id string) (*domain.Function, error)
}

// Users authenticates a user token (service.Users).
type Users interface {
	Authenticate(ctx context.Context, token string) (*domain.User, error)
}

// Executions finds an owner's execution (natsstore.ExecutionStore), to
// refuse the token of one that has ended.
type Executions interface {
	Get(ctx context.Context, owner, id string) (*domain.Execution, error)
}

// ExecutionTokens verifies execution tokens (auth.ExecutionTokens).
type ExecutionTokens interface {
	Verify(token string) (auth.ExecutionClaims, error)
}

// Limits are the operator's object limits (OBJECT_MAX_BYTES,
// FUNCTION_OBJECTS_QUOTA).
type Limits struct {
	MaxObjectBytes int64
	FunctionQuota  int64
}

// DefaultLimits are contract §2's defaults: 64 MiB per object, 1 GiB per
// function.
var DefaultLimits = Limits{MaxObjectBytes: 64 << 20, FunctionQuota: 1 << 30}

// Deps is what the service serves from; every field is required.
type Deps struct {
	Store      Store
	Functions  Functions
	Users      Users
	Executions Executions
	Tokens     ExecutionTokens
	Limits     Limits
}

// Handler serves the objects routes.
type Handler struct {
	d   Deps
	log *zap.Logger
}

// New returns the objects service. It panics when a dependency or a limit
// is missing: a wiring error found at start.
func New(d Deps, log *zap.Logger) *Handler {
	if d.Store == nil || d.Functions == nil || d.Users == nil || d.Executions == nil || d.Tokens == nil {
		panic("objects: Deps needs Store, Functions, Users, Executions and Tokens")
	}
	if d.Limits.MaxObjectBytes <= 0 || d.Limits.FunctionQuota <= 0 {
		panic("objects: limits must be positive")
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Handler{d: d, log: log}
}

// Routes are the service's routes for api.Deps.Extra. They are not marked
// Auth: the api handler knows only user tokens, and these routes also take
// execution tokens, so each handler authenticates the request itself.
func (h *Handler) Routes() []api.Route {
	return []api.Route{
		{Method: http.MethodGet, Pattern: ListPattern, Handler: h.serve(h.list)},
		{Method: http.MethodPut, Pattern: ItemPattern, Handler: h.serve(h.put)},
		{Method: http.MethodGet, Pattern: ItemPattern, Handler: h.serve(h.get)},
		{Method: http.MethodHead, Pattern: ItemPattern, Handler: h.serve(h.head)},
		{Method: http.MethodDelete, Pattern: ItemPattern, Handler: h.serve(h.delete)},
	}
}

// request is an authorized request on one function's objects.
type request struct {
	owner      string
	functionID string
	name       string // "" on the list route
}

// serve authorizes the request for its function, checks the object name on
// the item routes, runs fn and answers its error with the API's envelope
// (when nothing was written yet).
func (h *Handler) serve(fn func(w *statusWriter, r *http.Request, q request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		err := func() error {
			q := request{functionID: r.PathValue("function_id"), name: r.PathValue("name")}
			owner, err := h.authorize(r, q.functionID)
			if err != nil {
				return err
			}
			q.owner = owner
			if q.name != "" {
				if err := domain.ValidateObjectName(q.name); err != nil {
					return err
				}
			}
			return fn(sw, r, q)
		}()
		switch {
		case err == nil:
		case sw.wrote:
			h.log.Warn("object answer cut short", zap.String("method", r.Method),
				zap.String("function_id", r.PathValue("function_id")), zap.Error(err))
		default:
			api.WriteError(w, err)
		}
	})
}

// authorize returns the owner whose function functionID the request may
// use: the caller's, with a user token, or the execution's, with an
// execution token of that very function whose execution has not ended.
func (h *Handler) authorize(r *http.Request, functionID string) (string, error) {
	token, err := api.BearerToken(r)
	if err != nil {
		return "", err
	}
	ctx := r.Context()
	if c, err := h.d.Tokens.Verify(token); err == nil {
		return h.authorizeExecution(ctx, c, functionID)
	}
	u, err := h.d.Users.Authenticate(ctx, token)
	if err != nil {
		return "", fmt.Errorf("objects of %s: %w", functionID, err)
	}
	if _, err := h.d.Functions.Get(ctx, u.ID, functionID); err != nil {
		return "", fmt.Errorf("objects of %s: %w", functionID, err)
	}
	return u.ID, nil
}

// errExecutionEnded is the public answer to the token of an execution that
// has ended (or no longer exists): 401, the token is spent.
var errExecutionEnded = domain.Errorf(domain.ErrUnauthorized, "the execution this token was issued to has ended")

// authorizeExecution checks an execution token's claims against the
// request. Another function's objects answer 404 function_not_found, as for
// a function that does not exist (contract §3: "as if absent"), so a token
// never tells which other function ids exist.
func (h *Handler) authorizeExecution(ctx context.Context, c auth.ExecutionClaims, functionID string) (string, error) {
	if c.FunctionID != functionID {
		return "", fmt.Errorf("execution %s token used for function %s: %w", c.ExecutionID, functionID,
			domain.Errorf(domain.ErrFunctionNotFound, "function not found"))
	}
	e, err := h.d.Executions.Get(ctx, c.OwnerID, c.ExecutionID)
	if errors.Is(err, domain.ErrExecutionNotFound) {
		return "", fmt.Errorf("execution %s gone: %w", c.ExecutionID, errExecutionEnded)
	}
	if err != nil {
		return "", fmt.Errorf("execution token: %w", err)
	}
	if e.FunctionID != c.FunctionID {
		return "", fmt.Errorf("execution %s is of function %s, not %s: %w", e.ID, e.FunctionID, c.FunctionID,
			domain.Errorf(domain.ErrUnauthorized, "invalid or expired token"))
	}
	if e.Status.Final() {
		return "", fmt.Errorf("execution %s is %s: %w", e.ID, e.Status, errExecutionEnded)
	}
	if _, err := h.d.Functions.Get(ctx, c.OwnerID, functionID); err != nil {
		return "", fmt.Errorf("objects of %s: %w", functionID, err)
	}
	return c.OwnerID, nil
}

// statusWriter remembers whether the answer has begun, so a failure after
// that is logged instead of answered.
type statusWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *statusWriter) WriteHeader(status int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
