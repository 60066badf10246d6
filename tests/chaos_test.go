//go:build chaos

package tests

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faasplatform/faas/api/apitest"
	"github.com/faasplatform/faas/internal/eventually"
)

// TestChaos is the reliability soak of `make chaos` (build tag chaos, never
// part of `make test`): CHAOS_N executions (default 10,000) of a short
// function through the HTTP API while a random worker process is SIGKILLed
// every CHAOS_KILL_EVERY (default 5 s) and replaced, and the external NATS
// server is restarted once. It prints accepted, complete, failed,
// dead-lettered, lost and run-twice counts and the longest wait.
func TestChaos(t *testing.T) {
	n := envInt("CHAOS_N", 10000)
	killEvery := envDuration("CHAOS_KILL_EVERY", 5*time.Second)
	workers := envInt("CHAOS_WORKERS", 4)
	srv := startNATSServer(t)
	e := newLifecycleEnv(t, srv.url())
	watch := watchContainers(t)

	var mu sync.Mutex
	live := map[string]*workerProc{}
	seq := 0
	startOne := func() {
		mu.Lock()
		seq++
		id := fmt.Sprintf("%s-%d", e.workerID, seq)
		mu.Unlock()
		p := e.startWorkerProc(t, id, 10)
		mu.Lock()
		live[id] = p
		mu.Unlock()
	}
	for range workers {
		startOne()
	}
	u := e.Register(t, "chaos")
	fn := e.function(t, u, "chaos", "cat", nil)

	// Submit with a few clients at once.
	ids := make([]string, n)
	var accepted atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	began := time.Now()
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				for {
					r, x := e.postExecution(t, u, fn, strconv.Itoa(i), nil)
					if r.Status == http.StatusAccepted {
						ids[i] = x.ID
						accepted.Add(1)
						break
					}
					time.Sleep(200 * time.Millisecond) // the API is down (NATS restarting): a client retries
				}
			}
		})
	}

	// The chaos: kill a random worker every killEvery, restart NATS once
	// when half has been submitted.
	stop := make(chan struct{})
	var kills atomic.Int64
	chaosDone := make(chan struct{})
	go func() {
		defer close(chaosDone)
		restarted, ticks := false, 0
		tick := time.NewTicker(killEvery)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			ticks++
			mu.Lock()
			var victim *workerProc
			for _, p := range live {
				if victim == nil || rand.IntN(2) == 0 {
					victim = p
				}
			}
			if victim != nil {
				delete(live, victim.id)
			}
			mu.Unlock()
			if victim != nil {
				victim.kill(t)
				kills.Add(1)
				startOne()
			}
			if !restarted && (ticks >= 3 || int(next.Load()) > n/2) {
				restarted = true
				srv.restart(t)
				t.Logf("nats restarted after %d submissions", next.Load())
			}
		}
	}()
	wg.Wait()
	submitted := time.Since(began)

	var complete, failed, timedOut, dead, lost, twiceAtOnce, rerun int
	var longest time.Duration
	var slowest execution
	for i, id := range ids {
		x, ended := e.waitEnded(t, u, id, 20*time.Minute)
		switch {
		case !ended:
			lost++
			t.Logf("lost: %+v", x)
		case x.Status == "complete" && x.output() == strconv.Itoa(i):
			complete++
		case x.Status == "failed" && strings.Contains(x.Error, "dead letter"):
			dead++
		case x.Status == "failed":
			failed++
			t.Logf("failed: %s %q", x.ID, x.Error)
		case x.Status == "timeout":
			timedOut++
		default:
			lost++
			t.Logf("wrong end: %+v output %q", x, x.output())
		}
		if _, most := watch.stats(id); most > 1 {
			twiceAtOnce++
		}
		if x.Attempts > 1 {
			rerun++
		}
		if x.EndTime != nil && x.EndTime.Sub(x.CreatedAt) > longest {
			longest, slowest = x.EndTime.Sub(x.CreatedAt), x
		}
	}
	close(stop)
	<-chaosDone
	total := time.Since(began)
	fmt.Printf("chaos: N=%d workers=%d kills=%d nats-restarts=1 submitted-in=%s all-ended-in=%s\n",
		n, workers, kills.Load(), submitted.Round(time.Second), total.Round(time.Second))
	fmt.Printf("chaos: accepted=%d complete=%d failed=%d timeout=%d dead-lettered=%d lost=%d run-twice-at-once=%d re-run-after-a-death=%d longest-wait=%s\n",
		accepted.Load(), complete, failed, timedOut, dead, lost, twiceAtOnce, rerun, longest.Round(time.Millisecond))
	fmt.Printf("chaos: slowest: %s attempts=%d status=%s error=%q\n", slowest.ID, slowest.Attempts, slowest.Status, slowest.Error)
	if lost > 0 || twiceAtOnce > 0 || int(accepted.Load()) != n {
		t.Fatalf("lost %d, run twice at once %d, accepted %d of %d", lost, twiceAtOnce, accepted.Load(), n)
	}
}

// waitEnded polls execution id until it has ended, taking an error answer
// (the API is briefly unavailable while NATS restarts) as "not yet"; false
// when it did not end within d.
func (e *env) waitEnded(t *testing.T, u *apitest.User, id string, d time.Duration) (execution, bool) {
	t.Helper()
	var x execution
	ended := eventually.Within(d, func() bool {
		r := e.Do(t, http.MethodGet, "/api/v1/executions/"+id, u.Token, nil)
		if r.Status != http.StatusOK {
			return false
		}
		r.Decode(t, &x)
		return x.Status != "pending" && x.Status != "running"
	})
	return x, ended
}

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
		return v
	}
	return def
}

func envDuration(k string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(k)); err == nil && v > 0 {
		return v
	}
	return def
}
