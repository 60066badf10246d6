package metrics

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"testing"
	"time"

	"github.com/faasplatform/faas/domain"
)

// TestPromtoolCheckMetrics runs `promtool check metrics` (Debian package
// prometheus, installed by .ci/run) on a populated exposition.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (apt-get install -y prometheus; .ci/run installs it): %v", err)
	}
	reg := New()
	now := time.Now()
	reg.ObserveExecution(&domain.Execution{FunctionID: "fn", Status: domain.StatusComplete, StartTime: &now,
		Attempts: 2, Duration: 1, MaxMemoryBytes: 1 << 20, CPUSeconds: 0.5})
	reg.ObserveRequest(http.MethodGet, "/api/v1/health", 200, time.Millisecond)
	reg.ObserveRedrive()
	if err := reg.WatchState(func(context.Context) (State, error) {
		return State{WorkersByStatus: map[string]int{"idle": 1}, ScaleUps: 3, ScaleDowns: 1}, nil
	}); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(rec.Body.Bytes())
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}
