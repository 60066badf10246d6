package tests

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/faasplatform/faas/api/apitest"
	"github.com/faasplatform/faas/auth"
	"github.com/faasplatform/faas/config"
	"github.com/faasplatform/faas/docker"
	"github.com/faasplatform/faas/docker/dockertest"
	"github.com/faasplatform/faas/internal/eventually"
	"github.com/faasplatform/faas/natsstore"
	"github.com/faasplatform/faas/platform"
	"github.com/faasplatform/faas/platform/platformtest"
	"github.com/faasplatform/faas/wire"
)

// env is one platform for a test: an API on real stores and one real
// worker (the code of `faas worker`) on the same embedded NATS.
type env struct {
	*apitest.Fixture
	stack    *platformtest.Stack
	base     string
	workerID string
	workers  []string
	// metricsOff starts the workers with METRICS=off.
	metricsOff bool
	// retryDelay, when set, is the workers' RETRY_DELAY.
	retryDelay string
	// observe, when set, also receives every line the workers log.
	observe zapcore.Core
	// initPath, when set, is the workers' FAAS_INIT_PATH (warm
	// containers); unset, workers of the tests run every execution cold.
	initPath string
}

// newEnv starts the API and, unless workers is 0, that many workers each
// running up to maxConcurrent executions.
func newEnv(t testing.TB, workers, maxConcurrent int) *env {
	t.Helper()
	return newEnvWith(t, platformtest.StackOptions{}, workers, maxConcurrent, "")
}

// newWarmEnv is newEnv with warm containers: faas-init is built for the
// workers' FAAS_INIT_PATH.
func newWarmEnv(t testing.TB, workers, maxConcurrent int) *env {
	t.Helper()
	initPath, err := dockertest.BuildInit(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return newEnvWith(t, platformtest.StackOptions{}, workers, maxConcurrent, initPath)
}

// newEnvWith is newEnv on a stack made with o (an external NATS, replicas)
// whose workers get initPath as FAAS_INIT_PATH ("": every run cold).
func newEnvWith(t testing.TB, o platformtest.StackOptions, workers, maxConcurrent int, initPath string) *env {
	t.Helper()
	dockertest.RequireDocker(t)
	st := platformtest.NewStackWith(t, o)
	st.Deps.WaitTimeout = 40 * time.Second
	if _, ok := t.(*testing.B); ok {
		st.Core.Logger = zap.NewNop() // benchmarks print every log line
	}
	base := st.Serve(t)
	e := &env{Fixture: apitest.NewFixture(t, base, st.Secret), stack: st, base: base, workerID: "t" + randHex(4), initPath: initPath}
	for i := 0; i < workers; i++ {
		e.startWorker(t, e.workerID+"-"+string(rune('a'+i)), maxConcurrent)
	}
	return e
}

// startWorker runs platform.RunWorker until the test ends.
func (e *env) startWorker(t testing.TB, id string, maxConcurrent int) {
	t.Helper()
	cfg, err := config.Load(func(k string) string {
		return map[string]string{
			"NATS_URL":                  e.stack.URL,
			"WORKER_ID":                 id,
			"WORKER_ADDRESS":            "127.0.0.1:0",
			"MAX_CONCURRENT_EXECUTIONS": strconv.Itoa(maxConcurrent),
			"METRICS":                   map[bool]string{true: "off", false: "on"}[e.metricsOff],
			"RETRY_DELAY":               e.retryDelay,
			"FAAS_INIT_PATH":            e.initPath,
			"EXECUTION_KEY":             hex.EncodeToString(auth.ExecutionKey(e.stack.Secret)),
		}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	e.workers = append(e.workers, id)
	// Registered first, so it runs after the worker stopped: every
	// container of the worker is gone by then.
	t.Cleanup(func() { dockertest.WaitNoContainers(t, docker.LabelWorkerID, id, 10*time.Second) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := zaptest.NewLogger(t).Named(id)
	if _, ok := t.(*testing.B); ok {
		log = zap.NewNop()
	}
	if e.observe != nil {
		log = zap.New(zapcore.NewTee(log.Core(), e.observe)).Named(id)
	}
	go func() { done <- platform.RunWorker(ctx, cfg, log) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("worker %s: %v", id, err)
			}
		case <-time.After(90 * time.Second):
			t.Errorf("worker %s did not stop", id)
		}
	})
	// Wait until the worker's heartbeat is in.
	eventually.True(t, 20*time.Second, func() bool {
		ws, _ := e.stack.Workers.List(context.Background())
		return slices.ContainsFunc(ws, func(w natsstore.WorkerInfo) bool { return w.ID == id })
	}, "worker %s never reported", id)
}

// function creates a function of u running a busybox script.
func (e *env) function(t testing.TB, u *apitest.User, name, script string, fields map[string]any) string {
	t.Helper()
	img := dockertest.BuildBusyboxImage(t, "e2e-"+name, script)
	f := map[string]any{"image_url": img, "timeout": 20, "memory_mb": 64}
	for k, v := range fields {
		f[k] = v
	}
	return e.CreateFunction(t, u, name, f)
}

// execution is the JSON of an execution.
type execution struct {
	// The API's execution (package wire), with input and output as
	// pointers, so that a test tells an absent field from an empty one.
	wire.Execution
	Status string  `json:"status"`
	Input  *string `json:"input"`
	Output *string `json:"output"`
}

func (x execution) output() string {
	if x.Output == nil {
		return ""
	}
	return *x.Output
}

// run starts an execution synchronously and returns what the API answered.
func (e *env) run(t testing.TB, u *apitest.User, fn string, input any) (int, execution) {
	t.Helper()
	r := e.Do(t, http.MethodPost, "/api/v1/executions?wait=true", u.Token, map[string]any{"function_id": fn, "input": input})
	if r.Status != http.StatusOK && r.Status != http.StatusAccepted {
		t.Fatalf("run function %s: %d %s", fn, r.Status, r.Body)
	}
	var x execution
	r.Decode(t, &x)
	return r.Status, x
}

// get reads an execution.
func (e *env) get(t testing.TB, u *apitest.User, id string) execution {
	t.Helper()
	r := e.Do(t, http.MethodGet, "/api/v1/executions/"+id, u.Token, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("get execution %s: %d %s", id, r.Status, r.Body)
	}
	var x execution
	r.Decode(t, &x)
	return x
}

// waitStatus polls until the execution's status is one of want.
func (e *env) waitStatus(t testing.TB, u *apitest.User, id string, d time.Duration, want ...string) execution {
	t.Helper()
	var x execution
	eventually.NoError(t, d, func() error {
		if x = e.get(t, u, id); slices.Contains(want, x.Status) {
			return nil
		}
		return fmt.Errorf("execution %s: status %q, want one of %v (error %q)", id, x.Status, want, x.Error)
	})
	return x
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
