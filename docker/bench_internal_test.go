package docker

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/faasplatform/faas/docker/dockertest"
	"github.com/faasplatform/faas/domain"
)

// BenchmarkInternalColdStart: what network "internal" adds to a cold start,
// in one run: the same image and input run cold (warm false) with network
// "none" (NetworkDisabled: no libnetwork) and with network "internal"
// (faas-init with its forwarder, the objects socket mounted, network "none"
// set up by the daemon). Alternating; medians in milliseconds and the
// difference.
func BenchmarkInternalColdStart(b *testing.B) {
	dockertest.RequireDocker(b)
	img := dockertest.BuildBusyboxImage(b, "bench-cat", scriptCat)
	dir, err := os.MkdirTemp("", "faas-bench-objects-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	_ = os.Chmod(dir, 0o755)
	ln, err := net.Listen("unix", filepath.Join(dir, ObjectsSocketName))
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	rt, err := New(zap.NewNop(), Options{InitPath: testInitPath, ObjectsSocketDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	input := []byte("internal cold start benchmark input\n")
	worker := "bench-" + randomID()
	defer dockertest.AssertNoContainers(b, LabelWorkerID, worker)
	run := func(network string) time.Duration {
		spec := domain.RunSpec{
			ExecutionID: "bench-" + randomID(), FunctionID: "fn-bench", WorkerID: worker, Owner: "o", Version: "v1",
			Image: img, Input: input, MemoryMB: 64, CPUs: 1, Timeout: 30 * time.Second, Network: network,
		}
		began := time.Now()
		res, err := rt.Run(context.Background(), spec)
		took := time.Since(began)
		if err != nil || res.ExitCode != 0 || !bytes.Equal(res.Stdout, input) {
			b.Fatalf("Run %s: %+v, %v", network, res, err)
		}
		rt.pending.Wait() // the background removal
		return took
	}
	run(domain.NetworkNone)
	run(domain.NetworkInternal)
	var none, internal dockertest.Samples
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 0 {
			none = append(none, run(domain.NetworkNone))
			internal = append(internal, run(domain.NetworkInternal))
		} else {
			internal = append(internal, run(domain.NetworkInternal))
			none = append(none, run(domain.NetworkNone))
		}
	}
	b.StopTimer()
	b.ReportMetric(dockertest.Ms(none.P(50)), "none-p50-ms")
	b.ReportMetric(dockertest.Ms(internal.P(50)), "internal-p50-ms")
	b.ReportMetric(dockertest.Ms(internal.P(50)-none.P(50)), "extra-ms")
}
