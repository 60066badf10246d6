package tests

import (
	"net/http"
	"sync"
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

// BenchmarkWarmSyncExecution measures synchronous executions end to end
// (HTTP in → JetStream → worker → container → HTTP out) of a warm function
// next to a cold one ("warm": false) and a raw `docker run --rm -i` of the
// same image and input, all in one run: each iteration takes one raw, one
// cold and warmPerIter warm samples. Then 16 clients call the warm function
// at once for a throughput figure. Metrics: raw-p50, cold-p50, warm-p50 and
// warm-p99 (ms), warm/cold-p50, and warm-16-clients-exec/s.
//
//	go test ./tests/ -run '^$' -bench WarmSync -benchtime 20x
func BenchmarkWarmSyncExecution(b *testing.B) {
	const warmPerIter, clients, perClient = 50, 16, 25
	e := newWarmEnv(b, 1, clients)
	u := e.Register(b, "bench")
	img := dockertest.BuildBusyboxImage(b, "bench-cat", "cat")
	warmFn := e.CreateFunction(b, u, "bench-warm", map[string]any{"image_url": img, "timeout": 30, "memory_mb": 64})
	coldFn := e.CreateFunction(b, u, "bench-cold", map[string]any{"image_url": img, "timeout": 30, "memory_mb": 64, "warm": false})
	input := "warm benchmark input\n"

	call := func(fn string, wantCold bool) (time.Duration, execution) {
		began := time.Now()
		code, x := e.run(b, u, fn, input)
		took := time.Since(began)
		if code != http.StatusOK || x.Status != "complete" || x.output() != input {
			b.Fatalf("execution: code %d status %q output %q error %q", code, x.Status, x.output(), x.Error)
		}
		if x.ColdStart != wantCold {
			b.Fatalf("execution %s: cold_start %v, want %v", x.ID, x.ColdStart, wantCold)
		}
		return took, x
	}
	cold := func() time.Duration {
		took, x := call(coldFn, true)
		b.StopTimer() // its removal is not the next sample's
		dockertest.WaitNoContainers(b, docker.LabelExecutionID, x.ID, 30*time.Second)
		b.StartTimer()
		return took
	}
	raw := func() time.Duration { return dockertest.RawRun(b, img, []byte(input), []byte(input)) }

	raw()
	cold()
	if _, x := e.run(b, u, warmFn, input); !x.ColdStart {
		b.Fatal("the first warm execution did not start a container")
	}
	var raws, colds, warms dockertest.Samples
	b.ResetTimer()
	for range b.N {
		raws = append(raws, raw())
		colds = append(colds, cold())
		for range warmPerIter {
			took, _ := call(warmFn, false)
			warms = append(warms, took)
		}
	}
	b.StopTimer()

	// Throughput: 16 clients at once; a first round starts the warm
	// containers they need (untimed).
	round := func(n int) time.Duration {
		var wg sync.WaitGroup
		began := time.Now()
		for range clients {
			wg.Go(func() {
				for range n {
					if code, x := e.run(b, u, warmFn, input); code != http.StatusOK || x.output() != input {
						b.Errorf("execution: code %d status %q error %q", code, x.Status, x.Error)
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(began)
	}
	round(1)
	took := round(perClient)

	b.ReportMetric(dockertest.Ms(raws.P(50)), "raw-p50-ms")
	b.ReportMetric(dockertest.Ms(colds.P(50)), "cold-p50-ms")
	b.ReportMetric(dockertest.Ms(warms.P(50)), "warm-p50-ms")
	b.ReportMetric(dockertest.Ms(warms.P(99)), "warm-p99-ms")
	b.ReportMetric(float64(warms.P(50))/float64(colds.P(50)), "warm/cold-p50")
	b.ReportMetric(float64(clients*perClient)/took.Seconds(), "warm-16-clients-exec/s")
}
