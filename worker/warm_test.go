package worker_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/faasplatform/faas/docker"
	"github.com/faasplatform/faas/docker/dockertest"
	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/service"
)

// TestWarmExecutionsRecordColdStart runs executions of one function in a
// row through a worker with warm containers: the first starts a container
// (cold_start true), the next reuses it with its own FAAS_EXECUTION_ID, an
// update of the function starts a new one, and "warm": false always starts
// its own.
func TestWarmExecutionsRecordColdStart(t *testing.T) {
	t.Parallel()
	dockertest.RequireDocker(t)
	b := newBed(t)
	img := dockertest.BuildBusyboxImage(t, "worker-warm", `echo "$FAAS_EXECUTION_ID $(hostname)"`)
	workerID := "w-warm-" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	// Cleanups run last first: this one after the runtime's Close.
	t.Cleanup(func() { dockertest.WaitNoContainers(t, docker.LabelWorkerID, workerID, 30*time.Second) })
	rt := newRuntime(t, docker.Options{InitPath: testInitPath})
	w := b.worker(t, workerID, 2, rt)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.serve(t, w, ctx)

	first := b.submit(t, img)
	execs := service.NewExecutions(b.functions, b.execs, b.queue, b.leases)
	run := func() *domain.Execution {
		t.Helper()
		e, err := execs.Enqueue(context.Background(), first.Owner, first.FunctionID, nil)
		if err != nil {
			t.Fatal(err)
		}
		return b.waitFinal(t, domain.Job{ExecutionID: e.ID, FunctionID: first.FunctionID, Owner: first.Owner}, 30*time.Second)
	}
	type seen struct {
		cold      bool
		container string
	}
	check := func(e *domain.Execution) seen {
		t.Helper()
		if e.Status != domain.StatusComplete {
			t.Fatalf("execution %s: %s (%s)", e.ID, e.Status, e.Error)
		}
		id, host, _ := strings.Cut(strings.TrimSpace(e.Output), " ")
		if id != e.ID {
			t.Errorf("FAAS_EXECUTION_ID %q, want %q", id, e.ID)
		}
		return seen{e.ColdStart, host}
	}

	s1 := check(b.waitFinal(t, first, 30*time.Second))
	s2 := check(run())
	if !s1.cold || s2.cold || s1.container != s2.container {
		t.Errorf("first %+v then %+v: want a cold start then the same container warm", s1, s2)
	}

	update := func(mutate func(*domain.Function)) {
		t.Helper()
		if _, err := b.functions.Update(context.Background(), first.Owner, first.FunctionID, func(f *domain.Function) error {
			mutate(f)
			f.UpdatedAt = time.Now().UTC()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	update(func(f *domain.Function) { f.Env = map[string]string{"V": "2"} })
	s3 := check(run())
	if !s3.cold || s3.container == s2.container {
		t.Errorf("after an update %+v, want a new container (not %s)", s3, s2.container)
	}

	update(func(f *domain.Function) { f.Warm = false })
	s4, s5 := check(run()), check(run())
	if !s4.cold || !s5.cold || s4.container == s5.container {
		t.Errorf("warm false: %+v then %+v, want two cold starts", s4, s5)
	}
}
