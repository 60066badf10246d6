package natsstore

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/internal/eventually"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

func newJob() domain.Job {
	return domain.Job{ExecutionID: uuid.NewString(), FunctionID: uuid.NewString(), Owner: uuid.NewString()}
}

// consume runs c.Consume in the background until the test ends.
func consume(t *testing.T, c *Consumer, maxInFlight int, handler func(domain.Delivery)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Consume(ctx, maxInFlight, handler) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Consume: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Consume did not return after ctx ended")
		}
	})
}

func TestQueueDeliversWithRetry(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	q := NewQueue(env.js)
	job := newJob()
	if _, err := q.Enqueue(ctx, job, ""); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}

	type seen struct {
		job     domain.Job
		attempt int
	}
	got := make(chan seen, 10)
	consume(t, NewConsumer(env.js, zap.NewNop()), 2, func(d domain.Delivery) {
		got <- seen{d.Job(), d.Delivered()}
		if d.Delivered() == 1 {
			if err := d.Retry(100 * time.Millisecond); err != nil {
				t.Errorf("Retry: %v", err)
			}
			return
		}
		if err := d.InProgress(); err != nil {
			t.Errorf("InProgress: %v", err)
		}
		if err := d.Ack(); err != nil {
			t.Errorf("Ack: %v", err)
		}
	})

	for want := 1; want <= 2; want++ {
		select {
		case s := <-got:
			if s.job != job || s.attempt != want {
				t.Errorf("delivery %d = %+v attempt %d", want, s.job, s.attempt)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("delivery %d not seen", want)
		}
	}
	select {
	case s := <-got:
		t.Errorf("delivered again after Ack: attempt %d", s.attempt)
	case <-time.After(300 * time.Millisecond): // a bounded window for a wrongful redelivery to show
	}
}

func TestQueueDedupesByExecutionID(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	q := NewQueue(env.js)
	job := newJob()
	for range 3 {
		if _, err := q.Enqueue(ctx, job, ""); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
	}
	if _, err := q.Enqueue(ctx, newJob(), ""); err != nil {
		t.Fatal(err)
	}
	// The stream's state is current once Publish returns; the consumer's
	// pending count may lag behind.
	info, err := env.b.Stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Errorf("%d jobs stored, want 2 (one per execution)", info.State.Msgs)
	}
}

// A worker with two slots holds at most two jobs, leaving the rest to other
// workers.
func TestConsumerTakesNoMoreThanItRuns(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	q := NewQueue(env.js)
	for range 5 {
		if _, err := q.Enqueue(ctx, newJob(), ""); err != nil {
			t.Fatal(err)
		}
	}

	release := make(chan struct{})
	var running, peak atomic.Int32
	var started sync.WaitGroup
	started.Add(2)
	var handled atomic.Int32
	consume(t, NewConsumer(env.js, nil), 2, func(d domain.Delivery) {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		if handled.Add(1) <= 2 {
			started.Done()
		}
		<-release
		running.Add(-1)
		_ = d.Ack()
	})

	started.Wait()
	// Not synchronisation: both handlers are known to run (started); this
	// bounded window gives a wrongful third pull room to show, and a correct
	// consumer passes whatever the machine's speed.
	time.Sleep(200 * time.Millisecond)
	info, err := env.b.Consumer.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 2 {
		t.Errorf("%d jobs taken, want 2, the rest left for other workers", info.NumAckPending)
	}
	close(release)

	eventually.Within(30*time.Second, func() bool { return handled.Load() >= 5 })
	if handled.Load() != 5 || peak.Load() > 2 {
		t.Errorf("handled %d of 5, peak concurrency %d (max 2)", handled.Load(), peak.Load())
	}
}

func TestConsumerDropsMalformedMessages(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	if _, err := env.js.Publish(ctx, SubjectPending, []byte("not json")); err != nil {
		t.Fatal(err)
	}
	job := newJob()
	if _, err := NewQueue(env.js).Enqueue(ctx, job, ""); err != nil {
		t.Fatal(err)
	}
	got := make(chan domain.Job, 4)
	consume(t, NewConsumer(env.js, nil), 1, func(d domain.Delivery) {
		got <- d.Job()
		_ = d.Ack()
	})
	select {
	case j := <-got:
		if j != job {
			t.Errorf("handler got %+v, want the valid job", j)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("valid job not delivered")
	}
	eventually.NoError(t, 10*time.Second, func() error {
		info, err := env.b.Consumer.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.NumAckPending != 0 || info.NumRedelivered != 0 {
			return fmt.Errorf("malformed message not terminated: ack pending %d, redelivered %d", info.NumAckPending, info.NumRedelivered)
		}
		return nil
	})
}

func TestConsumerWithoutSetup(t *testing.T) {
	srv, err := StartEmbedded(EmbeddedOptions{Port: -1, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	ctx := testContext(t)
	nc, js, err := Connect(ctx, srv.ClientURL(), "test", Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := NewConsumer(js, nil).Consume(ctx, 1, func(domain.Delivery) {}); err == nil {
		t.Error("Consume without Setup: no error")
	}
}

func TestPublishResult(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	q := NewQueue(env.js)
	small := &domain.Execution{ID: uuid.NewString(), Status: domain.StatusComplete, Output: "42", Logs: "secret log"}
	large := &domain.Execution{ID: uuid.NewString(), Status: domain.StatusComplete, Output: string(make([]byte, domain.MaxOutputBytes))}
	for _, e := range []*domain.Execution{small, large} {
		if err := q.PublishResult(ctx, e); err != nil {
			t.Fatalf("PublishResult: %v", err)
		}
	}
	cons, err := env.js.OrderedConsumer(ctx, StreamExecutions, jetstream.OrderedConsumerConfig{FilterSubjects: []string{SubjectResults}})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(2, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	for msg := range batch.Messages() {
		var m map[string]any
		if err := json.Unmarshal(msg.Data(), &m); err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	if len(got) != 2 {
		t.Fatalf("%d results, want 2", len(got))
	}
	if got[0]["output"] != "42" || got[0]["logs"] != nil || got[0]["status"] != "complete" {
		t.Errorf("small result = %v", got[0])
	}
	if got[1]["output"] != "" || got[1]["id"] != large.ID {
		t.Errorf("large result keeps its output: %d bytes", len(got[1]["output"].(string)))
	}
	if large.Output == "" {
		t.Error("PublishResult changed the caller's execution")
	}
}
