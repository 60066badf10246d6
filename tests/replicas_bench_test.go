package tests

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/faasplatform/faas/api/apitest"
	"github.com/faasplatform/faas/docker/dockertest"
	"github.com/faasplatform/faas/internal/eventually"
	"github.com/faasplatform/faas/internal/natstest"
	"github.com/faasplatform/faas/natsstore"
	"github.com/faasplatform/faas/platform/platformtest"
)

// waitJetStream waits until the servers at url answer JetStream requests
// (a cluster has elected its meta leader).
func waitJetStream(t testing.TB, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nc, js, err := natsstore.Connect(ctx, url, "wait-jetstream", natsstore.Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	eventually.NoError(t, 60*time.Second, func() error {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := js.AccountInfo(actx)
		return err
	})
}

// BenchmarkReplicas compares one platform on a single server (R1) with one
// on a 3-node cluster with NATS_REPLICAS=3 (R3), in the same run: the p50
// of a synchronous execution (samples alternate between the two) and the
// executions per second of a burst of asynchronous ones, each platform with
// one worker of 4 slots running cold containers.
//
//	go test ./tests/ -run '^$' -bench Replicas -benchtime 20x
func BenchmarkReplicas(b *testing.B) {
	r1 := newEnv(b, 0, 0)
	url := natstest.URL(natstest.StartCluster(b, "b", 3))
	waitJetStream(b, url)
	r3 := newEnvWith(b, platformtest.StackOptions{NATSURL: url, Replicas: 3}, 0, 0, "")
	type side struct {
		name string
		e    *env
		u    *apitest.User
		fn   string
		sync dockertest.Samples
	}
	img := dockertest.BuildBusyboxImage(b, "bench-repl", "cat")
	sides := []*side{{name: "r1", e: r1}, {name: "r3", e: r3}}
	for _, s := range sides {
		s.e.startWorker(b, s.e.workerID+"-a", 4)
		s.u = s.e.Register(b, "bench-"+s.name)
		s.fn = s.e.CreateFunction(b, s.u, "bench-repl", map[string]any{"image_url": img, "timeout": 30, "memory_mb": 64})
	}
	run := func(s *side, input string) time.Duration {
		began := time.Now()
		code, x := s.e.run(b, s.u, s.fn, input)
		took := time.Since(began)
		if code != http.StatusOK || x.Status != "complete" || x.output() != input {
			b.Fatalf("%s execution: code %d status %q output %q error %q", s.name, code, x.Status, x.output(), x.Error)
		}
		return took
	}
	for _, s := range sides {
		run(s, "warm up")
	}
	b.ResetTimer()
	for i := range b.N {
		first, second := sides[i%2], sides[1-i%2]
		first.sync = append(first.sync, run(first, fmt.Sprint("s-", i)))
		second.sync = append(second.sync, run(second, fmt.Sprint("s-", i)))
	}
	b.StopTimer()

	// Throughput: a burst of async executions, until the last has ended.
	const burst = 24
	rate := map[string]float64{}
	for _, s := range sides {
		began := time.Now()
		ids := make([]string, burst)
		for i := range ids {
			r := apitest.Do(b, s.e.base, http.MethodPost, "/api/v1/executions", s.u.Token,
				map[string]any{"function_id": s.fn, "input": fmt.Sprint("a-", i)}, nil)
			if r.Status != http.StatusAccepted {
				b.Fatalf("%s post: %d %s", s.name, r.Status, r.Body)
			}
			var x execution
			r.Decode(b, &x)
			ids[i] = x.ID
		}
		for _, id := range ids {
			if x := s.e.waitStatus(b, s.u, id, 2*time.Minute, "complete", "failed", "timeout"); x.Status != "complete" {
				b.Fatalf("%s execution %s: %s %s", s.name, id, x.Status, x.Error)
			}
		}
		rate[s.name] = burst / time.Since(began).Seconds()
	}
	b.ReportMetric(dockertest.Ms(sides[0].sync.P(50)), "r1-sync-p50-ms")
	b.ReportMetric(dockertest.Ms(sides[1].sync.P(50)), "r3-sync-p50-ms")
	b.ReportMetric(float64(sides[1].sync.P(50))/float64(sides[0].sync.P(50)), "r3/r1-p50")
	b.ReportMetric(rate["r1"], "r1-exec/s")
	b.ReportMetric(rate["r3"], "r3-exec/s")
}
