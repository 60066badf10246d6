// Package api is the platform's HTTP API (contract §3) as one http.Handler:
// routing, bearer-token authentication, strict JSON decoding, the error
// envelope and the request log all live here, so the standalone gateway and
// the APISIX plugin (which builds an *http.Request and calls ServeHTTP)
// answer every request identically. It depends only on http.Handler
// semantics, never on a net/http server's internals.
package api

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/ratelimit"
	"github.com/faasplatform/faas/wire"
)

// Defaults of the Deps durations.
const (
	// DefaultWaitTimeout is how long POST /executions?wait=true waits for
	// the end (contract §3: 50 s; APISIX allows a plugin call 56 s).
	DefaultWaitTimeout = 50 * time.Second
	// DefaultHealthTimeout bounds each health check.
	DefaultHealthTimeout = 2 * time.Second
)

// WorkerStatus is one row of GET /api/v1/workers/status.
type WorkerStatus = wire.WorkerStatus

// WorkerLister reports the live workers and the number of queued jobs not
// yet taken by one, for GET /api/v1/workers/status.
type WorkerLister interface {
	ListWorkers(ctx context.Context) ([]WorkerStatus, error)
	PendingJobs(ctx context.Context) (int, error)
}

// AutoscalerStatus is the "autoscaler" object of GET /api/v1/workers/status:
// the acting autoscaler's desired worker count and its last change.
type AutoscalerStatus = wire.AutoscalerStatus

// LastScale is the autoscaler's last change of the pool.
type LastScale = wire.LastScale

// AutoscalerReporter is a WorkerLister that also knows the autoscaler's
// state; nil, nil means no autoscaler runs.
type AutoscalerReporter interface {
	AutoscalerStatus(ctx context.Context) (*AutoscalerStatus, error)
}

// WorkerFuncs adapts two functions to WorkerLister, so wiring code can hand
// over, say, a worker registry's List and a consumer's pending count without
// a named type.
type WorkerFuncs struct {
	List    func(ctx context.Context) ([]WorkerStatus, error)
	Pending func(ctx context.Context) (int, error)
	// Autoscaler, when set, reports the autoscaler (AutoscalerReporter).
	Autoscaler func(ctx context.Context) (*AutoscalerStatus, error)
}

// AutoscalerStatus calls f.Autoscaler (nil when unset).
func (f WorkerFuncs) AutoscalerStatus(ctx context.Context) (*AutoscalerStatus, error) {
	if f.Autoscaler == nil {
		return nil, nil
	}
	return f.Autoscaler(ctx)
}

// ListWorkers calls f.List.
func (f WorkerFuncs) ListWorkers(ctx context.Context) ([]WorkerStatus, error) { return f.List(ctx) }

// PendingJobs calls f.Pending.
func (f WorkerFuncs) PendingJobs(ctx context.Context) (int, error) { return f.Pending(ctx) }

// RedrivePattern is the route of a dead letter's redrive; a 202 on it is
// one redrive (faas_redrives_total counts them from the request records).
const RedrivePattern = "/api/v1/deadletters/{id}/redrive"

// Route is an extra route served through the same table, authentication,
// error envelope and request log as the built-in ones (e.g. metrics,
// objects). Pattern segments are literals, "{name}" or a final "{name...}";
// the handler reads them with r.PathValue and, when Auth is set, the caller
// with UserFromContext. Its body is not limited: the handler decides.
type Route struct {
	Method  string
	Pattern string
	Auth    bool
	Handler http.Handler
}

// Deps is what the handler serves from.
type Deps struct {
	Users      Users
	Functions  Functions
	Executions Executions
	// Health names the checks of GET /api/v1/health (e.g. "nats",
	// "docker"). A check returns nil when healthy; a domain.PublicError's
	// message is shown as the reason, any other error as "unavailable".
	Health map[string]func(context.Context) error
	// Workers serves GET /api/v1/workers/status; nil answers 503.
	Workers WorkerLister
	// WaitTimeout is the longest ?wait=true wait; zero means
	// DefaultWaitTimeout.
	WaitTimeout time.Duration
	// HealthTimeout bounds each health check; zero means
	// DefaultHealthTimeout.
	HealthTimeout time.Duration
	// Extra routes join the table after the built-in ones.
	Extra []Route
	// RateLimit counts every request but health's, per user once
	// authenticated and per client address before; nil: no limit (behind
	// APISIX, whose limit-count does it). RateLimitWindow is its window,
	// for messages.
	RateLimit       *ratelimit.Window
	RateLimitWindow time.Duration
	// LoginLimit counts failed logins per username and per client address;
	// a login whose username or address has none left answers 429. Nil: no
	// limit.
	LoginLimit *ratelimit.Window
	// MaxWaitsPerUser caps the ?wait=true requests one user has open at
	// once; past it a request answers 202 at once. 0: no cap.
	MaxWaitsPerUser int
	// Requests, when set, records every request by route pattern.
	Requests RequestObserver
}

// RequestObserver records one answered request: method, route pattern
// ("" when no route matched), status code and latency (metrics.Registry).
type RequestObserver interface {
	ObserveRequest(method, route string, code int, d time.Duration)
}

// handler is the API's http.Handler.
type handler struct {
	deps   Deps
	log    *zap.Logger
	router *router
	waits  *waitSlots
}

// New returns the API handler. It panics when a service is missing or an
// Extra route's pattern is malformed: both are wiring errors found at start.
func New(deps Deps, logger *zap.Logger) http.Handler {
	if deps.Users == nil || deps.Functions == nil || deps.Executions == nil {
		panic("api: Deps needs Users, Functions and Executions")
	}
	if deps.WaitTimeout <= 0 {
		deps.WaitTimeout = DefaultWaitTimeout
	}
	if deps.HealthTimeout <= 0 {
		deps.HealthTimeout = DefaultHealthTimeout
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	h := &handler{deps: deps, log: logger, router: newRouter(), waits: newWaitSlots(deps.MaxWaitsPerUser)}
	h.routes()
	for _, x := range deps.Extra {
		hh := x.Handler
		h.router.add(&route{method: x.Method, pattern: x.Pattern, auth: x.Auth,
			handle: func(w http.ResponseWriter, r *http.Request) error { hh.ServeHTTP(w, r); return nil }}, h.serveRoute)
	}
	return h
}

// routes is the table of contract §3 (objects and metrics come as Extra).
func (h *handler) routes() {
	add := func(method, pattern string, auth, body bool, fn func(http.ResponseWriter, *http.Request) error) {
		h.router.add(&route{method: method, pattern: pattern, auth: auth, limitBody: body, handle: fn}, h.serveRoute)
	}
	const open, authed, body, noBody = false, true, true, false
	add(http.MethodPost, "/api/v1/users/register", open, body, h.register)
	add(http.MethodPost, "/api/v1/users/login", open, body, h.login)
	add(http.MethodPost, "/api/v1/users/logout", authed, noBody, h.logout)
	add(http.MethodGet, "/api/v1/users/me", authed, noBody, h.getMe)
	add(http.MethodPut, "/api/v1/users/me", authed, body, h.updateMe)
	add(http.MethodDelete, "/api/v1/users/me", authed, noBody, h.deleteMe)

	add(http.MethodPost, "/api/v1/functions", authed, body, h.createFunction)
	add(http.MethodGet, "/api/v1/functions", authed, noBody, h.listFunctions)
	add(http.MethodGet, "/api/v1/functions/{id}", authed, noBody, h.getFunction)
	add(http.MethodPut, "/api/v1/functions/{id}", authed, body, h.updateFunction)
	add(http.MethodDelete, "/api/v1/functions/{id}", authed, noBody, h.deleteFunction)

	add(http.MethodPost, "/api/v1/executions", authed, body, h.createExecution)
	add(http.MethodGet, "/api/v1/executions", authed, noBody, h.listExecutions)
	add(http.MethodGet, "/api/v1/executions/{id}", authed, noBody, h.getExecution)
	add(http.MethodDelete, "/api/v1/executions/{id}", authed, noBody, h.cancelExecution)
	add(http.MethodGet, "/api/v1/executions/{id}/logs", authed, noBody, h.executionLogs)

	add(http.MethodGet, "/api/v1/deadletters", authed, noBody, h.listDeadLetters)
	add(http.MethodPost, RedrivePattern, authed, noBody, h.redriveDeadLetter)
	add(http.MethodDelete, "/api/v1/deadletters/{id}", authed, noBody, h.discardDeadLetter)

	add(http.MethodGet, healthPattern, open, noBody, h.health)
	add(http.MethodGet, OpenAPIPattern, open, noBody, h.openAPI)
	add(http.MethodGet, "/api/v1/workers/status", authed, noBody, h.workersStatus)
}

// recorder remembers what the handler answered, for the request log line.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int
	err    error
	userID string
	// pattern is the matched route's pattern, "" when none matched.
	pattern string
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush passes a flush through when the underlying writer supports it.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// userKey is the context key of the authenticated user.
type userKey struct{}

// UserFromContext returns the user that authenticated the request, if any.
func UserFromContext(ctx context.Context) (*domain.User, bool) {
	u, ok := ctx.Value(userKey{}).(*domain.User)
	return u, ok && u != nil
}

// user returns the authenticated user of a route with auth set.
func user(r *http.Request) *domain.User {
	u, _ := UserFromContext(r.Context())
	return u
}

// ServeHTTP routes, then serveRoute runs the route; it logs one line.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			rec.err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
			if rec.status == 0 {
				WriteJSON(rec, http.StatusInternalServerError,
					ErrorBody{Error: ErrorDetail{Code: CodeInternalError, Message: genericInternalMessage}})
			}
		}
		d := time.Since(start)
		h.logRequest(r, rec, d)
		if h.deps.Requests != nil {
			code := rec.status
			if code == 0 {
				code = http.StatusOK
			}
			h.deps.Requests.ObserveRequest(r.Method, rec.pattern, code, d)
		}
	}()

	routed, allowed, err := h.router.lookup(r)
	switch {
	case err != nil:
		WriteError(rec, err)
	case routed != nil:
		h.router.mux.ServeHTTP(rec, routed)
	case len(allowed) == 0:
		// The contract has no code for an unknown route; invalid_input
		// is the closest (the request, not a resource, is wrong).
		writeEnvelope(rec, http.StatusNotFound, CodeInvalidInput,
			fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
	default:
		rec.Header().Set("Allow", strings.Join(allowed, ", "))
		writeEnvelope(rec, http.StatusMethodNotAllowed, CodeInvalidInput,
			fmt.Sprintf("method %s is not allowed here; allowed: %s", r.Method, strings.Join(allowed, ", ")))
	}
}

// serveRoute runs a matched route (the mux calls it with ServeHTTP's
// recorder and the path values set): body limit, authentication, rate
// limit, identifier checks, then the route's own handler.
func (h *handler) serveRoute(rt *route, w http.ResponseWriter, r *http.Request) {
	rec, ok := w.(*recorder)
	if !ok {
		rec = &recorder{ResponseWriter: w}
	}
	rec.pattern = rt.pattern
	if rt.limitBody && r.ContentLength > MaxBodyBytes {
		WriteError(rec, errBodyTooLarge)
		return
	}
	if rt.auth {
		u, err := h.authenticate(r)
		if err != nil {
			WriteError(rec, err)
			return
		}
		rec.userID = u.ID
		r = r.WithContext(context.WithValue(r.Context(), userKey{}, u))
	}
	if rt.pattern != healthPattern {
		if err := h.takeRequest(rec, r, rec.userID); err != nil {
			WriteError(rec, err)
			return
		}
	}
	for _, name := range rt.ids {
		if err := domain.ValidateID(name, r.PathValue(name)); err != nil {
			WriteError(rec, err)
			return
		}
	}
	if err := rt.handle(rec, r); err != nil {
		if rec.status != 0 {
			// The answer has begun: it cannot turn into an error now.
			rec.err = err
			return
		}
		WriteError(rec, err)
	}
}

// writeEnvelope answers an error that has no domain error behind it (404 of
// an unknown route, 405).
func writeEnvelope(w http.ResponseWriter, status int, code, msg string) {
	WriteJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: msg}})
}

// authenticate checks the bearer token and loads its user.
func (h *handler) authenticate(r *http.Request) (*domain.User, error) {
	token, err := BearerToken(r)
	if err != nil {
		return nil, err
	}
	u, err := h.deps.Users.Authenticate(r.Context(), token)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.Method, r.URL.Path, err)
	}
	return u, nil
}

// BearerToken returns the token of r's "Authorization: Bearer <token>", or
// an unauthorized error saying how to send one. Extra routes that accept
// more than a user token (the objects service) authenticate with it.
func BearerToken(r *http.Request) (string, error) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", domain.Errorf(domain.ErrUnauthorized, "missing bearer token: send Authorization: Bearer <token>")
	}
	return strings.TrimSpace(token), nil
}

// logRequest writes the one log line of a request: never the Authorization
// header nor a body.
func (h *handler) logRequest(r *http.Request, rec *recorder, d time.Duration) {
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	fields := []zap.Field{
		zap.String("method", r.Method),
		zap.Int("status", status),
		zap.Duration("duration", d),
		zap.Int("bytes", rec.bytes),
	}
	if rec.pattern != "" {
		fields = append(fields, zap.String("route", rec.pattern))
	} else {
		fields = append(fields, zap.String("path", r.URL.Path))
	}
	if rec.userID != "" {
		fields = append(fields, zap.String("user_id", rec.userID))
	}
	if rec.err != nil {
		fields = append(fields, zap.String("error", rec.err.Error()))
	}
	switch {
	case status >= 500:
		h.log.Error("request", fields...)
	default:
		h.log.Info("request", fields...)
	}
}
