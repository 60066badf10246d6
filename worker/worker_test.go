package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

	"github.com/faasplatform/faas/docker"
	"github.com/faasplatform/faas/docker/dockertest"
	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/natsstore"
	"github.com/faasplatform/faas/worker"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := dockertest.Cleanup(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

// bed is a real embedded NATS with the platform's resources and stores.
type bed struct {
	nc        *nats.Conn
	buckets   *natsstore.Buckets
	js        jetstream.JetStream
	functions *natsstore.FunctionStore
	execs     *natsstore.ExecutionStore
	queue     *natsstore.Queue
	consumer  *natsstore.Consumer
}

func newBed(t *testing.T) *bed {
	t.Helper()
	srv, err := natsstore.StartEmbedded(natsstore.EmbeddedOptions{Port: -1, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, js, err := natsstore.Connect(ctx, srv.ClientURL(), "worker-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	b, err := natsstore.Setup(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	return &bed{nc: nc, buckets: b, js: js, functions: natsstore.NewFunctionStore(b.Functions),
		execs: natsstore.NewExecutionStore(b.Executions, b.ExecutionIndex, b.ExecutionData), queue: natsstore.NewQueue(js),
		consumer: natsstore.NewConsumer(js, zaptest.NewLogger(t))}
}

// submit stores a function running img and a pending execution of it, and
// queues the job.
func (b *bed) submit(t *testing.T, img string) domain.Job {
	t.Helper()
	ctx := context.Background()
	owner := fmt.Sprint("owner", time.Now().UnixNano())
	fn := &domain.Function{ID: "fn" + fmt.Sprint(time.Now().UnixNano()), Owner: owner, Name: "f", ImageURL: img, Timeout: 20, MemoryMB: 32}
	domain.ApplyFunctionDefaults(fn)
	if err := b.functions.Create(ctx, fn); err != nil {
		t.Fatal(err)
	}
	e := &domain.Execution{ID: "ex" + fmt.Sprint(time.Now().UnixNano()), FunctionID: fn.ID, Owner: owner,
		Status: domain.StatusPending, CreatedAt: time.Now().UTC()}
	if err := b.execs.Create(ctx, e); err != nil {
		t.Fatal(err)
	}
	j := domain.Job{ExecutionID: e.ID, FunctionID: fn.ID, Owner: owner}
	if err := b.queue.Enqueue(ctx, j); err != nil {
		t.Fatal(err)
	}
	return j
}

// serve runs w on the shared consumer until the returned stop is called.
func (b *bed) serve(t *testing.T, w *worker.Worker, runCtx context.Context) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := b.consumer.Consume(ctx, w.MaxConcurrent(), func(d domain.Delivery) { w.Handle(runCtx, d) }); err != nil {
			t.Errorf("consume: %v", err)
		}
	})
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

func (b *bed) waitFinal(t *testing.T, j domain.Job, d time.Duration) *domain.Execution {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		e, err := b.execs.Get(context.Background(), j.Owner, j.ExecutionID)
		if err != nil {
			t.Fatal(err)
		}
		if e.Status.Final() {
			return e
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("execution %s did not end within %s", j.ExecutionID, d)
	return nil
}

func newRuntime(t *testing.T, opts docker.Options) *docker.Runtime {
	t.Helper()
	rt, err := docker.New(zaptest.NewLogger(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	return rt
}

// A daemon that cannot be reached is a platform failure: the job is retried
// with backoff, and the last attempt ends the execution failed.
func TestPlatformFailureIsRetriedThenFails(t *testing.T) {
	b := newBed(t)
	rt := newRuntime(t, docker.Options{Host: "unix:///nonexistent/docker.sock"})
	w := worker.New(worker.Options{ID: "w-broken", MaxConcurrent: 2, RetryBase: 50 * time.Millisecond},
		b.functions, b.execs, rt, b.queue, zaptest.NewLogger(t))
	b.serve(t, w, context.Background())
	j := b.submit(t, "busybox:any")
	e := b.waitFinal(t, j, 20*time.Second)
	if e.Status != domain.StatusFailed || e.Attempts != 3 || !strings.Contains(e.Error, "after 3 attempts") {
		t.Fatalf("status %s attempts %d error %q; want failed after 3 attempts", e.Status, e.Attempts, e.Error)
	}
}

// A job delivered again for an execution that already ended is acked and
// skipped: the record is not touched and nothing runs.
func TestRedeliveredJobOfEndedExecutionIsSkipped(t *testing.T) {
	dockertest.RequireDocker(t)
	b := newBed(t)
	img := dockertest.BuildBusyboxImage(t, "worker-echo", "echo ran")
	w := worker.New(worker.Options{ID: "w-redeliver", MaxConcurrent: 2}, b.functions, b.execs,
		newRuntime(t, docker.Options{}), b.queue, zaptest.NewLogger(t))
	b.serve(t, w, context.Background())
	j := b.submit(t, img)
	first := b.waitFinal(t, j, 30*time.Second)
	if first.Status != domain.StatusComplete || first.Output != "ran\n" {
		t.Fatalf("first run: %+v", first)
	}

	// Publish the same job again, without the dedupe id, as a redelivery.
	data := fmt.Sprintf(`{"execution_id":%q,"function_id":%q,"owner":%q}`, j.ExecutionID, j.FunctionID, j.Owner)
	if _, err := b.js.Publish(context.Background(), natsstore.SubjectPending, []byte(data)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		cons, err := b.js.Consumer(context.Background(), natsstore.StreamExecutions, natsstore.ConsumerWorkers)
		if err != nil {
			t.Fatal(err)
		}
		info, err := cons.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 && info.AckFloor.Consumer == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("second job not settled: %+v", info)
		}
		time.Sleep(20 * time.Millisecond)
	}
	again, err := b.execs.Get(context.Background(), j.Owner, j.ExecutionID)
	if err != nil {
		t.Fatal(err)
	}
	if again.Attempts != 1 || !again.EndTime.Equal(*first.EndTime) || again.Status != domain.StatusComplete {
		t.Fatalf("redelivery touched the ended execution: before %+v after %+v", first, again)
	}
}

// A worker that stops mid-run hands the execution back at once; another
// worker runs it to the end (second attempt).
func TestStoppingWorkerHandsExecutionBack(t *testing.T) {
	dockertest.RequireDocker(t)
	b := newBed(t)
	img := dockertest.BuildBusyboxImage(t, "worker-slow", "sleep 2; echo finished")
	rt := newRuntime(t, docker.Options{})
	runCtx, killRuns := context.WithCancel(context.Background())
	first := worker.New(worker.Options{ID: "w-first", MaxConcurrent: 1}, b.functions, b.execs, rt, b.queue, zaptest.NewLogger(t))
	stopFirst := b.serve(t, first, runCtx)
	j := b.submit(t, img)

	deadline := time.Now().Add(20 * time.Second)
	for len(first.Active()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the first worker never started the run")
		}
		time.Sleep(10 * time.Millisecond)
	}
	killRuns() // the first worker's drain time is over
	stopFirst()
	if e, _ := b.execs.Get(context.Background(), j.Owner, j.ExecutionID); e.Status != domain.StatusPending {
		t.Fatalf("status %s after the worker stopped, want pending", e.Status)
	}

	second := worker.New(worker.Options{ID: "w-second", MaxConcurrent: 1}, b.functions, b.execs, rt, b.queue, zaptest.NewLogger(t))
	b.serve(t, second, context.Background())
	e := b.waitFinal(t, j, 30*time.Second)
	if e.Status != domain.StatusComplete || e.Attempts != 2 || e.WorkerID != "w-second" || e.Output != "finished\n" {
		t.Fatalf("second run: %+v", e)
	}
	dockertest.WaitNoContainers(t, docker.LabelExecutionID, j.ExecutionID, 10*time.Second)
}

// The sidecar answers /health and /status over real HTTP with the worker's
// id, state and running executions.
func TestSidecar(t *testing.T) {
	dockertest.RequireDocker(t)
	b := newBed(t)
	img := dockertest.BuildBusyboxImage(t, "worker-sidecar", "sleep 1")
	w := worker.New(worker.Options{ID: "w-side", MaxConcurrent: 3}, b.functions, b.execs,
		newRuntime(t, docker.Options{}), b.queue, zaptest.NewLogger(t))
	side := worker.NewSidecar(w, zaptest.NewLogger(t))
	addr, err := side.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = side.Shutdown(context.Background()) })
	get := func(path string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Get("http://" + addr.String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return resp.StatusCode, m
	}
	if code, m := get("/health"); code != 200 || m["status"] != "ok" {
		t.Fatalf("/health: %d %v", code, m)
	}
	if code, _ := get("/nope"); code != 404 {
		t.Fatalf("/nope: %d", code)
	}

	b.serve(t, w, context.Background())
	j := b.submit(t, img)
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, m := get("/status")
		if m["id"] != "w-side" || m["max_concurrent"] != 3.0 || m["status"] != "running" {
			t.Fatalf("/status: %v", m)
		}
		if m["active_executions"] == 1.0 {
			if ex, _ := m["executions"].([]any); len(ex) != 1 || ex[0] != j.ExecutionID {
				t.Fatalf("/status executions %v, want [%s]", m["executions"], j.ExecutionID)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/status never showed the running execution: %v", m)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.waitFinal(t, j, 30*time.Second)
	side.SetDraining()
	if _, m := get("/status"); m["status"] != "draining" || m["active_executions"] != 0.0 {
		t.Fatalf("/status after the run while draining: %v", m)
	}
}

// A job that uses up its deliveries unsettled (its workers died) is a dead
// letter: its execution ends failed instead of staying pending forever.
func TestDeadJobEndsFailed(t *testing.T) {
	b := newBed(t)
	w := worker.New(worker.Options{ID: "w-dead"}, b.functions, b.execs, newRuntime(t, docker.Options{}), b.queue, zaptest.NewLogger(t))
	ctx, cancel := context.WithCancel(context.Background())
	followed := make(chan error, 1)
	go func() {
		followed <- natsstore.NewDeadLetters(b.nc, b.buckets.Stream, zaptest.NewLogger(t)).Follow(ctx, w.EndDeadJob)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-followed; err != nil {
			t.Errorf("follow: %v", err)
		}
	})
	if err := b.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	j := b.submit(t, "faas-test/never-run:x")

	// Play the dying workers: take the job and never settle it but by
	// asking for it again, until the deliveries are used up.
	for attempt := 1; attempt <= natsstore.MaxDeliver; attempt++ {
		msgs, err := b.buckets.Consumer.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for m := range msgs.Messages() {
			got++
			if err := m.Nak(); err != nil {
				t.Fatal(err)
			}
		}
		if got != 1 {
			t.Fatalf("delivery %d: %d messages (%v)", attempt, got, msgs.Error())
		}
	}
	// The server gives up when it would deliver again, to the next pull (as
	// the live workers' pulls do).
	msgs, err := b.buckets.Consumer.Fetch(1, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for range msgs.Messages() {
		t.Fatal("a fourth delivery")
	}
	e := b.waitFinal(t, j, 10*time.Second)
	if e.Status != domain.StatusFailed || !strings.Contains(e.Error, "gave up after 3 deliveries") {
		t.Fatalf("dead job's execution: status %s error %q", e.Status, e.Error)
	}
}
