package platform

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/faasplatform/faas/api"
	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/metrics"
	"github.com/faasplatform/faas/natsstore"
)

// EnableMetrics serves GET /api/v1/metrics (no auth) from reg, records the
// API's requests and derives the execution metrics from executions.results:
// every worker announces each ended execution there, so this gateway's one
// scrape covers the whole platform whatever the number of workers. It
// returns a stop function. Call it before Handler.
func (c *Core) EnableMetrics(reg *metrics.Registry) (stop func(), err error) {
	sub, err := c.NC.Subscribe(natsstore.SubjectResults, func(m *nats.Msg) {
		var e domain.Execution
		if err := json.Unmarshal(m.Data, &e); err != nil {
			c.Logger.Warn("metrics: undecodable result", zap.Error(err))
			return
		}
		reg.ObserveExecution(&e)
	})
	if err != nil {
		return nil, fmt.Errorf("metrics: subscribe to results: %w", err)
	}
	if err := reg.WatchState(c.metricsState); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("metrics: %w", err)
	}
	c.Deps.Requests = redriveCounter{reg}
	c.Deps.Extra = append(c.Deps.Extra, api.Route{Method: http.MethodGet, Pattern: "/api/v1/metrics", Handler: reg.Handler()})
	return func() { _ = sub.Unsubscribe() }, nil
}

// metricsState reads the gauges of a scrape: the job consumer, the workers
// bucket and the autoscaler's state.
func (c *Core) metricsState(ctx context.Context) (metrics.State, error) {
	var s metrics.State
	info, err := c.Buckets.Consumer.Info(ctx)
	if err != nil {
		return s, fmt.Errorf("consumer info: %w", err)
	}
	s.PendingJobs, s.UnackedJobs = int(info.NumPending), info.NumAckPending
	ws, err := c.Workers.List(ctx)
	if err != nil {
		return s, fmt.Errorf("list workers: %w", err)
	}
	s.WorkersByStatus = map[string]int{}
	for _, w := range ws {
		s.WorkersByStatus[w.Status]++
		s.SlotsInUse += w.ActiveExecutions
		s.SlotsTotal += w.MaxConcurrent
	}
	s.AutoscalerActual = len(ws)
	if as, err := natsstore.NewAutoscalerStates(c.Buckets.Locks).Get(ctx); err == nil && as != nil {
		s.AutoscalerDesired = as.Desired
		s.ScaleUps, s.ScaleDowns = as.ScaleUps, as.ScaleDowns
	}
	return s, nil
}

// redriveCounter records every request in the registry and counts each
// accepted redrive (202 on api.RedrivePattern) as one.
type redriveCounter struct{ *metrics.Registry }

var _ api.RequestObserver = redriveCounter{}

func (r redriveCounter) ObserveRequest(method, route string, code int, d time.Duration) {
	r.Registry.ObserveRequest(method, route, code, d)
	if route == api.RedrivePattern && code == http.StatusAccepted {
		r.ObserveRedrive()
	}
}

// observedResults records each result a worker announces in the worker's
// own registry (its sidecar's /metrics) before passing it on.
type observedResults struct {
	next domain.ResultPublisher
	reg  *metrics.Registry
}

var _ domain.ResultPublisher = (*observedResults)(nil)

func (o *observedResults) PublishResult(ctx context.Context, e *domain.Execution) error {
	o.reg.ObserveExecution(e)
	return o.next.PublishResult(ctx, e)
}

// workerResults returns the worker's result publisher and, when METRICS is
// on, the registry its sidecar serves.
func workerResults(on bool, next domain.ResultPublisher) (domain.ResultPublisher, *metrics.Registry) {
	if !on {
		return next, nil
	}
	reg := metrics.New()
	return &observedResults{next: next, reg: reg}, reg
}
