package autoscaler

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	ev "github.com/faasplatform/faas/internal/eventually"
)

// fakeCluster is one lock, one backlog and the heartbeats, shared by the
// controllers of a test.
type fakeCluster struct {
	mu      sync.Mutex
	holder  string
	pending int
	beats   map[string]Heartbeat
	state   *State
	drained []string
}

// clusterView is one controller's handle on the fake cluster.
type clusterView struct {
	*fakeCluster
	name string
}

func (c clusterView) Hold(context.Context) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.holder == "" {
		c.holder = c.name
	}
	return c.holder == c.name, nil
}

func (c clusterView) Release(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.holder == c.name {
		c.holder = ""
	}
	return nil
}

func (c *fakeCluster) Pending(context.Context) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pending, nil
}

func (c *fakeCluster) Heartbeats(context.Context) ([]Heartbeat, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Heartbeat
	for _, b := range c.beats {
		out = append(out, b)
	}
	return out, nil
}

func (c *fakeCluster) Drain(_ context.Context, id string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.beats[id]
	if !ok || b.Status != StatusIdle {
		return false, nil
	}
	b.Status = StatusDraining
	c.beats[id] = b
	c.drained = append(c.drained, id)
	return true, nil
}

func (c *fakeCluster) Publish(_ context.Context, s *State) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state = s
	return nil
}

func (c *fakeCluster) Published(context.Context) (*State, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state, nil
}

// fakeBackend starts workers that beat idle in the cluster at once; the
// ones drained leave when the test says so (exit).
type fakeBackend struct {
	mu      sync.Mutex
	c       *fakeCluster
	live    map[string]bool
	leaving map[string]bool
	n       int
	name    string
}

func newFakeBackend(c *fakeCluster, name string) *fakeBackend {
	return &fakeBackend{c: c, live: map[string]bool{}, leaving: map[string]bool{}, name: name}
}

func (b *fakeBackend) Name() string { return "fake" }

func (b *fakeBackend) Workers(context.Context) ([]string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var ids []string
	for id := range b.live {
		if !b.leaving[id] {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

func (b *fakeBackend) Scale(_ context.Context, n int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.live)-len(b.leaving) < n {
		b.n++
		id := fmt.Sprintf("%s-%d", b.name, b.n)
		b.live[id] = true
		b.c.mu.Lock()
		b.c.beats[id] = Heartbeat{ID: id, Status: StatusIdle, Slots: 1}
		b.c.mu.Unlock()
	}
	return nil
}

func (b *fakeBackend) Release(id string) { b.mu.Lock(); b.leaving[id] = true; b.mu.Unlock() }
func (b *fakeBackend) Keep(id string)    { b.mu.Lock(); delete(b.leaving, id); b.mu.Unlock() }

func (b *fakeBackend) size() int {
	ids, _ := b.Workers(context.Background())
	return len(ids)
}

// kill makes worker id die: gone from the backend and the heartbeats.
func (b *fakeBackend) kill(id string) {
	b.mu.Lock()
	delete(b.live, id)
	b.mu.Unlock()
	b.c.mu.Lock()
	delete(b.c.beats, id)
	b.c.mu.Unlock()
}

func runController(t *testing.T, c *Controller) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// TestControllerStandbyAndDeadWorker: of two controllers one acts (it
// starts MIN_WORKERS; the standby starts nothing), a dead worker is
// replaced, a backlog grows the pool, idle workers are drained; when the
// acting one stops, the standby takes over with the published state.
func TestControllerStandbyAndDeadWorker(t *testing.T) {
	cl := &fakeCluster{beats: map[string]Heartbeat{}}
	p := Policy{Min: 2, Max: 5, Up: 3, Down: 2, Cooldown: 0}
	opts := func(holder string) ControllerOptions {
		return ControllerOptions{Policy: p, CheckInterval: 20 * time.Millisecond, LockInterval: 10 * time.Millisecond, Holder: holder}
	}
	ba, bb := newFakeBackend(cl, "a"), newFakeBackend(cl, "b")
	a := NewController(opts("a"), ba, clusterView{cl, "a"}, zaptest.NewLogger(t))
	stopA := runController(t, a)
	ev.True(t, 5*time.Second, func() bool { return a.Held() && ba.size() == 2 }, "controller a never started 2 workers")
	b := NewController(opts("b"), bb, clusterView{cl, "b"}, zaptest.NewLogger(t))
	runController(t, b)

	ba.kill("a-1")
	ev.True(t, 5*time.Second, func() bool { return ba.size() == 2 && ba.n == 3 }, "the dead worker was not replaced")

	cl.mu.Lock()
	cl.pending = 14
	cl.mu.Unlock()
	ev.True(t, 5*time.Second, func() bool { return ba.size() == 5 }, "the backlog did not grow the pool to MAX")
	cl.mu.Lock()
	cl.pending = 0
	cl.mu.Unlock()
	ev.True(t, 5*time.Second, func() bool { return ba.size() == 2 }, "idle workers were not retired")
	if b.Held() || bb.n != 0 {
		t.Fatalf("the standby acted: held %v, started %d", b.Held(), bb.n)
	}
	// Every change up and down is counted in the published state.
	ev.True(t, 5*time.Second, func() bool {
		cl.mu.Lock()
		defer cl.mu.Unlock()
		return cl.state != nil && cl.state.ScaleUps >= 1 && cl.state.ScaleDowns >= 1
	}, "the published state does not count the scale-ups and scale-downs")

	stopA()
	ev.True(t, 5*time.Second, func() bool { return b.Held() && bb.size() == 2 }, "the standby did not take over")
	// The state is published after the check that acted: wait for it.
	ev.True(t, 5*time.Second, func() bool {
		cl.mu.Lock()
		defer cl.mu.Unlock()
		return cl.state != nil && cl.state.Holder == "b" && cl.state.Desired == 2
	}, "the standby did not publish its state")
}

// TestControllerInheritsDecisionCounts: a holder taking over from one that
// died (its state still published) carries on its decision counts, so the
// counters built on them do not go back.
func TestControllerInheritsDecisionCounts(t *testing.T) {
	cl := &fakeCluster{beats: map[string]Heartbeat{}}
	cl.state = &State{Holder: "dead", Backend: "fake", Desired: 2, ScaleUps: 7, ScaleDowns: 4}
	p := Policy{Min: 2, Max: 5, Up: 3, Down: 2, Cooldown: 0}
	bk := newFakeBackend(cl, "a")
	c := NewController(ControllerOptions{Policy: p, CheckInterval: 20 * time.Millisecond, LockInterval: 10 * time.Millisecond, Holder: "a"},
		bk, clusterView{cl, "a"}, zaptest.NewLogger(t))
	runController(t, c)
	ev.True(t, 5*time.Second, func() bool { return c.Held() && bk.size() == 2 }, "the controller did not take over")
	cl.mu.Lock()
	cl.pending = 14
	cl.mu.Unlock()
	ev.True(t, 5*time.Second, func() bool {
		cl.mu.Lock()
		defer cl.mu.Unlock()
		return cl.state != nil && cl.state.Holder == "a" && cl.state.ScaleUps >= 8
	}, "the scale-up was not counted on top of the inherited count")
	cl.mu.Lock()
	downs := cl.state.ScaleDowns
	cl.mu.Unlock()
	if downs != 4 {
		t.Fatalf("scale-downs = %d, want the inherited 4", downs)
	}
}
