package autoscaler

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Heartbeat is a worker's last heartbeat as the controller reads it.
type Heartbeat struct {
	ID     string
	Status string // idle, busy, draining (contract §6)
	Active int
	Slots  int
}

// ScaleEvent is the last change the controller made.
type ScaleEvent struct {
	At       time.Time
	From, To int
	Reason   string
}

// State is what the acting controller publishes.
type State struct {
	Holder    string
	Backend   string
	Desired   int
	LastScale *ScaleEvent
	// ScaleUps and ScaleDowns count the changes made since the pool's
	// first autoscaler: each holder carries on the previous holder's
	// counts, so the metrics built on them only grow.
	ScaleUps, ScaleDowns int64
}

// Cluster is what the controller reads and writes in NATS (the platform
// wires natsstore): the lock, the backlog, the heartbeats, the drain
// requests and the published state.
type Cluster interface {
	// Hold takes or renews the autoscaler's lock; false: another holds it.
	Hold(ctx context.Context) (bool, error)
	Release(ctx context.Context) error
	// Pending is the backlog: jobs not yet delivered to a worker.
	Pending(ctx context.Context) (int, error)
	Heartbeats(ctx context.Context) ([]Heartbeat, error)
	// Drain asks worker id to drain if it is idle; false: it refused.
	Drain(ctx context.Context, id string) (bool, error)
	// Publish writes the state (more often than the lock's TTL); a nil
	// state removes it.
	Publish(ctx context.Context, s *State) error
	// Published reads the state a previous holder left (nil: none).
	Published(ctx context.Context) (*State, error)
}

// ControllerOptions tune a Controller.
type ControllerOptions struct {
	Policy        Policy
	CheckInterval time.Duration // CHECK_INTERVAL
	// LockInterval is how often the lock is renewed and the state
	// republished: well within the lock's TTL.
	LockInterval time.Duration
	Holder       string
	Now          func() time.Time
}

// Controller applies the policy every CheckInterval while it holds the
// autoscaler's lock: of several controllers one acts, the others are hot
// standbys that take over when its lock lapses.
type Controller struct {
	opts    ControllerOptions
	backend Backend
	cluster Cluster
	log     *zap.Logger

	held    atomic.Bool
	checkMu sync.Mutex // one check at a time (the take-over's, the ticker's)

	mu         sync.Mutex
	desired    int
	lastChange time.Time
	lastScale  *ScaleEvent
	ups, downs int64
	known      map[string]bool // workers seen at the last check
	retired    map[string]bool // workers this controller drained
}

// NewController returns a controller of backend.
func NewController(o ControllerOptions, backend Backend, cluster Cluster, log *zap.Logger) *Controller {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CheckInterval <= 0 {
		o.CheckInterval = 30 * time.Second
	}
	if o.LockInterval <= 0 {
		o.LockInterval = 3 * time.Second
	}
	return &Controller{opts: o, backend: backend, cluster: cluster,
		log:   log.Named("autoscaler").With(zap.String("backend", backend.Name()), zap.String("holder", o.Holder)),
		known: map[string]bool{}, retired: map[string]bool{}}
}

// Held reports whether this controller acts now.
func (c *Controller) Held() bool { return c.held.Load() }

// Run holds the lock and checks every CheckInterval until ctx ends; then it
// gives the lock and the state up (the workers stay: see the backends).
func (c *Controller) Run(ctx context.Context) {
	c.log.Info("autoscaler running", zap.Int("min_workers", c.opts.Policy.Min), zap.Int("max_workers", c.opts.Policy.Max),
		zap.Int("scale_up_threshold", c.opts.Policy.Up), zap.Int("scale_down_threshold", c.opts.Policy.Down),
		zap.Duration("check_interval", c.opts.CheckInterval), zap.Duration("cooldown", c.opts.Policy.Cooldown))
	lockDone := make(chan struct{})
	go func() {
		defer close(lockDone)
		c.holdLoop(ctx)
	}()
	t := time.NewTicker(c.opts.CheckInterval)
	defer t.Stop()
	for {
		if c.held.Load() {
			c.Check(ctx)
		}
		select {
		case <-ctx.Done():
			<-lockDone
			return
		case <-t.C:
		}
	}
}

// holdLoop renews the lock and republishes the state every LockInterval;
// it takes the first check at once when the lock is won.
func (c *Controller) holdLoop(ctx context.Context) {
	t := time.NewTicker(c.opts.LockInterval)
	defer t.Stop()
	for {
		held, err := c.cluster.Hold(ctx)
		if err != nil && ctx.Err() == nil {
			c.log.Warn("autoscaler lock failed", zap.Error(err))
		}
		was := c.held.Swap(held)
		switch {
		case held && !was:
			c.takeOver(ctx)
		case !held && was:
			c.log.Warn("autoscaler lock lost: standing by")
		}
		if held {
			if err := c.cluster.Publish(ctx, c.state()); err != nil && ctx.Err() == nil {
				c.log.Warn("publishing the autoscaler state failed", zap.Error(err))
			}
		}
		select {
		case <-ctx.Done():
			c.stopHolding()
			return
		case <-t.C:
		}
	}
}

// takeOver starts acting: the desired count and the last change come from
// the previous holder's state, so a restart keeps the pool and its
// cooldown.
func (c *Controller) takeOver(ctx context.Context) {
	prev, err := c.cluster.Published(ctx)
	if err != nil {
		c.log.Warn("reading the previous autoscaler state failed", zap.Error(err))
	}
	c.mu.Lock()
	if prev != nil && prev.Backend == c.backend.Name() {
		c.desired = prev.Desired
		if prev.LastScale != nil {
			c.lastScale = prev.LastScale
			c.lastChange = prev.LastScale.At
		}
	}
	if prev != nil {
		c.ups, c.downs = max(c.ups, prev.ScaleUps), max(c.downs, prev.ScaleDowns)
	}
	c.mu.Unlock()
	c.log.Info("autoscaler lock taken: acting", zap.Int("desired", c.desired))
	// The first check follows at once, not a CheckInterval later.
	go c.Check(ctx)
}

func (c *Controller) stopHolding() {
	if !c.held.Swap(false) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.cluster.Publish(ctx, nil); err != nil {
		c.log.Warn("removing the autoscaler state failed", zap.Error(err))
	}
	if err := c.cluster.Release(ctx); err != nil {
		c.log.Warn("releasing the autoscaler lock failed", zap.Error(err))
	}
	c.log.Info("autoscaler stopped")
}

func (c *Controller) state() *State {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &State{Holder: c.opts.Holder, Backend: c.backend.Name(), Desired: c.desired, ScaleUps: c.ups, ScaleDowns: c.downs}
	if c.lastScale != nil {
		e := *c.lastScale
		s.LastScale = &e
	}
	return s
}

// Check runs the policy once and applies its decision.
func (c *Controller) Check(ctx context.Context) {
	c.checkMu.Lock()
	defer c.checkMu.Unlock()
	if !c.held.Load() || ctx.Err() != nil {
		return
	}
	if err := c.check(ctx); err != nil && ctx.Err() == nil {
		c.log.Error("autoscaler check failed", zap.Error(err))
	}
}

func (c *Controller) check(ctx context.Context) error {
	ids, err := c.backend.Workers(ctx)
	if err != nil {
		return fmt.Errorf("list workers: %w", err)
	}
	beats, err := c.cluster.Heartbeats(ctx)
	if err != nil {
		return fmt.Errorf("read heartbeats: %w", err)
	}
	pending, err := c.cluster.Pending(ctx)
	if err != nil {
		return fmt.Errorf("read pending jobs: %w", err)
	}
	byID := make(map[string]Heartbeat, len(beats))
	for _, b := range beats {
		byID[b.ID] = b
	}
	loads := make([]WorkerLoad, 0, len(ids))
	live := make(map[string]bool, len(ids))
	perWorker := make(map[string]string, len(ids))
	for _, id := range ids {
		live[id] = true
		w := WorkerLoad{ID: id, Status: StatusStarting}
		if b, ok := byID[id]; ok {
			w.Status, w.Active, w.Slots = b.Status, b.Active, b.Slots
			if w.Status != StatusIdle && w.Status != StatusBusy && w.Status != StatusDraining {
				w.Status = StatusBusy // an unknown state is never retired
			}
		}
		loads = append(loads, w)
		perWorker[id] = fmt.Sprintf("%s %d/%d", w.Status, w.Active, w.Slots)
	}

	c.mu.Lock()
	for id := range c.known {
		if !live[id] && !c.retired[id] {
			c.log.Warn("worker gone without being retired (died); it will be replaced if needed", zap.String("worker_id", id))
		}
	}
	for id := range c.retired {
		if !live[id] {
			delete(c.retired, id)
		}
	}
	c.known = live
	now := c.opts.Now()
	in := Input{Pending: pending, Workers: loads, Desired: c.desired, LastChange: c.lastChange, Now: now, Policy: c.opts.Policy}
	c.mu.Unlock()

	d := Decide(in)
	load := 0.0
	if d.From > 0 {
		load = float64(pending) / float64(d.From)
	}
	log := c.log.With(zap.Int("pending", pending), zap.Int("workers", d.From), zap.Float64("load_per_worker", load),
		zap.Any("worker_load", perWorker))

	// Retire first: the target counts only the workers that agreed.
	retired := 0
	for _, id := range d.Retire {
		c.backend.Release(id)
		ok, err := c.cluster.Drain(ctx, id)
		if err != nil || !ok {
			c.backend.Keep(id)
			if err != nil {
				c.log.Warn("asking a worker to drain failed; it stays", zap.String("worker_id", id), zap.Error(err))
			} else {
				c.log.Info("worker refused to drain (busy); it stays", zap.String("worker_id", id))
			}
			continue
		}
		retired++
		c.mu.Lock()
		c.retired[id] = true
		c.mu.Unlock()
		c.log.Info("worker retiring (draining)", zap.String("worker_id", id))
	}
	target := d.Target
	if len(d.Retire) > 0 {
		target = d.From - retired
	}
	changed := d.Changed && (len(d.Retire) == 0 || retired > 0)

	c.mu.Lock()
	from := d.From
	c.desired = target
	if changed {
		c.lastChange = now
		c.lastScale = &ScaleEvent{At: now.UTC(), From: from, To: target, Reason: d.Reason}
		if target > from {
			c.ups++
		} else if target < from {
			c.downs++
		}
	}
	c.mu.Unlock()

	switch {
	case changed:
		log.Info("autoscaler decision", zap.Int("from", from), zap.Int("to", target), zap.String("reason", d.Reason))
	case d.Deferred:
		log.Debug("autoscaler decision deferred by the cooldown", zap.Int("from", from), zap.Int("to", target), zap.String("reason", d.Reason))
	case target != from || len(d.Retire) > 0:
		log.Info("autoscaler decision", zap.Int("from", from), zap.Int("to", target), zap.String("reason", d.Reason))
	default:
		log.Debug("autoscaler decision", zap.Int("from", from), zap.Int("to", target), zap.String("reason", d.Reason))
	}
	if err := c.backend.Scale(ctx, target); err != nil {
		return fmt.Errorf("scale to %d: %w", target, err)
	}
	if changed {
		if err := c.cluster.Publish(ctx, c.state()); err != nil {
			c.log.Warn("publishing the autoscaler state failed", zap.Error(err))
		}
	}
	return nil
}
