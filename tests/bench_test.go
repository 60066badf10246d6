package tests

import (
	"net/http"
	"testing"
	"time"

	"github.com/faasplatform/faas/docker"
	"github.com/faasplatform/faas/docker/dockertest"
)

// BenchmarkColdSyncExecution measures a cold synchronous execution end to
// end: HTTP request in, job through JetStream, a fresh container run by a
// worker, the result back in the HTTP answer. Against the baseline users
// know, a raw `docker run --rm -i` of the same image and input, measured in
// the same run in alternating order. Metrics (ms): raw-p50/p99,
// platform-p50/p99, and ratio-p50 = platform/raw of the medians (the issue's
// target is ≤ 0.6).
//
//	go test ./tests/ -run '^$' -bench ColdSync -benchtime 30x
func BenchmarkColdSyncExecution(b *testing.B) {
	e := newEnv(b, 1, 4)
	u := e.Register(b, "bench")
	img := dockertest.BuildBusyboxImage(b, "bench-cat", "cat")
	fn := e.CreateFunction(b, u, "bench-cat", map[string]any{"image_url": img, "timeout": 30, "memory_mb": 64})
	input := "cold start benchmark input\n"

	platform := func() time.Duration {
		began := time.Now()
		code, x := e.run(b, u, fn, input)
		took := time.Since(began)
		if code != http.StatusOK || x.Status != "complete" || x.output() != input {
			b.Fatalf("execution: code %d status %q output %q error %q", code, x.Status, x.output(), x.Error)
		}
		// The worker removes the container in the background: wait until it
		// is gone, so that the next sample does not pay for the cleanup
		// (docker run --rm returns after its removal).
		b.StopTimer()
		dockertest.WaitNoContainers(b, docker.LabelExecutionID, x.ID, 30*time.Second)
		b.StartTimer()
		return took
	}
	raw := func() time.Duration { return dockertest.RawRun(b, img, []byte(input), []byte(input)) }

	platform() // warm both paths
	raw()
	var raws, plats dockertest.Samples
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 0 {
			raws = append(raws, raw())
			plats = append(plats, platform())
		} else {
			plats = append(plats, platform())
			raws = append(raws, raw())
		}
	}
	b.StopTimer()
	b.ReportMetric(dockertest.Ms(raws.P(50)), "raw-p50-ms")
	b.ReportMetric(dockertest.Ms(raws.P(99)), "raw-p99-ms")
	b.ReportMetric(dockertest.Ms(plats.P(50)), "platform-p50-ms")
	b.ReportMetric(dockertest.Ms(plats.P(99)), "platform-p99-ms")
	b.ReportMetric(float64(plats.P(50))/float64(raws.P(50)), "ratio-p50")
}
