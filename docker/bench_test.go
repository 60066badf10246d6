package docker

import (
	"bytes"
	"context"
	"math"
	"os/exec"
	"slices"
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
	docker, err := exec.LookPath("docker")
	if err != nil {
		b.Fatalf("docker CLI: %v", err)
	}
	img := dockertest.BuildBusyboxImage(b, "bench-cat", scriptCat)
	rt, err := New(zap.NewNop(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	input := []byte("cold start benchmark input\n")
	worker := "bench-" + randomID()
	defer dockertest.AssertNoContainers(b, LabelWorkerID, worker)

	raw := func() time.Duration {
		cmd := exec.Command(docker, "run", "--rm", "-i", "--network", "none", "--memory", "64m", img)
		cmd.Stdin = bytes.NewReader(input)
		began := time.Now()
		out, err := cmd.Output()
		took := time.Since(began)
		if err != nil || !bytes.Equal(out, input) {
			b.Fatalf("docker run: %q, %v", out, err)
		}
		return took
	}
	var startups, removed []time.Duration
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

	var raws, sdks []time.Duration
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

	rawP50, sdkP50 := percentile(raws, 50), percentile(sdks, 50)
	b.ReportMetric(ms(rawP50), "raw-p50-ms")
	b.ReportMetric(ms(percentile(raws, 99)), "raw-p99-ms")
	b.ReportMetric(ms(sdkP50), "sdk-p50-ms")
	b.ReportMetric(ms(percentile(sdks, 99)), "sdk-p99-ms")
	b.ReportMetric(ms(percentile(startups, 50)), "sdk-startup-p50-ms")
	b.ReportMetric(ms(percentile(removed, 50)), "sdk-removed-p50-ms")
	b.ReportMetric(float64(sdkP50)/float64(rawP50), "ratio-p50")
}

// percentile returns the p-th percentile of d by nearest rank.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[max(rank, 1)-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
