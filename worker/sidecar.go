package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
	"go.uber.org/zap"
)

// Worker states of contract §6, as heartbeats and the sidecar report them.
const (
	StatusIdle     = "idle"     // handling no job
	StatusBusy     = "busy"     // handling at least one job
	StatusDraining = "draining" // taking no new job; exits once idle
)

// Info is a worker's state as its sidecar and its heartbeats report it.
type Info struct {
	ID               string    `json:"id"`
	Address          string    `json:"address"`
	Status           string    `json:"status"` // StatusIdle, StatusBusy or StatusDraining
	ActiveExecutions int       `json:"active_executions"`
	Executions       []string  `json:"executions"`
	MaxConcurrent    int       `json:"max_concurrent"`
	LastHeartbeat    time.Time `json:"last_heartbeat"`
}

// DrainResult is the answer to a drain request.
type DrainResult struct {
	Accepted bool   `json:"accepted"`
	Status   string `json:"status"`
	Active   int    `json:"active_executions"`
}

// Sidecar is the worker's own small HTTP server (fasthttp): GET /health for
// liveness, GET /status for what it runs now, POST /drain to retire it. The
// autoscaler and operators use it; it also sends the heartbeats.
type Sidecar struct {
	w    *Worker
	log  *zap.Logger
	srv  *fasthttp.Server
	addr string
	kick chan struct{} // a state change: beat now

	mu       sync.Mutex
	draining bool
	drained  chan struct{} // closed when draining starts

	metrics fasthttp.RequestHandler // GET /metrics; nil: not served
}

// ServeMetrics serves h (the worker's own Prometheus registry) on GET
// /metrics. Call it before Listen.
func (s *Sidecar) ServeMetrics(h http.Handler) {
	s.metrics = fasthttpadaptor.NewFastHTTPHandler(h)
}

// NewSidecar returns a sidecar reporting on w.
func NewSidecar(w *Worker, logger *zap.Logger) *Sidecar {
	s := &Sidecar{w: w, log: logger.With(zap.String("worker_id", w.ID())),
		kick: make(chan struct{}, 1), drained: make(chan struct{})}
	s.srv = &fasthttp.Server{
		Handler:      s.handle,
		Name:         "faas-worker",
		ReadTimeout:  5 * time.Second,
		WriteTimeout: 5 * time.Second,
		IdleTimeout:  30 * time.Second,
	}
	w.OnIdleChange(s.Kick)
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

// Kick makes the heartbeat report the state at once.
func (s *Sidecar) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// SetDraining marks the worker as taking no new work.
func (s *Sidecar) SetDraining() { s.Drain(false) }

// Drain asks the worker to take no new job, finish what it holds and exit
// (the caller of Drained does the stopping). With ifIdle it refuses while the
// worker handles a job. Draining twice is accepted.
func (s *Sidecar) Drain(ifIdle bool) DrainResult {
	s.mu.Lock()
	busy := s.w.Handling() > 0 || len(s.w.Active()) > 0
	accepted := s.draining || !ifIdle || !busy
	started := accepted && !s.draining
	if started {
		s.draining = true
		close(s.drained)
	}
	s.mu.Unlock()
	info := s.Info()
	if started {
		s.log.Info("worker draining", zap.Bool("if_idle", ifIdle), zap.Int("active", info.ActiveExecutions))
		s.Kick()
	} else if !accepted {
		s.log.Debug("drain refused: the worker is busy", zap.Int("active", info.ActiveExecutions))
	}
	return DrainResult{Accepted: accepted, Status: info.Status, Active: info.ActiveExecutions}
}

// Drained is closed once the worker drains.
func (s *Sidecar) Drained() <-chan struct{} { return s.drained }

// Info is the worker's current state.
func (s *Sidecar) Info() Info {
	active := s.w.Active()
	s.mu.Lock()
	draining := s.draining
	s.mu.Unlock()
	// A job being claimed or settled counts as active too: the heartbeat
	// sent when the worker turns busy shows it.
	n := max(len(active), s.w.Handling())
	status := StatusIdle
	switch {
	case draining:
		status = StatusDraining
	case n > 0:
		status = StatusBusy
	}
	return Info{
		ID: s.w.ID(), Address: s.addr, Status: status,
		ActiveExecutions: n, Executions: active,
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
	path := string(ctx.Path())
	if path == "/drain" {
		if !ctx.IsPost() {
			writeJSON(ctx, fasthttp.StatusMethodNotAllowed, map[string]any{"error": map[string]string{"code": "invalid_input", "message": "POST /drain"}})
			return
		}
		// ?if_idle=true refuses while busy (409): the autoscaler's way.
		r := s.Drain(string(ctx.QueryArgs().Peek("if_idle")) == "true")
		status := fasthttp.StatusOK
		if !r.Accepted {
			status = fasthttp.StatusConflict
		}
		writeJSON(ctx, status, r)
		return
	}
	if !ctx.IsGet() && !ctx.IsHead() {
		writeJSON(ctx, fasthttp.StatusMethodNotAllowed, map[string]any{"error": map[string]string{"code": "invalid_input", "message": "only GET is served here"}})
		return
	}
	switch path {
	case "/health":
		writeJSON(ctx, fasthttp.StatusOK, map[string]string{"status": "ok"})
	case "/status":
		writeJSON(ctx, fasthttp.StatusOK, s.Info())
	case "/metrics":
		if s.metrics == nil {
			writeJSON(ctx, fasthttp.StatusNotFound, map[string]any{"error": map[string]string{"code": "not_found", "message": "metrics are off (METRICS=off)"}})
			return
		}
		s.metrics(ctx)
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

// Heartbeat reports s.Info through put every interval, and at once on each
// change of state (idle, busy, draining), until ctx ends.
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
		case <-s.kick:
		}
	}
}
