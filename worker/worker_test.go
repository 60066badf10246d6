package worker_test

import (
	"context"
	"encoding/json"
	"errors"
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
	"github.com/faasplatform/faas/internal/eventually"
	"github.com/faasplatform/faas/natsstore"
	"github.com/faasplatform/faas/platform"
	"github.com/faasplatform/faas/service"
	"github.com/faasplatform/faas/worker"
)

// testInitPath is the faas-init binary TestMain builds for warm runs.
var testInitPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "faas-init-")
	if err == nil {
		testInitPath, err = dockertest.BuildInit(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
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
	leases    *natsstore.LeaseStore
	sweeper   *service.Sweeper
}

// testPolicy retries fast.
var testPolicy = domain.RetryPolicy{MaxAttempts: 3, BaseDelay: 50 * time.Millisecond, MaxDelay: time.Second}

// worker builds a worker on the bed's stores with rt as its runtime.
func (b *bed) worker(t *testing.T, id string, maxConcurrent int, rt *docker.Runtime) *worker.Worker {
	t.Helper()
	return worker.New(worker.Options{ID: id, MaxConcurrent: maxConcurrent, Policy: testPolicy}, worker.Deps{
		Functions: b.functions, Execs: b.execs, Leases: b.leases, Runtime: rt, Reaper: rt,
		Reclaimer: b.sweeper, Results: b.queue,
	}, zaptest.NewLogger(t))
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
	nc, js, err := natsstore.Connect(ctx, srv.ClientURL(), "worker-test", natsstore.Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	b, err := natsstore.Setup(ctx, js, natsstore.SetupOptions{MaxDeliver: testPolicy.MaxDeliveries()})
	if err != nil {
		t.Fatal(err)
	}
	return &bed{nc: nc, buckets: b, js: js, functions: natsstore.NewFunctionStore(b.Functions),
		execs: natsstore.NewExecutionStore(b.Executions, b.ExecutionIndex, b.ExecutionData), queue: natsstore.NewQueue(js),
		consumer: natsstore.NewConsumer(js, zaptest.NewLogger(t)), leases: natsstore.NewLeaseStore(b.Active),
		sweeper: platform.NewSweeper(b, js, service.SweeperOptions{Policy: testPolicy}, "worker-test", zaptest.NewLogger(t))}
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
	e, err := service.NewExecutions(b.functions, b.execs, b.queue, b.leases).Enqueue(ctx, owner, fn.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	return domain.Job{ExecutionID: e.ID, FunctionID: fn.ID, Owner: owner}
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
	var e *domain.Execution
	eventually.True(t, d, func() bool {
		var err error
		if e, err = b.execs.Get(context.Background(), j.Owner, j.ExecutionID); err != nil {
			t.Fatal(err)
		}
		return e.Status.Final()
	}, "execution %s did not end", j.ExecutionID)
	return e
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
	w := b.worker(t, "w-broken", 2, rt)
	b.serve(t, w, context.Background())
	j := b.submit(t, "busybox:any")
	e := b.waitFinal(t, j, 20*time.Second)
	if e.Status != domain.StatusFailed || e.Attempts != 3 || !strings.Contains(e.Error, "no attempts left after 3") || e.DeadAt == nil {
		t.Fatalf("status %s attempts %d error %q; want failed, a dead letter after 3 attempts", e.Status, e.Attempts, e.Error)
	}
	// The dead letter joins the list right after the record ends.
	eventually.NoError(t, 20*time.Second, func() error {
		dls, err := natsstore.NewDeadLetterStore(b.buckets.DeadLetters).List(context.Background(), j.Owner)
		if err != nil || len(dls) != 1 || dls[0].ExecutionID != j.ExecutionID || dls[0].Attempts != 3 {
			return fmt.Errorf("dead letters %+v, %v", dls, err)
		}
		return nil
	})
	eventually.True(t, 20*time.Second, func() bool {
		_, err := b.leases.Get(context.Background(), j.ExecutionID)
		return errors.Is(err, domain.ErrExecutionNotFound)
	}, "an ended execution stays in the active index")
}

// A job delivered again for an execution that already ended is acked and
// skipped: the record is not touched and nothing runs.
func TestRedeliveredJobOfEndedExecutionIsSkipped(t *testing.T) {
	dockertest.RequireDocker(t)
	b := newBed(t)
	img := dockertest.BuildBusyboxImage(t, "worker-echo", "echo ran")
	w := b.worker(t, "w-redeliver", 2, newRuntime(t, docker.Options{}))
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
	eventually.NoError(t, 10*time.Second, func() error {
		cons, err := b.js.Consumer(context.Background(), natsstore.StreamExecutions, natsstore.ConsumerWorkers)
		if err != nil {
			t.Fatal(err)
		}
		info, err := cons.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 && info.AckFloor.Consumer == 2 {
			return nil
		}
		return fmt.Errorf("second job not settled: %+v", info)
	})
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
	first := b.worker(t, "w-first", 1, rt)
	stopFirst := b.serve(t, first, runCtx)
	j := b.submit(t, img)

	eventually.True(t, 20*time.Second, func() bool { return len(first.Active()) > 0 }, "the first worker never started the run")
	killRuns() // the first worker's drain time is over
	stopFirst()
	if e, _ := b.execs.Get(context.Background(), j.Owner, j.ExecutionID); e.Status != domain.StatusPending || e.PlatformFailures != 0 {
		t.Fatalf("status %s (platform failures %d) after the worker stopped, want pending with no failure counted", e.Status, e.PlatformFailures)
	}

	second := b.worker(t, "w-second", 1, rt)
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
	w := b.worker(t, "w-side", 3, newRuntime(t, docker.Options{}))
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
	eventually.NoError(t, 20*time.Second, func() error {
		_, m := get("/status")
		if m["id"] != "w-side" || m["max_concurrent"] != 3.0 || (m["status"] != "busy" && m["status"] != "idle") {
			t.Fatalf("/status: %v", m)
		}
		if m["status"] != "busy" {
			return fmt.Errorf("/status never showed the worker busy: %v", m)
		}
		if m["active_executions"] == 1.0 {
			// The job counts from its delivery; its id shows once it runs.
			ex, _ := m["executions"].([]any)
			if len(ex) == 1 && ex[0] == j.ExecutionID {
				return nil
			}
			if len(ex) != 0 {
				t.Fatalf("/status executions %v, want [%s]", m["executions"], j.ExecutionID)
			}
		}
		return fmt.Errorf("/status never showed the running execution: %v", m)
	})
	drain := func() (int, map[string]any) {
		t.Helper()
		resp, err := http.Post("http://"+addr.String()+"/drain?if_idle=true", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatalf("/drain: %v", err)
		}
		return resp.StatusCode, m
	}
	// Busy: a drain "if idle" is refused, and the worker keeps working.
	if code, m := drain(); code != 409 || m["accepted"] != false || m["status"] != "busy" {
		t.Fatalf("/drain while busy: %d %v", code, m)
	}
	select {
	case <-side.Drained():
		t.Fatal("a refused drain started draining")
	default:
	}
	b.waitFinal(t, j, 90*time.Second)
	eventually.NoError(t, 10*time.Second, func() error {
		if _, m := get("/status"); m["status"] != "idle" {
			return fmt.Errorf("/status after the run: %v, want idle", m)
		}
		return nil
	})
	if code, m := drain(); code != 200 || m["accepted"] != true || m["status"] != "draining" {
		t.Fatalf("/drain while idle: %d %v", code, m)
	}
	<-side.Drained()
	if _, m := get("/status"); m["status"] != "draining" || m["active_executions"] != 0.0 {
		t.Fatalf("/status after the run while draining: %v", m)
	}
}

// A job that uses up its deliveries unsettled (its workers died, or a
// fault kept bouncing it) is a dead letter: the server's MAX_DELIVERIES
// advisory is kept in a stream, so the sweeper ends the execution failed
// even though nobody listened when the advisory was sent.
func TestDeadJobEndsFailed(t *testing.T) {
	b := newBed(t)
	j := b.submit(t, "faas-test/never-run:x")

	// Play the dying workers: take the job and never settle it but by
	// asking for it again, until the deliveries are used up.
	max := testPolicy.MaxDeliveries()
	for attempt := 1; attempt <= max; attempt++ {
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
		t.Fatal("a delivery past the limit")
	}
	var e *domain.Execution
	eventually.NoError(t, 10*time.Second, func() error {
		if err := b.sweeper.Sweep(context.Background()); err != nil {
			return err
		}
		if e, err = b.execs.Get(context.Background(), j.Owner, j.ExecutionID); err != nil {
			return err
		}
		if !e.Status.Final() {
			return fmt.Errorf("status %s", e.Status)
		}
		return nil
	})
	want := fmt.Sprintf("gave up after %d deliveries", max)
	if e.Status != domain.StatusFailed || !strings.Contains(e.Error, want) || e.DeadAt == nil {
		t.Fatalf("dead job's execution: status %s error %q, want failed %q, a dead letter", e.Status, e.Error, want)
	}
}
