package tests

import (
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/faasplatform/faas/docker/dockertest"
	"github.com/faasplatform/faas/internal/eventually"
)

// burstSize is the cold burst of issue 11: 40 async executions.
const burstSize = 40

// BenchmarkColdBurst: 40 async executions of a cold function ("warm": false)
// on one worker of 20 slots (container creations capped by
// COLD_START_CONCURRENCY, default the cores), their wall time from the
// first POST to the last end, next to 40 raw `docker run --rm -i` of the
// same image at the CLI's best parallelism among 2, 4, 8 and 20, in the same
// run. Metrics: platform-burst-ms, raw-burst-ms (the best), the rate ratio
// raw/platform (the target ≥ 1.6), the median startup_duration of
// the burst and of a lone cold start, and their ratio (target ≤ 2).
//
//	go test ./tests/ -run '^$' -bench ColdBurst -benchtime 1x
func BenchmarkColdBurst(b *testing.B) {
	e := newEnv(b, 1, 20)
	u := e.Register(b, "burst")
	img := dockertest.BuildBusyboxImage(b, "burst-cat", "cat")
	fn := e.CreateFunction(b, u, "burst-cat", map[string]any{"image_url": img, "timeout": 60, "memory_mb": 32, "warm": false})
	input := "burst\n"

	lone := func() float64 {
		_, x := e.run(b, u, fn, input)
		x = e.waitStatus(b, u, x.ID, time.Minute, "complete")
		return x.StartupDuration
	}
	lone() // warm the paths
	var loneStartups []float64
	for range 3 {
		loneStartups = append(loneStartups, lone())
	}

	raw := func(par int) time.Duration {
		began := time.Now()
		var wg sync.WaitGroup
		sem := make(chan struct{}, par)
		for range burstSize {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				dockertest.RawRun(b, img, []byte(input), []byte(input))
			})
		}
		wg.Wait()
		return time.Since(began)
	}

	var plat, bestRaw time.Duration
	var startups []float64
	b.ResetTimer()
	for range b.N {
		bestRaw = 0
		for _, par := range []int{2, 4, 8, 20} {
			if d := raw(par); bestRaw == 0 || d < bestRaw {
				bestRaw = d
			}
		}
		began := time.Now()
		ids := make([]string, burstSize)
		for i := range ids {
			r := e.Do(b, http.MethodPost, "/api/v1/executions", u.Token, map[string]any{"function_id": fn, "input": input})
			if r.Status != http.StatusAccepted {
				b.Fatalf("post %d: %d %s", i, r.Status, r.Body)
			}
			var x execution
			r.Decode(b, &x)
			ids[i] = x.ID
		}
		startups = startups[:0]
		eventually.NoError(b, 5*time.Minute, func() error {
			startups = startups[:0]
			for _, id := range ids {
				x := e.get(b, u, id)
				if x.Status != "complete" {
					return fmt.Errorf("execution %s: %s", id, x.Status)
				}
				startups = append(startups, x.StartupDuration)
			}
			return nil
		})
		plat = time.Since(began)
	}
	b.StopTimer()
	median := func(v []float64) float64 {
		s := append([]float64(nil), v...)
		sort.Float64s(s)
		return s[len(s)/2]
	}
	b.ReportMetric(dockertest.Ms(plat), "platform-burst-ms")
	b.ReportMetric(dockertest.Ms(bestRaw), "raw-burst-ms")
	b.ReportMetric(float64(bestRaw)/float64(plat), "rate-ratio")
	b.ReportMetric(median(startups)*1000, "burst-startup-p50-ms")
	b.ReportMetric(median(loneStartups)*1000, "lone-startup-p50-ms")
	b.ReportMetric(median(startups)/median(loneStartups), "startup-ratio")
}
