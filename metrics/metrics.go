// Package metrics owns the platform's Prometheus registry and collectors
// (contract §3 Monitoring). Other packages record through the small
// interfaces they declare (e.g. api.RequestObserver) and never import
// client_golang themselves.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/faasplatform/faas/domain"
)

// Registry holds every platform collector.
type Registry struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec

	executions  *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	queueWait   prometheus.Histogram
	startup     *prometheus.HistogramVec
	starts      *prometheus.CounterVec
	retries     prometheus.Counter
	deadLetters prometheus.Counter
	redrives    prometheus.Counter
	peakMemory  prometheus.Histogram
	cpuSeconds  prometheus.Histogram
}

// New returns a registry with the Go runtime and process collectors and
// every platform metric registered.
func New() *Registry {
	r := &Registry{reg: prometheus.NewRegistry()}
	r.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "faas_http_requests_total", Help: "HTTP requests by route pattern, method and status code.",
	}, []string{"route", "method", "code"})
	r.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "faas_http_request_duration_seconds", Help: "HTTP request latency by route pattern and method.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route", "method"})
	r.executions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "faas_executions_total", Help: "Executions that ended, by function and final status.",
	}, []string{"function_id", "status"})
	r.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "faas_execution_duration_seconds", Help: "Run time of ended executions by final status.",
		Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
	}, []string{"status"})
	r.queueWait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "faas_execution_queue_wait_seconds", Help: "Time from creation to the start of the final run.",
		Buckets: []float64{.005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	})
	r.startup = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "faas_container_startup_seconds", Help: "Container start-up time by start kind (cold, warm).",
		Buckets: []float64{.05, .1, .25, .5, 1, 2, 5, 10},
	}, []string{"start"})
	r.starts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "faas_container_starts_total", Help: "Runs by start kind: cold (a new container) or warm (a kept one).",
	}, []string{"start"})
	r.retries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "faas_execution_retries_total", Help: "Extra attempts made by executions that ended.",
	})
	r.deadLetters = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "faas_dead_letters_total", Help: "Executions that became dead letters.",
	})
	r.redrives = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "faas_redrives_total", Help: "Dead letters redriven.",
	})
	r.peakMemory = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "faas_execution_max_memory_bytes", Help: "Peak container memory of ended executions.",
		Buckets: prometheus.ExponentialBuckets(1<<20, 2, 12),
	})
	r.cpuSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "faas_execution_cpu_seconds", Help: "Container CPU time of ended executions.",
		Buckets: []float64{.001, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	})
	r.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		r.httpRequests, r.httpDuration, r.executions, r.duration, r.queueWait, r.startup,
		r.starts, r.retries, r.deadLetters, r.redrives, r.peakMemory, r.cpuSeconds,
	)
	return r
}

// Handler serves the registry in the Prometheus text format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{})
}

// Register adds an extra collector (e.g. gauges read from NATS at scrape).
func (r *Registry) Register(c prometheus.Collector) error { return r.reg.Register(c) }

// ObserveRequest records one HTTP request by route pattern ("" for an
// unknown path: "unmatched", so raw paths never become labels).
func (r *Registry) ObserveRequest(method, route string, code int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	r.httpRequests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	r.httpDuration.WithLabelValues(route, method).Observe(d.Seconds())
}

// ObserveExecution records an execution that reached its final status
// (taken from the results stream, so one gateway sees every worker).
func (r *Registry) ObserveExecution(e *domain.Execution) {
	r.executions.WithLabelValues(e.FunctionID, string(e.Status)).Inc()
	r.duration.WithLabelValues(string(e.Status)).Observe(e.Duration)
	if e.StartTime != nil {
		r.queueWait.Observe(e.QueueDuration)
		start := "warm"
		if e.ColdStart {
			start = "cold"
		}
		r.startup.WithLabelValues(start).Observe(e.StartupDuration)
		r.starts.WithLabelValues(start).Inc()
	}
	if e.Attempts > 1 {
		r.retries.Add(float64(e.Attempts - 1))
	}
	if e.DeadAt != nil {
		r.deadLetters.Inc()
	}
	if e.MaxMemoryBytes > 0 {
		r.peakMemory.Observe(float64(e.MaxMemoryBytes))
	}
	if e.CPUSeconds > 0 {
		r.cpuSeconds.Observe(e.CPUSeconds)
	}
}

// ObserveRedrive counts one redriven dead letter.
func (r *Registry) ObserveRedrive() { r.redrives.Inc() }
