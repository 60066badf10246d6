package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// State is the platform's state read at scrape time from NATS.
type State struct {
	PendingJobs       int
	UnackedJobs       int
	WorkersByStatus   map[string]int
	SlotsInUse        int
	SlotsTotal        int
	AutoscalerDesired int
	AutoscalerActual  int
	// ScaleUps and ScaleDowns are the acting autoscaler's decision counts
	// (carried from holder to holder; 0 while none runs).
	ScaleUps, ScaleDowns int64
}

// StateFunc reads the State; an error leaves the gauges out of the scrape.
type StateFunc func(ctx context.Context) (State, error)

var (
	descPending   = prometheus.NewDesc("faas_jobs_pending", "Jobs queued and not yet delivered to a worker (JetStream consumer).", nil, nil)
	descUnacked   = prometheus.NewDesc("faas_jobs_unacked", "Jobs delivered to a worker and not yet acknowledged.", nil, nil)
	descWorkers   = prometheus.NewDesc("faas_workers", "Live workers by status.", []string{"status"}, nil)
	descSlotsUsed = prometheus.NewDesc("faas_worker_slots_in_use", "Execution slots in use over all workers.", nil, nil)
	descSlots     = prometheus.NewDesc("faas_worker_slots", "Execution slots over all workers.", nil, nil)
	descDesired   = prometheus.NewDesc("faas_autoscaler_desired_workers", "The autoscaler's desired worker count.", nil, nil)
	descActual    = prometheus.NewDesc("faas_autoscaler_actual_workers", "Workers alive as the autoscaler counts them.", nil, nil)
	descDecisions = prometheus.NewDesc("faas_autoscaler_decisions_total", "Autoscaler decisions that changed the pool, by direction (up, down).", []string{"direction"}, nil)
)

type stateCollector struct{ read StateFunc }

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPending, descUnacked, descWorkers, descSlotsUsed, descSlots, descDesired, descActual, descDecisions} {
		ch <- d
	}
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := c.read(ctx)
	if err != nil {
		return
	}
	g := func(d *prometheus.Desc, v int, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	g(descPending, s.PendingJobs)
	g(descUnacked, s.UnackedJobs)
	for status, n := range s.WorkersByStatus {
		g(descWorkers, n, status)
	}
	g(descSlotsUsed, s.SlotsInUse)
	g(descSlots, s.SlotsTotal)
	g(descDesired, s.AutoscalerDesired)
	g(descActual, s.AutoscalerActual)
	ch <- prometheus.MustNewConstMetric(descDecisions, prometheus.CounterValue, float64(s.ScaleUps), "up")
	ch <- prometheus.MustNewConstMetric(descDecisions, prometheus.CounterValue, float64(s.ScaleDowns), "down")
}

// WatchState registers gauges read from read at every scrape.
func (r *Registry) WatchState(read StateFunc) error {
	return r.reg.Register(stateCollector{read: read})
}
