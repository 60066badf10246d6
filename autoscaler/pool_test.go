package autoscaler

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	ev "github.com/faasplatform/faas/internal/eventually"
)

// The pool runs real processes: `sleep` and `sh` stand in for `faas worker`.

// helperEnv makes the test binary, re-executed by a test, play a process
// that owns a pool (see TestPoolWorkersDieWithParent).
const helperEnv = "FAAS_POOL_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "pool-parent" {
		poolParent()
		return
	}
	os.Exit(m.Run())
}

// poolParent starts a pool of one `sleep` worker, prints "child <pid>" and
// waits on stdin until the test kills it.
func poolParent() {
	var child atomic.Pointer[exec.Cmd]
	p := NewPool(func(string) *exec.Cmd {
		c := exec.Command("sleep", "60")
		child.Store(c)
		return c
	}, func() string { return "w1" }, zap.NewNop())
	if err := p.Scale(1); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("child %d\n", child.Load().Process.Pid)
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(2)
}

// waitTimeout bounds every wait: generous, for a loaded machine.
const waitTimeout = 20 * time.Second

// eventually polls cond until it holds, failing the test at the deadline
// (the project's one polling helper, with this file's wait).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ev.True(t, waitTimeout, cond, "%s", what)
}

// harness is a pool whose spawner records every command it made.
type harness struct {
	pool *Pool
	logs *observer.ObservedLogs

	mu   sync.Mutex
	cmds map[string]*exec.Cmd // by worker id
	nth  []*exec.Cmd          // by start, from 0
}

// newHarness makes a pool whose n-th worker (from 1) runs command(n).
func newHarness(t *testing.T, o Options, command func(n int) *exec.Cmd) *harness {
	core, logs := observer.New(zap.InfoLevel)
	h := &harness{logs: logs, cmds: map[string]*exec.Cmd{}}
	var ids atomic.Int64
	h.pool = NewPoolWithOptions(func(id string) *exec.Cmd {
		h.mu.Lock()
		defer h.mu.Unlock()
		c := command(len(h.nth) + 1)
		h.cmds[id] = c
		h.nth = append(h.nth, c)
		return c
	}, func() string { return fmt.Sprintf("w%d", ids.Add(1)) }, zap.New(core), o)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h.pool.Stop(ctx)
	})
	return h
}

func (h *harness) starts() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.nth)
}

// pid of a started worker. Call it once the pool shows the worker (Size,
// IDs): the pool's lock orders the start before the read.
func (h *harness) pid(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cmds[id].Process.Pid
}

func (h *harness) died(id string) []observer.LoggedEntry {
	return h.logs.FilterMessage("worker died; replacing").FilterField(zap.String("worker_id", id)).All()
}

func sleeper(int) *exec.Cmd { return exec.Command("sleep", "30") }

// fakeClock hands each After to the test, which fires it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers chan fakeTimer
}

type fakeTimer struct {
	d    time.Duration
	fire chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Unix(1_700_000_000, 0), timers: make(chan fakeTimer, 64)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.timers <- fakeTimer{d: d, fire: ch}
	return ch
}

func (c *fakeClock) options() Options { return Options{Now: c.Now, After: c.After} }

func (c *fakeClock) next(t *testing.T) fakeTimer {
	t.Helper()
	select {
	case tm := <-c.timers:
		return tm
	case <-time.After(waitTimeout):
		t.Fatalf("no restart timer within %s", waitTimeout)
		return fakeTimer{}
	}
}

func TestRestartDelay(t *testing.T) {
	for _, tc := range []struct {
		deaths int
		want   time.Duration
	}{
		{-1, 0}, {0, 0},
		{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {4, 8 * time.Second},
		{5, 16 * time.Second}, {6, 30 * time.Second}, {7, 30 * time.Second}, {100, 30 * time.Second},
		{1 << 30, 30 * time.Second},
	} {
		if got := RestartDelay(tc.deaths); got != tc.want {
			t.Errorf("RestartDelay(%d) = %s, want %s", tc.deaths, got, tc.want)
		}
	}
}

func TestNextFailures(t *testing.T) {
	const stable = time.Minute
	for _, tc := range []struct {
		prev  int
		lived time.Duration
		want  int
	}{
		{0, 0, 1},
		{0, time.Second, 1},
		{3, time.Second, 4},
		{3, stable - time.Nanosecond, 4},
		{3, stable, 1},
		{7, time.Hour, 1},
	} {
		if got := nextFailures(tc.prev, tc.lived, stable); got != tc.want {
			t.Errorf("nextFailures(%d, %s) = %d, want %d", tc.prev, tc.lived, got, tc.want)
		}
	}
}

// Workers stopped by Scale or Stop are stopped, not dead: never replaced.
func TestPoolScaleDownAndStopAreNotDeaths(t *testing.T) {
	h := newHarness(t, Options{}, sleeper)
	if err := h.pool.Scale(3); err != nil {
		t.Fatal(err)
	}
	if got := h.pool.Size(); got != 3 {
		t.Fatalf("size %d, want 3", got)
	}
	if err := h.pool.Scale(1); err != nil {
		t.Fatal(err)
	}
	if got := h.pool.Size(); got != 1 {
		t.Fatalf("size %d after scale down, want 1", got)
	}
	stopped := func() int { return h.logs.FilterMessage("worker stopped").Len() }
	eventually(t, "two workers stopped", func() bool { return stopped() == 2 })
	if got, ids := h.pool.Size(), h.pool.IDs(); got != 1 || ids[0] != "w1" {
		t.Fatalf("size %d ids %v after the stopped workers exited, want [w1]", got, ids)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h.pool.Stop(ctx)
	if got := h.pool.Size(); got != 0 {
		t.Fatalf("size %d after Stop", got)
	}
	if err := h.pool.Scale(2); !errors.Is(err, ErrStopped) {
		t.Fatalf("Scale after Stop: %v, want ErrStopped", err)
	}
	if n := h.logs.FilterMessage("worker died; replacing").Len(); n != 0 || h.starts() != 3 || stopped() != 3 {
		t.Fatalf("%d deaths, %d starts, %d stops; want 0, 3, 3: %v", n, h.starts(), stopped(), h.logs.All())
	}
}

// kill -9 of a worker: logged with its id and signal, replaced by a worker
// with a new id (after the first backoff, 1 s on the real clock).
func TestPoolReplacesKilledWorker(t *testing.T) {
	h := newHarness(t, Options{}, sleeper)
	if err := h.pool.Scale(2); err != nil {
		t.Fatal(err)
	}
	before := h.pool.IDs()
	victim := before[0]
	if err := syscall.Kill(h.pid(victim), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the killed worker replaced", func() bool {
		ids := h.pool.IDs()
		return len(ids) == 2 && ids[0] != victim && ids[1] != victim
	})
	ids := h.pool.IDs()
	if ids[0] != before[1] || ids[1] != "w3" {
		t.Fatalf("ids %v after replacing %s of %v, want [%s w3]", ids, victim, before, before[1])
	}
	died := h.died(victim)
	if len(died) != 1 {
		t.Fatalf("death of %s logged %d times: %v", victim, len(died), h.logs.All())
	}
	f := died[0].ContextMap()
	if f["signal"] != "killed" || f["exit_code"] != int64(-1) || f["restart_in"] != time.Second {
		t.Fatalf("death logged with %v, want signal killed, exit_code -1, restart_in 1s", f)
	}
}

// A worker that exits at once, every time: each replacement waits the next
// step of the backoff, and nothing starts before its timer fires. A worker
// that lived StableAfter resets the backoff.
func TestPoolCrashLoopBacksOff(t *testing.T) {
	const stableStart = 8 // this start lives; all others exit 3 at once
	clock := newFakeClock()
	h := newHarness(t, clock.options(), func(n int) *exec.Cmd {
		if n == stableStart {
			return exec.Command("sleep", "30")
		}
		return exec.Command("sh", "-c", "exit 3")
	})
	if err := h.pool.Scale(1); err != nil {
		t.Fatal(err)
	}
	s := time.Second
	for i, want := range []time.Duration{1 * s, 2 * s, 4 * s, 8 * s, 16 * s, 30 * s, 30 * s} {
		tm := clock.next(t)
		if tm.d != want {
			t.Fatalf("restart %d after %s, want %s", i+1, tm.d, want)
		}
		if got := h.starts(); got != i+1 {
			t.Fatalf("%d starts before restart timer %d fired, want %d", got, i+1, i+1)
		}
		tm.fire <- clock.Now()
	}
	eventually(t, "the stable worker up", func() bool { return h.starts() == stableStart && h.pool.Size() == 1 })
	if got := h.logs.FilterMessage("worker died; replacing").FilterField(zap.Int("exit_code", 3)).Len(); got != stableStart-1 {
		t.Fatalf("%d deaths logged with exit_code 3, want %d", got, stableStart-1)
	}
	clock.Advance(DefaultStableAfter)
	if err := syscall.Kill(h.pid(h.pool.IDs()[0]), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i, want := range []time.Duration{1 * s, 2 * s} {
		tm := clock.next(t)
		if tm.d != want {
			t.Fatalf("restart %d after the stable worker died: after %s, want %s", i+1, tm.d, want)
		}
		tm.fire <- clock.Now()
	}
	if got := h.pool.Target(); got != 1 {
		t.Fatalf("target %d, want 1", got)
	}
}

// Stop while a replacement waits out its backoff: nothing starts after Stop.
func TestPoolStopCancelsPendingReplacement(t *testing.T) {
	clock := newFakeClock()
	h := newHarness(t, clock.options(), func(int) *exec.Cmd { return exec.Command("sh", "-c", "exit 1") })
	if err := h.pool.Scale(2); err != nil {
		t.Fatal(err)
	}
	tm := clock.next(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h.pool.Stop(ctx) // returns once the replacement's goroutine has given up
	tm.fire <- clock.Now()
	if got, n := h.starts(), h.pool.Size(); got != 2 || n != 0 {
		t.Fatalf("%d starts, size %d after Stop; want 2, 0", got, n)
	}
	select {
	case tm := <-clock.timers:
		t.Fatalf("a restart timer (%s) was set after Stop", tm.d)
	default:
	}
}

// A worker that ignores SIGTERM is killed when Stop's context ends.
func TestPoolStopKillsAtDeadline(t *testing.T) {
	var ready io.Reader
	h := newHarness(t, Options{}, func(int) *exec.Cmd {
		c := exec.Command("sh", "-c", `trap "" TERM; echo ready; exec sleep 30`)
		r, err := c.StdoutPipe()
		if err != nil {
			panic(err)
		}
		ready = r
		return c
	})
	if err := h.pool.Scale(1); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(ready).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("worker said %q, %v", line, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	h.pool.Stop(ctx)
	if h.logs.FilterMessage("worker did not drain in time; killing").Len() != 1 ||
		h.logs.FilterMessage("worker stopped").FilterField(zap.String("signal", "killed")).Len() != 1 {
		t.Fatalf("no kill logged: %v", h.logs.All())
	}
	if h.logs.FilterMessage("worker died; replacing").Len() != 0 || h.starts() != 1 {
		t.Fatalf("stopped worker replaced: %v", h.logs.All())
	}
}
