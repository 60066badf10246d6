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
