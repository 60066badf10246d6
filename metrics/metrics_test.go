package metrics

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/faasplatform/faas/domain"
)

// scrape serves reg once and parses the exposition.
func scrape(t *testing.T, reg *Registry) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: status %d", rec.Code)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse exposition: %v", err)
	}
	return fams
}

func counter(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	var sum float64
	for _, m := range fams[name].GetMetric() {
		if matches(m, labels) {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func histCount(fams map[string]*dto.MetricFamily, name string) uint64 {
	var n uint64
	for _, m := range fams[name].GetMetric() {
		n += m.GetHistogram().GetSampleCount()
	}
	return n
}

func matches(m *dto.Metric, labels map[string]string) bool {
	for k, v := range labels {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == k && l.GetValue() == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func TestObserveExecutionMix(t *testing.T) {
	reg := New()
	now := time.Now()
	n := 0
	ended := func(status domain.Status, attempts int, dead bool) *domain.Execution {
		n++
		e := &domain.Execution{ID: "x", FunctionID: "fn", Status: status, StartTime: &now, Attempts: attempts,
			Duration: 0.5, QueueDuration: 0.1, StartupDuration: 0.2, MaxMemoryBytes: 1 << 20, CPUSeconds: 0.1,
			ColdStart: n <= 5} // 5 cold starts, then 3 warm ones
		if dead {
			e.DeadAt = &now
		}
		return e
	}
	mix := []*domain.Execution{
		ended(domain.StatusComplete, 1, false), ended(domain.StatusComplete, 1, false), ended(domain.StatusComplete, 1, false),
		ended(domain.StatusFailed, 1, false), ended(domain.StatusFailed, 1, false),
		ended(domain.StatusTimeout, 1, false),
		ended(domain.StatusComplete, 2, false),
		ended(domain.StatusFailed, 3, true),
	}
	for _, e := range mix {
		reg.ObserveExecution(e)
	}
	reg.ObserveRedrive()
	reg.ObserveRequest(http.MethodGet, "/api/v1/functions/{id}", 200, time.Millisecond)
	reg.ObserveRequest(http.MethodGet, "", 404, time.Millisecond)
	if err := reg.WatchState(func(context.Context) (State, error) {
		return State{ScaleUps: 1, ScaleDowns: 2}, nil
	}); err != nil {
		t.Fatal(err)
	}

	fams := scrape(t, reg)
	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"faas_executions_total", map[string]string{"status": "complete", "function_id": "fn"}, 4},
		{"faas_executions_total", map[string]string{"status": "failed"}, 3},
		{"faas_executions_total", map[string]string{"status": "timeout"}, 1},
		{"faas_execution_retries_total", nil, 1 + 2},
		{"faas_dead_letters_total", nil, 1},
		{"faas_redrives_total", nil, 1},
		{"faas_container_starts_total", map[string]string{"start": "cold"}, 5},
		{"faas_container_starts_total", map[string]string{"start": "warm"}, 3},
		{"faas_http_requests_total", map[string]string{"route": "/api/v1/functions/{id}", "code": "200"}, 1},
		{"faas_http_requests_total", map[string]string{"route": "unmatched", "code": "404"}, 1},
		{"faas_autoscaler_decisions_total", map[string]string{"direction": "up"}, 1},
		{"faas_autoscaler_decisions_total", map[string]string{"direction": "down"}, 2},
	}
	for _, tt := range tests {
		if got := counter(fams, tt.name, tt.labels); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	for _, h := range []string{"faas_execution_duration_seconds", "faas_execution_queue_wait_seconds",
		"faas_container_startup_seconds", "faas_execution_max_memory_bytes", "faas_execution_cpu_seconds"} {
		if got := histCount(fams, h); got != uint64(len(mix)) {
			t.Errorf("%s count = %d, want %d", h, got, len(mix))
		}
	}
	if fams["go_goroutines"] == nil || fams["process_cpu_seconds_total"] == nil {
		t.Errorf("Go runtime or process collector missing")
	}
}
