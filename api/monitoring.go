package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/wire"
)

// healthBody is the body of GET /api/v1/health. When a check fails it also
// carries the error envelope, so that a client reading only "error" sees
// the failure like any other 503.
type healthBody = wire.Health

// health: GET /api/v1/health (no auth) → 200 when every check passes, 503
// naming the failed checks otherwise. Checks run in parallel, each bounded
// by Deps.HealthTimeout. A failure's reason is its PublicError message, or
// "timeout", or "unavailable": details go to the log, not to this
// unauthenticated answer.
func (h *handler) health(w http.ResponseWriter, r *http.Request) error {
	checks := make(map[string]string, len(h.deps.Health))
	var failed []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, check := range h.deps.Health {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reason := h.runCheck(r.Context(), name, check)
			mu.Lock()
			defer mu.Unlock()
			checks[name] = reason
			if reason != "ok" {
				failed = append(failed, name)
			}
		}()
	}
	wg.Wait()
	if len(failed) == 0 {
		WriteJSON(w, http.StatusOK, healthBody{Status: "ok", Checks: checks})
		return nil
	}
	sort.Strings(failed)
	word := "check"
	if len(failed) > 1 {
		word = "checks"
	}
	WriteJSON(w, http.StatusServiceUnavailable, healthBody{
		Status: "unavailable",
		Checks: checks,
		Error: &ErrorDetail{Code: CodeUnavailable,
			Message: fmt.Sprintf("%s %s failed", strings.Join(failed, ", "), word)},
	})
	return nil
}

// runCheck runs one check with the health timeout and returns "ok" or a
// short reason; a panicking check counts as failed.
func (h *handler) runCheck(ctx context.Context, name string, check func(context.Context) error) (reason string) {
	ctx, cancel := context.WithTimeout(ctx, h.deps.HealthTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("panic: %v", p)
			}
		}()
		done <- check(ctx)
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = fmt.Errorf("no answer within %s: %w", h.deps.HealthTimeout, ctx.Err())
	}
	if err == nil {
		return "ok"
	}
	h.log.Warn("health check failed", zap.String("check", name), zap.Error(err))
	var pe *domain.PublicError
	switch {
	case errors.As(err, &pe):
		return pe.Message
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	default:
		return "unavailable"
	}
}

// workersBody is the body of GET /api/v1/workers/status.
type workersBody = wire.Workers

// workersStatus: GET /api/v1/workers/status (auth) → 200 {workers, pending,
// autoscaler (once one runs)}.
func (h *handler) workersStatus(w http.ResponseWriter, r *http.Request) error {
	if h.deps.Workers == nil {
		return domain.Errorf(domain.ErrUnavailable, "worker status is not available here")
	}
	ws, err := h.deps.Workers.ListWorkers(r.Context())
	if err != nil {
		return fmt.Errorf("list workers: %w", err)
	}
	pending, err := h.deps.Workers.PendingJobs(r.Context())
	if err != nil {
		return fmt.Errorf("count pending jobs: %w", err)
	}
	if ws == nil {
		ws = []WorkerStatus{}
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].ID < ws[j].ID })
	body := workersBody{Workers: ws, Pending: pending}
	if rep, ok := h.deps.Workers.(AutoscalerReporter); ok {
		if body.Autoscaler, err = rep.AutoscalerStatus(r.Context()); err != nil {
			return fmt.Errorf("read the autoscaler state: %w", err)
		}
	}
	WriteJSON(w, http.StatusOK, body)
	return nil
}
