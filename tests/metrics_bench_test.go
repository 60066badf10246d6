package tests

import (
	"net/http"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/faasplatform/faas/api/apitest"
	"github.com/faasplatform/faas/docker"
	"github.com/faasplatform/faas/docker/dockertest"
	"github.com/faasplatform/faas/metrics"
	"github.com/faasplatform/faas/platform/platformtest"
)

// BenchmarkMetricsOnOff runs cold sync executions on a platform with
// metrics on and one with METRICS=off, alternating, and prints both mean
// latencies and their ratio (goal: within 3 %).
func BenchmarkMetricsOnOff(b *testing.B) {
	dockertest.RequireDocker(b)
	start := func(on bool) (*env, *apitest.User, string) {
		st := platformtest.NewStack(b)
		st.Deps.WaitTimeout = 40 * time.Second
		st.Core.Logger = zap.NewNop()
		if on {
			stop, err := st.EnableMetrics(metrics.New())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(stop)
		}
		base := st.Serve(b)
		e := &env{Fixture: apitest.NewFixture(b, base, st.Secret), stack: st, base: base, workerID: "b" + randHex(4), metricsOff: !on}
		e.startWorker(b, e.workerID+"-a", 4)
		u := e.Register(b, "bench")
		img := dockertest.BuildBusyboxImage(b, "bench-cat", "cat")
		fn := e.CreateFunction(b, u, "bench-cat", map[string]any{"image_url": img, "timeout": 30, "memory_mb": 64})
		return e, u, fn
	}
	onE, onU, onF := start(true)
	offE, offU, offF := start(false)
	const input = "metrics benchmark input\n"
	run := func(e *env, u *apitest.User, fn string) time.Duration {
		began := time.Now()
		code, x := e.run(b, u, fn, input)
		took := time.Since(began)
		if code != http.StatusOK || x.Status != "complete" {
			b.Fatalf("execution: code %d status %q error %q", code, x.Status, x.Error)
		}
		b.StopTimer()
		dockertest.WaitNoContainers(b, docker.LabelExecutionID, x.ID, 30*time.Second)
		b.StartTimer()
		return took
	}
	run(onE, onU, onF)
	run(offE, offU, offF)
	b.ResetTimer()
	var on, off time.Duration
	for i := 0; i < b.N; i++ {
		on += run(onE, onU, onF)
		off += run(offE, offU, offF)
	}
	n := time.Duration(b.N)
	b.ReportMetric(float64((on / n).Milliseconds()), "ms/on")
	b.ReportMetric(float64((off / n).Milliseconds()), "ms/off")
	b.ReportMetric(float64(on)/float64(off), "on/off")
	b.Logf("cold sync execution: metrics on %v, off %v, ratio %.3f (n=%d)", on/n, off/n, float64(on)/float64(off), b.N)
}
