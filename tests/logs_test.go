package tests

import (
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/faasplatform/faas/api/apitest"
	"github.com/faasplatform/faas/docker/dockertest"
	"github.com/faasplatform/faas/platform/platformtest"
)

// TestExecutionLogLines: every run logs exactly one "execution started"
// and one "execution ended" line, each with execution_id, function_id,
// worker_id and attempt, the ended one with the status and durations.
func TestExecutionLogLines(t *testing.T) {
	dockertest.RequireDocker(t)
	st := platformtest.NewStack(t)
	base := st.Serve(t)
	core, logs := observer.New(zap.InfoLevel)
	e := &env{Fixture: apitest.NewFixture(t, base, st.Secret), stack: st, base: base, workerID: "t" + randHex(4),
		retryDelay: "50ms", observe: core}
	e.startWorker(t, e.workerID+"-a", 2)
	u := e.Register(t, "loglines")
	ok := e.function(t, u, "l-ok", `cat`, nil)
	bad := e.function(t, u, "l-fail", `exit 2`, nil)
	retried := e.function(t, u, "l-retried", `[ "$FAAS_ATTEMPT" = 2 ] || exit 1; cat`, map[string]any{"max_retries": 1})
	want := map[string]struct {
		status string
		runs   int
	}{}
	for _, c := range []struct {
		fn, status string
		runs       int
	}{{ok, "complete", 1}, {bad, "failed", 1}, {retried, "complete", 2}} {
		_, x := e.run(t, u, c.fn, "x")
		x = e.waitStatus(t, u, x.ID, 30*time.Second, c.status)
		if x.Attempts < c.runs {
			t.Fatalf("%s: %d attempts, want at least %d", x.ID, x.Attempts, c.runs)
		}
		// One line pair per run the record counts (a platform failure on a
		// loaded machine may add a run; the lines must follow it exactly).
		want[x.ID] = struct {
			status string
			runs   int
		}{c.status, x.Attempts}
	}
	for id, w := range want {
		started := logs.FilterMessage("execution started").FilterField(zap.String("execution_id", id)).All()
		ended := logs.FilterMessage("execution ended").FilterField(zap.String("execution_id", id)).All()
		if len(started) != w.runs {
			t.Errorf("%s: %d \"execution started\" lines, want %d (one per run)", id, len(started), w.runs)
		}
		if len(ended) != 1 {
			t.Errorf("%s: %d \"execution ended\" lines, want 1", id, len(ended))
			continue
		}
		fields := ended[0].ContextMap()
		for _, k := range []string{"execution_id", "function_id", "worker_id", "attempt", "status", "duration", "queue_duration", "startup_duration"} {
			if _, ok := fields[k]; !ok {
				t.Errorf("%s: the ended line has no %s: %v", id, k, fields)
			}
		}
		if fields["status"] != w.status || fields["attempt"] != int64(w.runs) {
			t.Errorf("%s: ended line says status %v attempt %v, want %s attempt %d", id, fields["status"], fields["attempt"], w.status, w.runs)
		}
		for _, l := range started {
			for _, k := range []string{"execution_id", "function_id", "worker_id", "attempt"} {
				if _, ok := l.ContextMap()[k]; !ok {
					t.Errorf("%s: a started line has no %s: %v", id, k, l.ContextMap())
				}
			}
		}
	}
}
