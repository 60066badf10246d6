package tests

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faasplatform/faas/api/apitest"
	"github.com/faasplatform/faas/docker/dockertest"
	"github.com/faasplatform/faas/internal/eventually"
	"github.com/faasplatform/faas/natsstore"
	"github.com/faasplatform/faas/platform/platformtest"
	"github.com/faasplatform/faas/service"
)

// execDataObjects counts the objects in the execution-data store (outputs,
// inputs and logs too large for a record) by their chunk subjects.
func execDataObjects(t *testing.T, js jetstream.JetStream) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "OBJ_"+natsstore.ObjectStoreExecData)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter("$O."+natsstore.ObjectStoreExecData+".C.>"))
	if err != nil {
		t.Fatal(err)
	}
	return len(info.State.Subjects)
}

// TestRetention: with a short EXECUTION_RETENTION an ended
// execution, its logs and its output object (too large for the record) are
// gone once the retention has passed, by the sweeper's pass, not a timer.
func TestRetention(t *testing.T) {
	dockertest.RequireDocker(t)
	const keep = 2 * time.Second
	st := platformtest.NewStackWith(t, platformtest.StackOptions{Retention: keep, Sweeper: service.SweeperOptions{Interval: 200 * time.Millisecond}})
	base := st.Serve(t)
	e := &env{Fixture: apitest.NewFixture(t, base, st.Secret), stack: st, base: base, workerID: "t" + randHex(4)}
	e.startWorker(t, e.workerID+"-a", 2)
	u := e.Register(t, "retention")

	// 100 KB of output: more than a record holds, so it is an object.
	big := e.function(t, u, "r-big", `head -c 100000 /dev/zero | tr '\0' x; echo done >&2`, nil)
	_, x := e.run(t, u, big, "x")
	if x.Status != "complete" || x.Output == nil || len(*x.Output) != 100000 {
		t.Fatalf("big run: %s, output %d bytes; want complete with 100000", x.Status, len(deref(x.Output)))
	}
	if n := execDataObjects(t, st.JS); n == 0 {
		t.Fatal("the large output is not an object: the test does not test objects")
	}
	ended := time.Now()
	eventually.NoError(t, 30*time.Second, func() error {
		if r := e.Do(t, http.MethodGet, "/api/v1/executions/"+x.ID, u.Token, nil); r.Status != http.StatusNotFound {
			return fmt.Errorf("execution still there: %d", r.Status)
		}
		return nil
	})
	if gone := time.Since(ended); gone < keep {
		t.Fatalf("the execution went %s after it ended, before its retention of %s", gone, keep)
	}
	if r := e.Do(t, http.MethodGet, "/api/v1/executions/"+x.ID+"/logs", u.Token, nil); r.Status != http.StatusNotFound {
		t.Fatalf("logs of an expired execution: %d, want 404", r.Status)
	}
	eventually.NoError(t, 10*time.Second, func() error {
		if n := execDataObjects(t, st.JS); n != 0 {
			return fmt.Errorf("%d execution-data objects left", n)
		}
		return nil
	})
	r := e.Do(t, http.MethodGet, "/api/v1/executions", u.Token, nil)
	if r.Status != http.StatusOK || strings.Contains(string(r.Body), x.ID) {
		t.Fatalf("listing after expiry: %d %s", r.Status, r.Body)
	}
}

// TestFunctionDeleteCascade: a deleted function's executions go with it;
// another function's stay.
func TestFunctionDeleteCascade(t *testing.T) {
	e := newEnv(t, 1, 2)
	u := e.Register(t, "cascade")
	keepFn := e.function(t, u, "c-keep", `cat`, nil)
	_, kept := e.run(t, u, keepFn, "k")
	fn := e.function(t, u, "r-del", `cat`, nil)
	_, y := e.run(t, u, fn, "y")
	if y.Status != "complete" {
		t.Fatalf("run: %s", y.Status)
	}
	if r := e.Do(t, http.MethodGet, "/api/v1/executions/"+y.ID, u.Token, nil); r.Status != http.StatusOK {
		t.Fatalf("execution before its function's delete: %d, want 200", r.Status)
	}
	if r := e.Do(t, http.MethodDelete, "/api/v1/functions/"+fn, u.Token, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete function: %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, http.MethodGet, "/api/v1/executions/"+y.ID, u.Token, nil); r.Status != http.StatusNotFound {
		t.Fatalf("execution of a deleted function: %d, want 404", r.Status)
	}
	if r := e.Do(t, http.MethodGet, "/api/v1/executions/"+kept.ID, u.Token, nil); r.Status != http.StatusOK {
		t.Fatalf("another function's execution after the delete: %d, want 200", r.Status)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
