package tests

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/faasplatform/faas/api/apitest"
	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/internal/eventually"
)

// slowScript runs long enough to be killed mid-run, then answers with its
// attempt.
const slowScript = `echo "attempt $FAAS_ATTEMPT" >&2; sleep 6; echo "done on attempt $FAAS_ATTEMPT"`

// takeOverWait bounds a take-over: the lease's TTL, a sweep, the backoff.
const takeOverWait = domain.LeaseTTL + 3*domain.SweepInterval + 20*time.Second

// TestKilledWorkerIsTakenOver: SIGKILL the worker running an execution; its
// container dies, another worker takes the execution over (attempt 2) and
// ends it once; at no moment do two containers of it run.
func TestKilledWorkerIsTakenOver(t *testing.T) {
	e := newLifecycleEnv(t, "")
	watch := watchContainers(t)
	workers := map[string]*workerProc{}
	for _, id := range []string{e.workerID + "-a", e.workerID + "-b"} {
		workers[id] = e.startWorkerProc(t, id, 2)
	}
	u := e.Register(t, "victim")
	fn := e.function(t, u, "lc-slow", slowScript, nil)
	r, x := e.postExecution(t, u, fn, "x", nil)
	if r.Status != http.StatusAccepted {
		t.Fatalf("post: %d %s", r.Status, r.Body)
	}
	first := e.holder(t, u, x.ID, 1, 30*time.Second)
	watch.waitStarts(t, x.ID, 1, 30*time.Second)
	workers[first].kill(t)

	second := e.holder(t, u, x.ID, 2, takeOverWait)
	if second == first {
		t.Fatalf("attempt 2 on the dead worker %s", first)
	}
	end := e.waitStatus(t, u, x.ID, 60*time.Second, "complete", "failed", "timeout", "cancelled")
	if end.Status != "complete" || end.Attempts != 2 || end.output() != "done on attempt 2\n" {
		t.Fatalf("end: %+v (output %q)", end, end.output())
	}
	starts, most := watch.stats(x.ID)
	if starts != 2 || most != 1 {
		t.Fatalf("containers of the execution: %d started, %d at once at most; want 2 and 1", starts, most)
	}
}

// TestThreeDeathsDeadLetterRedrive: the worker running an execution dies
// three times in a row; the third death uses up MAX_RETRIES attempts, so
// the execution ends failed as a dead letter, listed; its redrive runs to
// the end; at no moment do two of its containers run.
func TestThreeDeathsDeadLetterRedrive(t *testing.T) {
	e := newLifecycleEnv(t, "")
	watch := watchContainers(t)
	u := e.Register(t, "unlucky")
	fn := e.function(t, u, "lc-slow3", slowScript, nil)
	live := map[string]*workerProc{}
	spare := 0
	startOne := func() {
		spare++
		id := fmt.Sprintf("%s-%d", e.workerID, spare)
		live[id] = e.startWorkerProc(t, id, 2)
	}
	startOne()
	startOne()
	r, x := e.postExecution(t, u, fn, "again", nil)
	if r.Status != http.StatusAccepted {
		t.Fatalf("post: %d %s", r.Status, r.Body)
	}
	for n := 1; n <= 3; n++ {
		wait := 30 * time.Second
		if n > 1 {
			wait = takeOverWait
		}
		h := e.holder(t, u, x.ID, n, wait)
		watch.waitStarts(t, x.ID, n, 30*time.Second)
		live[h].kill(t)
		delete(live, h)
		startOne() // keep two alive, as the pool would
	}
	end := e.waitStatus(t, u, x.ID, takeOverWait, "complete", "failed", "timeout", "cancelled")
	if end.Status != "failed" || end.Attempts != 3 || !strings.Contains(end.Error, "dead letter") {
		t.Fatalf("after three deaths: %+v", end)
	}
	var dls struct {
		DeadLetters []struct {
			ExecutionID string `json:"execution_id"`
			FunctionID  string `json:"function_id"`
			Attempts    int    `json:"attempts"`
			Error       string `json:"error"`
		} `json:"dead_letters"`
	}
	// The dead letter joins the list right after the record ends.
	eventually.True(t, 20*time.Second, func() bool {
		e.Do(t, http.MethodGet, "/api/v1/deadletters", u.Token, nil).Decode(t, &dls)
		return len(dls.DeadLetters) == 1
	}, "the dead letter was not listed")
	if dls.DeadLetters[0].ExecutionID != x.ID || dls.DeadLetters[0].Attempts != 3 || dls.DeadLetters[0].FunctionID != fn {
		t.Fatalf("dead letters: %+v", dls)
	}
	other := e.Register(t, "stranger")
	if r := e.Do(t, http.MethodPost, "/api/v1/deadletters/"+x.ID+"/redrive", other.Token, nil); r.Status != http.StatusNotFound || r.ErrorCode() != "execution_not_found" {
		t.Fatalf("another user's redrive: %d %s", r.Status, r.Body)
	}
	if starts, most := watch.stats(x.ID); starts != 3 || most != 1 {
		t.Fatalf("containers: %d started, %d at once at most; want 3 and 1", starts, most)
	}

	rr := e.Do(t, http.MethodPost, "/api/v1/deadletters/"+x.ID+"/redrive", u.Token, nil)
	var again struct {
		execution
		RedriveOf string `json:"redrive_of"`
	}
	rr.Decode(t, &again)
	if rr.Status != http.StatusAccepted || again.RedriveOf != x.ID || again.ID == x.ID || again.Status != "pending" {
		t.Fatalf("redrive: %d %s", rr.Status, rr.Body)
	}
	done := e.waitStatus(t, u, again.ID, 60*time.Second, "complete", "failed", "timeout", "cancelled")
	if done.Status != "complete" || done.output() != "done on attempt 1\n" {
		t.Fatalf("redriven: %+v", done)
	}
	e.Do(t, http.MethodGet, "/api/v1/deadletters", u.Token, nil).Decode(t, &dls)
	if len(dls.DeadLetters) != 0 {
		t.Fatalf("the redriven dead letter is still listed: %+v", dls)
	}
	if r := e.Do(t, http.MethodDelete, "/api/v1/deadletters/"+x.ID, u.Token, nil); r.Status != http.StatusNotFound {
		t.Fatalf("discard after redrive: %d %s", r.Status, r.Body)
	}
}

// TestGatewayDiesBetweenRecordAndPublish: the gateway stops right after
// writing the pending record, before publishing the job (fault injected);
// the sweeper publishes it and a worker runs it.
func TestGatewayDiesBetweenRecordAndPublish(t *testing.T) {
	e := newLifecycleEnv(t, "")
	e.startWorker(t, e.workerID+"-a", 2)
	u := e.Register(t, "crashy")
	fn := e.function(t, u, "lc-upper", "tr a-z A-Z", nil)
	e.stack.ExecutionService.AfterRecord = func(*domain.Execution) error {
		return fmt.Errorf("injected: the gateway died here")
	}
	r, _ := e.postExecution(t, u, fn, "late", nil)
	if r.Status != http.StatusInternalServerError {
		t.Fatalf("post with the fault: %d %s", r.Status, r.Body)
	}
	e.stack.ExecutionService.AfterRecord = nil
	var list struct{ Executions []execution }
	e.Do(t, http.MethodGet, "/api/v1/executions", u.Token, nil).Decode(t, &list)
	if len(list.Executions) != 1 || list.Executions[0].Status != "pending" {
		t.Fatalf("after the fault: %+v", list)
	}
	end := e.waitStatus(t, u, list.Executions[0].ID, 60*time.Second, "complete", "failed")
	if end.Status != "complete" || end.output() != "LATE" || end.Attempts != 1 {
		t.Fatalf("swept execution: %+v", end)
	}
}

// TestFunctionRetries: a function failing on attempt 1 and passing on
// attempt 2 with max_retries 2 ends complete with attempts 2, after about
// RETRY_DELAY; with max_retries 0 it fails once and is no dead letter.
func TestFunctionRetries(t *testing.T) {
	e := newLifecycleEnv(t, "")
	e.startWorker(t, e.workerID+"-a", 2)
	u := e.Register(t, "retrier")
	script := `if [ "$FAAS_ATTEMPT" = 1 ]; then echo "first attempt fails" >&2; exit 3; fi; echo "ok on $FAAS_ATTEMPT"`
	retried := e.function(t, u, "lc-flaky", script, map[string]any{"max_retries": 2})
	once := e.function(t, u, "lc-flaky-once", script, map[string]any{"max_retries": 0})

	_, x := e.postExecution(t, u, retried, nil, nil)
	end := e.waitStatus(t, u, x.ID, 60*time.Second, "complete", "failed", "timeout")
	if end.Status != "complete" || end.Attempts != 2 || end.output() != "ok on 2\n" {
		t.Fatalf("with max_retries 2: %+v", end)
	}
	minWait := time.Duration(float64(lifecycleRetryDelay) * (1 - lifecyclePolicy.Jitter))
	if took := end.EndTime.Sub(end.CreatedAt); took < minWait {
		t.Fatalf("the retry came after %s, before RETRY_DELAY %s", took, lifecycleRetryDelay)
	}

	_, y := e.postExecution(t, u, once, nil, nil)
	end = e.waitStatus(t, u, y.ID, 60*time.Second, "complete", "failed", "timeout")
	if end.Status != "failed" || end.Attempts != 1 || end.Error != "exit code 3: first attempt fails" {
		t.Fatalf("with max_retries 0: %+v", end)
	}
	var dls struct {
		DeadLetters []any `json:"dead_letters"`
	}
	e.Do(t, http.MethodGet, "/api/v1/deadletters", u.Token, nil).Decode(t, &dls)
	if len(dls.DeadLetters) != 0 {
		t.Fatalf("a plain failure became a dead letter: %+v", dls)
	}
	if r := e.Do(t, http.MethodPost, "/api/v1/functions", u.Token, map[string]any{"name": "bad", "image_url": "x", "max_retries": 6}); r.Status != http.StatusBadRequest {
		t.Fatalf("max_retries 6: %d %s", r.Status, r.Body)
	}
}

// TestIdempotencyKey: the same key twice makes one execution (same id,
// Idempotent-Replayed: true, one run); the key with other input is 409; a
// bad key is 400; another user's same key is its own.
func TestIdempotencyKey(t *testing.T) {
	e := newLifecycleEnv(t, "")
	e.startWorker(t, e.workerID+"-a", 2)
	u := e.Register(t, "careful")
	fn := e.function(t, u, "lc-cat", "cat", nil)
	key := map[string]string{"Idempotency-Key": "order-42"}

	r1, x1 := e.postExecution(t, u, fn, "pay", key)
	if r1.Status != http.StatusAccepted || r1.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: %d %v %s", r1.Status, r1.Header, r1.Body)
	}
	e.waitStatus(t, u, x1.ID, 60*time.Second, "complete")
	r2 := apitest.Do(t, e.base, http.MethodPost, "/api/v1/executions", u.Token, map[string]any{"function_id": fn, "input": "pay"}, key)
	var x2 execution
	r2.Decode(t, &x2)
	if r2.Status != http.StatusAccepted || x2.ID != x1.ID || r2.Header.Get("Idempotent-Replayed") != "true" || x2.Status != "complete" {
		t.Fatalf("replay: %d %v %s", r2.Status, r2.Header, r2.Body)
	}
	if r := apitest.Do(t, e.base, http.MethodPost, "/api/v1/executions", u.Token, map[string]any{"function_id": fn, "input": "refund"}, key); r.Status != http.StatusConflict || r.ErrorCode() != "conflict" {
		t.Fatalf("same key, other input: %d %s", r.Status, r.Body)
	}
	for _, bad := range []string{strings.Repeat("k", 129), "tab\there"} {
		if r := apitest.Do(t, e.base, http.MethodPost, "/api/v1/executions", u.Token, map[string]any{"function_id": fn}, map[string]string{"Idempotency-Key": bad}); r.Status != http.StatusBadRequest {
			t.Fatalf("key %q: %d %s", bad, r.Status, r.Body)
		}
	}
	other := e.Register(t, "other")
	ofn := e.function(t, other, "lc-cat", "cat", nil)
	if r, x := e.postExecution(t, other, ofn, "pay", key); r.Status != http.StatusAccepted || x.ID == x1.ID {
		t.Fatalf("another user's key: %d %s", r.Status, r.Body)
	}
	var list struct{ Executions []execution }
	e.Do(t, http.MethodGet, "/api/v1/executions?function_id="+fn, u.Token, nil).Decode(t, &list)
	if len(list.Executions) != 1 {
		t.Fatalf("executions of the keyed function: %d, want 1", len(list.Executions))
	}
	final := e.get(t, u, x1.ID)
	if final.Attempts != 1 {
		t.Fatalf("the replayed execution ran %d times", final.Attempts)
	}
}
