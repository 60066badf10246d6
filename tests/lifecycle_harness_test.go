package tests

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/faasplatform/faas/api/apitest"
	"github.com/faasplatform/faas/apisix/apisixtest"
	"github.com/faasplatform/faas/docker"
	"github.com/faasplatform/faas/docker/dockertest"
	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/internal/eventually"
	"github.com/faasplatform/faas/platform/platformtest"
	"github.com/faasplatform/faas/service"
)

// Lifecycle tests run their workers as real `faas worker` processes, so a
// worker can die as a process does: SIGKILL, no cleanup.

// lifecycleRetryDelay is RETRY_DELAY of the lifecycle tests.
const lifecycleRetryDelay = 300 * time.Millisecond

var lifecyclePolicy = domain.RetryPolicy{MaxAttempts: 3, BaseDelay: lifecycleRetryDelay, MaxDelay: 2 * time.Second, Jitter: 0.2}

// newLifecycleEnv is an API on real stores (sweeper included, with a short
// publish grace) and no worker; natsURL empty means an embedded server.
func newLifecycleEnv(t *testing.T, natsURL string) *env {
	t.Helper()
	dockertest.RequireDocker(t)
	st := platformtest.NewStackWith(t, platformtest.StackOptions{
		NATSURL: natsURL, Policy: lifecyclePolicy,
		Sweeper: service.SweeperOptions{Interval: time.Second, PublishGrace: 2 * time.Second},
	})
	st.Deps.WaitTimeout = 40 * time.Second
	base := st.Serve(t)
	return &env{Fixture: apitest.NewFixture(t, base, st.Secret), stack: st, base: base, workerID: "t" + randHex(4)}
}

// workerProc is a `faas worker` process.
type workerProc struct {
	id     string
	cmd    *exec.Cmd
	stderr *apisixtest.SyncBuffer
	done   chan struct{}
}

// startWorkerProc starts a worker process on e's NATS and waits for its
// first heartbeat.
func (e *env) startWorkerProc(t *testing.T, id string, maxConcurrent int) *workerProc {
	t.Helper()
	return e.startWorkerProcIn(t, "", id, maxConcurrent, "WORKER_ADDRESS=127.0.0.1:0")
}

// startWorkerProcIn is startWorkerProc in network namespace netns ("": this
// one, else through `ip netns exec`), with env added to the worker's.
func (e *env) startWorkerProcIn(t *testing.T, netns, id string, maxConcurrent int, env ...string) *workerProc {
	t.Helper()
	bin := apisixtest.GoBuild(t, "github.com/faasplatform/faas/cmd/faas")
	cmd := exec.Command(bin, "worker")
	if netns != "" {
		cmd = exec.Command("ip", "netns", "exec", netns, bin, "worker")
	}
	cmd.Env = append(os.Environ(), "NATS_URL="+e.stack.URL, "WORKER_ID="+id,
		"MAX_CONCURRENT_EXECUTIONS="+strconv.Itoa(maxConcurrent), "MAX_RETRIES=3",
		"RETRY_DELAY="+lifecycleRetryDelay.String(), "LOG_LEVEL=info")
	cmd.Env = append(cmd.Env, env...)
	p := &workerProc{id: id, cmd: cmd, stderr: &apisixtest.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(90 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("worker %s:\n%s", id, p.stderr)
		}
	})
	eventually.True(t, 30*time.Second, func() bool {
		ws, _ := e.stack.Workers.List(context.Background())
		for _, w := range ws {
			if w.ID == id {
				return true
			}
		}
		select {
		case <-p.done:
			t.Fatalf("worker %s exited at start:\n%s", id, p.stderr)
		default:
		}
		return false
	}, "worker %s never reported", id)
	return p
}

// kill ends the worker process with SIGKILL and waits for its death.
func (p *workerProc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

// containerWatch follows Docker's container events of executions and
// remembers, per execution, how many containers started and the most that
// ran at one moment.
type containerWatch struct {
	cmd *exec.Cmd

	mu      sync.Mutex
	running map[string]map[string]bool // execution → running container ids
	starts  map[string]int
	most    map[string]int
}

// watchContainers starts following events from now on (replayed from a
// moment before the call, so nothing between this call and the stream is
// missed).
func watchContainers(t *testing.T) *containerWatch {
	t.Helper()
	since := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
	cmd := exec.Command("docker", "events", "--since", since,
		"--filter", "type=container", "--filter", "event=start", "--filter", "event=die",
		"--filter", "label="+docker.LabelExecutionID,
		"--format", `{{.Action}} {{.Actor.ID}} {{index .Actor.Attributes "`+docker.LabelExecutionID+`"}}`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	w := &containerWatch{cmd: cmd, running: map[string]map[string]bool{}, starts: map[string]int{}, most: map[string]int{}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 {
				continue
			}
			w.event(f[0], f[1], f[2])
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return w
}

func (w *containerWatch) event(action, container, execution string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	set := w.running[execution]
	if set == nil {
		set = map[string]bool{}
		w.running[execution] = set
	}
	switch action {
	case "start":
		set[container] = true
		w.starts[execution]++
		w.most[execution] = max(w.most[execution], len(set))
	case "die":
		delete(set, container)
	}
}

// stats returns, for execution id, the containers started and the most
// that ran at once.
func (w *containerWatch) stats(id string) (starts, most int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.starts[id], w.most[id]
}

// waitStarts waits until execution id has had n container starts.
func (w *containerWatch) waitStarts(t *testing.T, id string, n int, d time.Duration) {
	t.Helper()
	eventually.True(t, d, func() bool { s, _ := w.stats(id); return s >= n }, "execution %s: fewer than %d container starts", id, n)
}

// postExecution starts an execution asynchronously and returns its id.
func (e *env) postExecution(t *testing.T, u *apitest.User, fn string, input any, header map[string]string) (*apitest.Response, execution) {
	t.Helper()
	r := apitest.Do(t, e.base, http.MethodPost, "/api/v1/executions", u.Token, map[string]any{"function_id": fn, "input": input}, header)
	var x execution
	if r.Status == http.StatusAccepted {
		r.Decode(t, &x)
	}
	return r, x
}

// holder returns the worker running execution id once it runs attempt n.
func (e *env) holder(t *testing.T, u *apitest.User, id string, n int, d time.Duration) string {
	t.Helper()
	var x struct {
		execution
		WorkerID string `json:"worker_id"`
	}
	eventually.True(t, d, func() bool {
		e.Do(t, http.MethodGet, "/api/v1/executions/"+id, u.Token, nil).Decode(t, &x)
		return x.Status == "running" && x.Attempts == n
	}, "execution %s never ran attempt %d (status %s, attempts %d, error %q)", id, n, x.Status, x.Attempts, x.Error)
	return x.WorkerID
}
