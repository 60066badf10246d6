package docker

import (
	"bytes"
	"context"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/faasplatform/faas/docker/dockertest"
	"github.com/faasplatform/faas/domain"
)

// BenchmarkColdStart compares, in one run, a cold start through the docker
// CLI (`docker run --rm -i --network none --memory 64m`, the baseline users
// know) with Runtime.Run of the same image and input. Both are timed from the
// request to the output and exit code in hand; the CLI also waits for the
// removal, which Run leaves to the background (sdk-removed-* times that too,
// and Run's removals are awaited, untimed, before the next sample so that they
// do not slow the CLI's). The order alternates. Metrics in milliseconds:
// raw-p50/p99, sdk-p50/p99, sdk-startup-p50 and the ratio sdk/raw of the medians.
func BenchmarkColdStart(b *testing.B) {
	dockertest.RequireDocker(b)
	img := dockertest.BuildBusyboxImage(b, "bench-cat", scriptCat)
	rt, err := New(zap.NewNop(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	input := []byte("cold start benchmark input\n")
	worker := "bench-" + randomID()
	defer dockertest.AssertNoContainers(b, LabelWorkerID, worker)

	raw := func() time.Duration { return dockertest.RawRun(b, img, input, input) }
	var startups, removed dockertest.Samples
	sdk := func() time.Duration {
		spec := domain.RunSpec{
			ExecutionID: "bench-" + randomID(), FunctionID: "fn-bench", WorkerID: worker,
			Image: img, Input: input, MemoryMB: 64, CPUs: 1, Timeout: 30 * time.Second, Network: domain.NetworkNone,
		}
		began := time.Now()
		res, err := rt.Run(context.Background(), spec)
		took := time.Since(began)
		if err != nil || res.ExitCode != 0 || !bytes.Equal(res.Stdout, input) {
			b.Fatalf("Run: %+v, %v", res, err)
		}
		rt.pending.Wait() // the background removal (no run is in flight)
		startups = append(startups, res.StartupDuration)
		removed = append(removed, time.Since(began))
		return took
	}

	// Warm both paths (API version negotiation, daemon info, page cache).
	raw()
	sdk()
	startups, removed = nil, nil

	var raws, sdks dockertest.Samples
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 0 {
			raws = append(raws, raw())
			sdks = append(sdks, sdk())
		} else {
			sdks = append(sdks, sdk())
			raws = append(raws, raw())
		}
	}
	b.StopTimer()

	rawP50, sdkP50 := raws.P(50), sdks.P(50)
	b.ReportMetric(dockertest.Ms(rawP50), "raw-p50-ms")
	b.ReportMetric(dockertest.Ms(raws.P(99)), "raw-p99-ms")
	b.ReportMetric(dockertest.Ms(sdkP50), "sdk-p50-ms")
	b.ReportMetric(dockertest.Ms(sdks.P(99)), "sdk-p99-ms")
	b.ReportMetric(dockertest.Ms(startups.P(50)), "sdk-startup-p50-ms")
	b.ReportMetric(dockertest.Ms(removed.P(50)), "sdk-removed-p50-ms")
	b.ReportMetric(float64(sdkP50)/float64(rawP50), "ratio-p50")
}

// BenchmarkWarm compares, in one run, the baseline `docker run --rm -i`
// (CLI), a cold platform run ("warm": false: create, start, remove) and a
// warm platform run (a fresh process in a kept faas-init container), all of
// the same image and input, timed from the request to the output and exit
// code in hand. Each iteration takes one raw and one cold sample and
// warmPerIter warm ones. Metrics in milliseconds: raw-p50, cold-p50,
// warm-p50 and warm-p99, and the ratio warm/cold of the medians.
func BenchmarkWarm(b *testing.B) {
	const warmPerIter = 10
	dockertest.RequireDocker(b)
	img := dockertest.BuildBusyboxImage(b, "bench-cat", scriptCat)
	rt, err := New(zap.NewNop(), Options{InitPath: testInitPath})
	if err != nil {
		b.Fatal(err)
	}
	worker := "bench-" + randomID()
	defer dockertest.AssertNoContainers(b, LabelWorkerID, worker)
	defer rt.Close()
	input := []byte("warm benchmark input\n")

	run := func(warm bool) (time.Duration, domain.RunResult) {
		id := "bench-" + randomID()
		spec := domain.RunSpec{
			ExecutionID: id, FunctionID: "fn-bench", WorkerID: worker, Owner: "bench", Version: "1", Warm: warm,
			Image: img, Input: input, MemoryMB: 64, CPUs: 1, Timeout: 30 * time.Second, Network: domain.NetworkNone,
			Env: map[string]string{"FAAS_EXECUTION_ID": id, "FAAS_FUNCTION_ID": "fn-bench", "FAAS_ATTEMPT": "1"},
		}
		began := time.Now()
		res, err := rt.Run(context.Background(), spec)
		took := time.Since(began)
		if err != nil || res.ExitCode != 0 || !bytes.Equal(res.Stdout, input) {
			b.Fatalf("Run: %+v, %v", res, err)
		}
		return took, res
	}
	raw := func() time.Duration { return dockertest.RawRun(b, img, input, input) }
	cold := func() time.Duration {
		took, _ := run(false)
		rt.pending.Wait() // its background removal, untimed
		return took
	}

	// Warm up every path; the first warm run starts the warm container.
	raw()
	cold()
	if _, res := run(true); !res.ColdStart {
		b.Fatal("the first warm run did not start a container")
	}

	var raws, colds, warms dockertest.Samples
	b.ResetTimer()
	for range b.N {
		raws = append(raws, raw())
		colds = append(colds, cold())
		for range warmPerIter {
			took, res := run(true)
			if res.ColdStart {
				b.Fatal("a warm run started a container")
			}
			warms = append(warms, took)
		}
	}
	b.StopTimer()

	b.ReportMetric(dockertest.Ms(raws.P(50)), "raw-p50-ms")
	b.ReportMetric(dockertest.Ms(colds.P(50)), "cold-p50-ms")
	b.ReportMetric(dockertest.Ms(warms.P(50)), "warm-p50-ms")
	b.ReportMetric(dockertest.Ms(warms.P(99)), "warm-p99-ms")
	b.ReportMetric(float64(warms.P(50))/float64(colds.P(50)), "warm/cold-p50")
	b.ReportMetric(float64(warms.P(50))/float64(raws.P(50)), "warm/raw-p50")
}
