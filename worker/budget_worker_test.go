package worker_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/worker"
)

// countingRuntime is a fake of the runtime port: each run takes a moment
// and the most runs at once is recorded.
type countingRuntime struct {
	mu          sync.Mutex
	now, most   int
	runs        int
	runDuration time.Duration
}

func (r *countingRuntime) Run(ctx context.Context, spec domain.RunSpec) (domain.RunResult, error) {
	r.mu.Lock()
	r.now++
	r.runs++
	r.most = max(r.most, r.now)
	r.mu.Unlock()
	select {
	case <-time.After(r.runDuration):
	case <-ctx.Done():
	}
	r.mu.Lock()
	r.now--
	r.mu.Unlock()
	return domain.RunResult{ExitCode: 0, Stdout: []byte("ok"), ColdStart: true}, nil
}

var _ domain.Runtime = (*countingRuntime)(nil)

// TestMemoryBudget: with WORKER_MEMORY_MB of 100 and functions of 64 MB, a
// worker with three slots runs one execution at a time, and every one of
// them completes (the others wait for room, none is handed back or lost).
func TestMemoryBudget(t *testing.T) {
	b := newBed(t)
	rt := &countingRuntime{runDuration: 150 * time.Millisecond}
	w := worker.New(worker.Options{ID: "budget-w", MaxConcurrent: 3, Policy: testPolicy, MemoryMB: 100}, worker.Deps{
		Functions: b.functions, Execs: b.execs, Leases: b.leases, Runtime: rt,
		Reclaimer: b.sweeper, Results: b.queue,
	}, zaptest.NewLogger(t))
	var jobs []domain.Job
	for range 4 {
		jobs = append(jobs, b.submit(t, "faas-examples/echo:latest")) // memory_mb 32 by submit: raised below
	}
	for _, j := range jobs {
		if _, err := b.functions.Update(context.Background(), j.Owner, j.FunctionID, func(f *domain.Function) error {
			f.MemoryMB = 64
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	b.serve(t, w, context.Background())
	for _, j := range jobs {
		if e := b.waitFinal(t, j, 30*time.Second); e.Status != domain.StatusComplete || e.Attempts != 1 {
			t.Fatalf("execution %s: %s after %d attempts, want complete after 1", j.ExecutionID, e.Status, e.Attempts)
		}
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.most != 1 || rt.runs != len(jobs) {
		t.Fatalf("%d runs, at most %d at once; want %d runs one at a time (2 × 64 MB > 100 MB)", rt.runs, rt.most, len(jobs))
	}
}
