package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"
)

// Info is a worker's state as its sidecar and its heartbeats report it.
type Info struct {
	ID               string    `json:"id"`
	Address          string    `json:"address"`
	Status           string    `json:"status"` // "running" or "draining"
	ActiveExecutions int       `json:"active_executions"`
	Executions       []string  `json:"executions"`
	MaxConcurrent    int       `json:"max_concurrent"`
	LastHeartbeat    time.Time `json:"last_heartbeat"`
}

// Sidecar is the worker's own small HTTP server (fasthttp): /health for
// liveness, /status for what it runs now. The autoscaler and operators read it.
type Sidecar struct {
	w        *Worker
	log      *zap.Logger
	srv      *fasthttp.Server
	addr     string
	draining atomic.Bool
}

// NewSidecar returns a sidecar reporting on w.
func NewSidecar(w *Worker, logger *zap.Logger) *Sidecar {
	s := &Sidecar{w: w, log: logger.With(zap.String("worker_id", w.ID()))}
	s.srv = &fasthttp.Server{
		Handler:      s.handle,
		Name:         "faas-worker",
		ReadTimeout:  5 * time.Second,
		WriteTimeout: 5 * time.Second,
		IdleTimeout:  30 * time.Second,
	}
	return s
}

// Listen binds addr (port 0 picks one) and serves in the background.
func (s *Sidecar) Listen(addr string) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("worker sidecar listen on %s: %w", addr, err)
	}
	s.addr = ln.Addr().String()
	go func() {
		if err := s.srv.Serve(ln); err != nil {
			s.log.Error("worker sidecar stopped", zap.Error(err))
		}
	}()
	return ln.Addr(), nil
}

// SetDraining marks the worker as taking no new work.
func (s *Sidecar) SetDraining() { s.draining.Store(true) }

// Info is the worker's current state.
func (s *Sidecar) Info() Info {
	active := s.w.Active()
	status := "running"
	if s.draining.Load() {
		status = "draining"
	}
	return Info{
		ID: s.w.ID(), Address: s.addr, Status: status,
		ActiveExecutions: len(active), Executions: active,
		MaxConcurrent: s.w.MaxConcurrent(), LastHeartbeat: time.Now().UTC(),
	}
}

// Shutdown stops the server, letting open requests end.
func (s *Sidecar) Shutdown(ctx context.Context) error {
	if err := s.srv.ShutdownWithContext(ctx); err != nil {
		return fmt.Errorf("worker sidecar shutdown: %w", err)
	}
	return nil
}

func (s *Sidecar) handle(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsHead() {
		writeJSON(ctx, fasthttp.StatusMethodNotAllowed, map[string]any{"error": map[string]string{"code": "invalid_input", "message": "only GET is served here"}})
		return
	}
	switch string(ctx.Path()) {
	case "/health":
		writeJSON(ctx, fasthttp.StatusOK, map[string]string{"status": "ok"})
	case "/status":
		writeJSON(ctx, fasthttp.StatusOK, s.Info())
	default:
		writeJSON(ctx, fasthttp.StatusNotFound, map[string]any{"error": map[string]string{"code": "not_found", "message": "no such route"}})
	}
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = fasthttp.StatusInternalServerError, []byte(`{"error":{"code":"internal_error","message":"encoding failed"}}`)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
}

// Heartbeat reports s.Info through put every interval until ctx ends.
func (s *Sidecar) Heartbeat(ctx context.Context, interval time.Duration, put func(context.Context, Info) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := put(ctx, s.Info()); err != nil && ctx.Err() == nil {
			s.log.Warn("heartbeat failed", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
