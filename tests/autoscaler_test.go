package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"go.uber.org/zap/zaptest"

	"github.com/faasplatform/faas/api/apitest"
	"github.com/faasplatform/faas/apisix/apisixtest"
	"github.com/faasplatform/faas/autoscaler"
	"github.com/faasplatform/faas/config"
	"github.com/faasplatform/faas/docker/dockertest"
	"github.com/faasplatform/faas/internal/eventually"
	"github.com/faasplatform/faas/platform"
	"github.com/faasplatform/faas/wire"
)

// statusWatch polls workers/status in the background and remembers what it
// saw: each state, the most workers at once, the fewest serving ones once
// the pool was up, the first scale-up and when each worker first showed.
type statusWatch struct {
	mu        sync.Mutex
	last      wire.Workers
	states    map[string]bool
	most      int
	fewest    int // serving (not draining) workers, once MIN were up
	firstSeen map[string]time.Time
	scaleUp   time.Time // the first decision that grew the pool
	desired   []int
}

func watchStatus(t *testing.T, base, token string, min int) *statusWatch {
	t.Helper()
	w := &statusWatch{states: map[string]bool{}, firstSeen: map[string]time.Time{}, fewest: -1}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/workers/status", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				continue
			}
			var s wire.Workers
			err = decodeJSON(resp, &s)
			if err != nil {
				continue
			}
			w.record(s, min)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

func (w *statusWatch) record(s wire.Workers, min int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = s
	serving := 0
	for _, x := range s.Workers {
		w.states[x.Status] = true
		if _, ok := w.firstSeen[x.ID]; !ok {
			w.firstSeen[x.ID] = time.Now()
		}
		if x.Status != autoscaler.StatusDraining {
			serving++
		}
	}
	w.most = max(w.most, len(s.Workers))
	if w.fewest >= 0 || serving >= min {
		if w.fewest < 0 || serving < w.fewest {
			w.fewest = serving
		}
	}
	if a := s.Autoscaler; a != nil {
		if len(w.desired) == 0 || w.desired[len(w.desired)-1] != a.Desired {
			w.desired = append(w.desired, a.Desired)
		}
		if ls := a.LastScale; ls != nil && ls.To > ls.From && w.scaleUp.IsZero() {
			w.scaleUp = ls.At
		}
	}
}

func (w *statusWatch) snapshot() wire.Workers {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// scaleEnv is the platform of an autoscaler test: an API with no worker and
// an autoscaler of the given backend with the short intervals.
type scaleEnv struct {
	*env
	watch *statusWatch
	user  *apitest.User
}

func autoscalerConfig(t *testing.T, natsURL, backend string, min, max int) config.Config {
	t.Helper()
	vars := map[string]string{
		"NATS_URL": natsURL, "AUTOSCALER_BACKEND": backend,
		"MIN_WORKERS": strconv.Itoa(min), "MAX_WORKERS": strconv.Itoa(max),
		"CHECK_INTERVAL": "1s", "COOLDOWN_PERIOD": "2s", "MAX_CONCURRENT_EXECUTIONS": "1",
		"MAX_RETRIES": "3", "RETRY_DELAY": lifecycleRetryDelay.String(), "LOG_LEVEL": "info",
		"WORKER_ADDRESS": "127.0.0.1:0",
	}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startAutoscaler runs a (platform) autoscaler until the test ends.
func startAutoscaler(t *testing.T, as *platform.Autoscaler) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- as.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("autoscaler: %v", err)
			}
		case <-time.After(90 * time.Second):
			t.Errorf("autoscaler did not stop")
		}
	})
	select {
	case <-as.Controller:
	case err := <-done:
		t.Fatalf("autoscaler stopped at start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("autoscaler did not start")
	}
}

// burst runs n executions of a 2 s function through the autoscaled pool of
// s: the pool grows to max, every execution completes at its first
// attempt, the pool shrinks back to min; it returns the executions.
func (s *scaleEnv) burst(t *testing.T, n, min, max int) []execution {
	t.Helper()
	eventually.NoError(t, 60*time.Second, func() error {
		st := s.watch.snapshot()
		if len(st.Workers) != min || st.Autoscaler == nil || st.Autoscaler.Desired != min {
			return fmt.Errorf("before the burst: %+v, want %d workers and an autoscaler", st, min)
		}
		for _, w := range st.Workers {
			if w.Status != autoscaler.StatusIdle {
				return fmt.Errorf("before the burst: worker %s is %s", w.ID, w.Status)
			}
		}
		return nil
	})
	fn := s.function(t, s.user, "two-seconds", `sleep 2; echo "done $FAAS_ATTEMPT"`, nil)
	ids := make([]string, n)
	for i := range ids {
		r, x := s.postExecution(t, s.user, fn, strconv.Itoa(i), nil)
		if r.Status != http.StatusAccepted {
			t.Fatalf("post %d: %d %s", i, r.Status, r.Body)
		}
		ids[i] = x.ID
	}
	eventually.NoError(t, 60*time.Second, func() error {
		s.watch.mu.Lock()
		defer s.watch.mu.Unlock()
		if s.watch.most < max {
			return fmt.Errorf("the pool never grew to %d workers (most %d, desired %v)", max, s.watch.most, s.watch.desired)
		}
		return nil
	})
	out := make([]execution, n)
	eventually.NoError(t, 120*time.Second, func() error {
		for i, id := range ids {
			if out[i].Status == "complete" {
				continue
			}
			out[i] = s.get(t, s.user, id)
			if out[i].Status == "failed" || out[i].Status == "timeout" || out[i].Status == "cancelled" {
				t.Fatalf("execution %s ended %s: %s", id, out[i].Status, out[i].Error)
			}
			if out[i].Status != "complete" {
				return fmt.Errorf("execution %d (%s) is %s", i, id, out[i].Status)
			}
		}
		return nil
	})
	for i, x := range out {
		if x.Attempts != 1 || x.output() != "done 1\n" {
			t.Errorf("execution %d: %d attempts, output %q; want 1 attempt (no retry from the shrink)", i, x.Attempts, x.output())
		}
	}
	eventually.NoError(t, 60*time.Second, func() error {
		st := s.watch.snapshot()
		if len(st.Workers) != min || st.Autoscaler == nil || st.Autoscaler.Desired != min {
			return fmt.Errorf("after the burst: %d workers, autoscaler %+v; want %d", len(st.Workers), st.Autoscaler, min)
		}
		return nil
	})
	s.watch.mu.Lock()
	defer s.watch.mu.Unlock()
	for _, state := range []string{autoscaler.StatusIdle, autoscaler.StatusBusy, autoscaler.StatusDraining} {
		if !s.watch.states[state] {
			t.Errorf("workers/status never showed a worker %s (saw %v)", state, s.watch.states)
		}
	}
	if s.watch.most > max || s.watch.fewest < min {
		t.Errorf("workers ranged %d to %d serving, want within [%d, %d]", s.watch.fewest, s.watch.most, min, max)
	}
	t.Logf("desired worker counts over the test: %v", s.watch.desired)
	return out
}

// reportStartToFirstJob logs, for the workers the scale-up started, the
// time from the decision to the first job each claimed.
func (s *scaleEnv) reportStartToFirstJob(t *testing.T, kind string, initial map[string]bool) {
	t.Helper()
	s.watch.mu.Lock()
	decided := s.watch.scaleUp
	s.watch.mu.Unlock()
	if decided.IsZero() {
		t.Errorf("no scale-up decision seen")
		return
	}
	first := map[string]time.Time{}
	r := s.Do(t, http.MethodGet, "/api/v1/executions?limit=100", s.user.Token, nil)
	var page struct {
		Executions []struct {
			WorkerID  string     `json:"worker_id"`
			StartTime *time.Time `json:"start_time"`
		} `json:"executions"`
	}
	r.Decode(t, &page)
	for _, x := range page.Executions {
		if x.StartTime == nil || initial[x.WorkerID] || x.WorkerID == "" {
			continue
		}
		if f, ok := first[x.WorkerID]; !ok || x.StartTime.Before(f) {
			first[x.WorkerID] = *x.StartTime
		}
	}
	var ds []time.Duration
	for _, f := range first {
		ds = append(ds, f.Sub(decided))
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	if len(ds) == 0 {
		t.Errorf("no new worker ran a job")
		return
	}
	t.Logf("autoscaler %s backend: decision → a new worker's first job, %d workers: min %s, median %s, max %s",
		kind, len(ds), ds[0].Round(time.Millisecond), ds[len(ds)/2].Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond))
}

func (w *statusWatch) ids() map[string]bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]bool{}
	for _, x := range w.last.Workers {
		out[x.ID] = true
	}
	return out
}

// TestAutoscalerGrowsAndShrinksWorkerProcesses: 30 executions of a 2 s
// function on workers of one slot each: the autoscaler (process backend,
// checks every second, 2 s cooldown) grows the pool from 2 to 6 in one
// step, every execution completes at its first attempt, then the idle
// workers drain and exit down to 2; workers/status shows idle, busy and
// draining workers and the autoscaler's desired count on the way.
func TestAutoscalerGrowsAndShrinksWorkerProcesses(t *testing.T) {
	const n, min, max = 30, 2, 6
	e := newLifecycleEnv(t, "")
	bin := apisixtest.GoBuild(t, "github.com/faasplatform/faas/cmd/faas")
	logs := &apisixtest.SyncBuffer{}
	as := platform.NewAutoscaler(autoscalerConfig(t, e.stack.URL, "process", min, max), zaptest.NewLogger(t).Named("autoscaler"))
	as.WorkerCommand = func(id string, env []string) *exec.Cmd {
		cmd := exec.Command(bin, "worker")
		cmd.Env = env
		cmd.Stderr = logs
		return cmd
	}
	startAutoscaler(t, as)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker processes:\n%s", logs)
		}
	})
	u := e.Register(t, "scaler")
	s := &scaleEnv{env: e, user: u, watch: watchStatus(t, e.base, u.Token, min)}
	eventually.True(t, 60*time.Second, func() bool { return len(s.watch.ids()) == min }, "no %d workers", min)
	initial := s.watch.ids()
	s.burst(t, n, min, max)
	s.reportStartToFirstJob(t, "process", initial)
}

// TestAutoscalerGrowsAndShrinksWorkerContainers: the same with the Docker
// backend, on worker containers of the platform's image (built here from a
// static faas binary): they are labelled with the platform's instance, grow
// and shrink, and the test removes them and the image at the end.
func TestAutoscalerGrowsAndShrinksWorkerContainers(t *testing.T) {
	const n, min, max = 12, 1, 3
	e := newLifecycleEnv(t, "")
	img := platformImage(t)
	instance, err := platform.InstanceID(context.Background(), e.stack.Buckets)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeWorkerContainers(t, instance) })
	as := platform.NewAutoscaler(autoscalerConfig(t, e.stack.URL, "docker", min, max), zaptest.NewLogger(t).Named("autoscaler"))
	as.WorkerImage = img
	startAutoscaler(t, as)
	u := e.Register(t, "cscaler")
	s := &scaleEnv{env: e, user: u, watch: watchStatus(t, e.base, u.Token, min)}
	eventually.True(t, 60*time.Second, func() bool { return len(s.watch.ids()) == min }, "no %d workers", min)
	if c := workerContainers(t, instance); len(c) != min {
		t.Fatalf("worker containers %v, want %d", c, min)
	}
	initial := s.watch.ids()
	s.burst(t, n, min, max)
	eventually.True(t, 30*time.Second, func() bool { return len(workerContainers(t, instance)) == min },
		"worker containers after the shrink: %v", workerContainers(t, instance))
	s.reportStartToFirstJob(t, "docker", initial)
}

// platformImage builds the platform's image (cmd/faas/Dockerfile: FROM
// scratch and the faas binary) from a static build, once per test binary.
func platformImage(t *testing.T) string {
	t.Helper()
	dockerfile, err := os.ReadFile("../cmd/faas/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	return dockertest.BuildImage(t, "platform", string(dockerfile), map[string][]byte{
		"faas":      dockertest.GoBinary(t, "github.com/faasplatform/faas/cmd/faas"),
		"faas-init": dockertest.GoBinary(t, "github.com/faasplatform/faas/cmd/faas-init"),
	})
}

func workerContainers(t *testing.T, instance string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := dockertest.Client(t).ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(
		filters.Arg("label", autoscaler.LabelRole+"="+autoscaler.RoleWorker),
		filters.Arg("label", autoscaler.LabelInstance+"="+instance))})
	if err != nil {
		t.Fatalf("list worker containers: %v", err)
	}
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.Labels[autoscaler.LabelWorker])
	}
	slices.Sort(ids)
	return ids
}

// removeWorkerContainers stops (SIGTERM: they drain) and removes the worker
// containers of instance, and waits until none is left.
func removeWorkerContainers(t *testing.T, instance string) {
	t.Helper()
	cli := dockertest.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(
		filters.Arg("label", autoscaler.LabelRole+"="+autoscaler.RoleWorker),
		filters.Arg("label", autoscaler.LabelInstance+"="+instance))})
	if err != nil {
		t.Errorf("list worker containers: %v", err)
		return
	}
	stop := 30
	for _, c := range cs {
		_ = cli.ContainerStop(ctx, c.ID, container.StopOptions{Timeout: &stop})
		_ = cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
	}
	eventually.True(t, 30*time.Second, func() bool { return len(workerContainers(t, instance)) == 0 },
		"worker containers left: %v", workerContainers(t, instance))
}

func decodeJSON(resp *http.Response, v any) error {
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
