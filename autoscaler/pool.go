// Package autoscaler sizes the pool of workers on the queue's backlog: the
// policy (Decide, a pure function), the controller that applies it (one at
// a time, by a lock in NATS), and the backends that start and find the
// workers: `faas worker` child processes (Pool) or Docker containers of the
// platform's image.
package autoscaler

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// Spawner builds the command of a new worker with the given id; the pool
// starts it. The command must not be started yet. The pool sets the parent
// death signal on it (Linux), keeping any other SysProcAttr the spawner set.
type Spawner func(workerID string) *exec.Cmd

// ErrStopped is returned by Scale once Stop has been called.
var ErrStopped = errors.New("autoscaler: pool stopped")

// Restart backoff: a worker that dies without being asked to is replaced
// after RestartDelay(n), n being the deaths in a row of workers that did not
// live StableAfter; a worker that lived that long resets the count.
const (
	RestartBaseDelay   = time.Second
	RestartMaxDelay    = 30 * time.Second
	DefaultStableAfter = 60 * time.Second
)

// RestartDelay is the wait before replacing a worker after the n-th death in
// a row (n ≥ 1): 1 s, 2 s, 4 s, ... capped at 30 s. n ≤ 0 means no wait.
func RestartDelay(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	d := RestartBaseDelay
	for i := 1; i < n; i++ {
		d *= 2
		if d >= RestartMaxDelay {
			return RestartMaxDelay
		}
	}
	return min(d, RestartMaxDelay)
}

// nextFailures is the count of deaths in a row after a worker that lived for
// lived died: a worker that lived stableAfter or more starts a new count.
func nextFailures(prev int, lived, stableAfter time.Duration) int {
	if lived >= stableAfter {
		prev = 0
	}
	return prev + 1
}

// Options tunes a pool; the zero value gives the defaults.
type Options struct {
	// StableAfter is how long a worker must live for its death to reset the
	// backoff (default DefaultStableAfter).
	StableAfter time.Duration
	// Now and After are the clock (default time.Now and time.After); tests
	// inject a fake one to drive the backoff.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
}

// Pool is a set of worker processes held at a target size (Scale). A worker
// that dies without being asked to stop is logged and replaced by a new one
// with a new id, with an exponential backoff while workers keep dying. A
// worker stopped by Scale or Stop is not a death and is not replaced.
type Pool struct {
	spawn       Spawner
	log         *zap.Logger
	newID       func() string
	stableAfter time.Duration
	now         func() time.Time
	after       func(time.Duration) <-chan time.Time

	mu       sync.Mutex
	procs    map[string]*proc
	target   int
	failures int  // deaths in a row (see nextFailures)
	pending  bool // a replacement waits out its backoff
	stopped  bool
	quit     chan struct{} // closed by Stop
	wg       sync.WaitGroup
}

type proc struct {
	cmd      *exec.Cmd
	started  time.Time
	stopping bool
}

// NewPool returns an empty pool with the default Options; newID names each
// new worker.
func NewPool(spawn Spawner, newID func() string, logger *zap.Logger) *Pool {
	return NewPoolWithOptions(spawn, newID, logger, Options{})
}

// NewPoolWithOptions is NewPool with the given options.
func NewPoolWithOptions(spawn Spawner, newID func() string, logger *zap.Logger, o Options) *Pool {
	if o.StableAfter <= 0 {
		o.StableAfter = DefaultStableAfter
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.After == nil {
		o.After = time.After
	}
	return &Pool{
		spawn: spawn, newID: newID, log: logger.Named("pool"),
		stableAfter: o.StableAfter, now: o.Now, after: o.After,
		procs: map[string]*proc{}, quit: make(chan struct{}),
	}
}

// Size is the number of live workers (not counting those being stopped).
func (p *Pool) Size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.liveLocked()
}

// Target is the size the pool holds (the last Scale; 0 after Stop).
func (p *Pool) Target() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.target
}

func (p *Pool) liveLocked() int {
	n := 0
	for _, pr := range p.procs {
		if !pr.stopping {
			n++
		}
	}
	return n
}

// IDs lists the live workers' ids, sorted.
func (p *Pool) IDs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.idsLocked()
}

func (p *Pool) idsLocked() []string {
	ids := make([]string, 0, len(p.procs))
	for id, pr := range p.procs {
		if !pr.stopping {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// Scale sets the target to n and starts or stops workers until n are live.
// Stopped workers get SIGTERM and drain: they finish what they run, then
// exit. While a replacement waits out its backoff, Scale starts nothing: the
// replacement fills the pool up to the target when its wait ends. A worker
// that fails to start is retried the same way, and its error is returned.
func (p *Pool) Scale(n int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return ErrStopped
	}
	p.target = max(n, 0)
	if !p.pending {
		if err := p.fillLocked(); err != nil {
			p.failures++
			p.scheduleLocked()
			return err
		}
	}
	for p.liveLocked() > p.target {
		ids := p.idsLocked()
		p.stopLocked(ids[len(ids)-1])
	}
	return nil
}

// fillLocked starts workers until the target is live.
func (p *Pool) fillLocked() error {
	for p.liveLocked() < p.target {
		if err := p.startLocked(); err != nil {
			return err
		}
	}
	return nil
}

func (p *Pool) startLocked() error {
	id := p.newID()
	cmd := p.spawn(id)
	setParentDeathSignal(cmd)
	started := p.now()
	if err := startOnSpawnerThread(cmd); err != nil {
		return fmt.Errorf("start worker %s: %w", id, err)
	}
	pr := &proc{cmd: cmd, started: started}
	p.procs[id] = pr
	p.log.Info("worker started", zap.String("worker_id", id), zap.Int("pid", cmd.Process.Pid))
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		err := cmd.Wait()
		p.exited(id, pr, err)
	}()
	return nil
}

// exited handles the end of a worker: a stop is logged, a death is logged
// and replaced after the backoff.
func (p *Pool) exited(id string, pr *proc, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.procs, id)
	code, sig := exitDetails(pr.cmd.ProcessState)
	fields := []zap.Field{zap.String("worker_id", id), zap.Int("pid", pr.cmd.Process.Pid),
		zap.Int("exit_code", code), zap.String("signal", sig)}
	if pr.stopping || p.stopped {
		p.log.Info("worker stopped", fields...)
		return
	}
	lived := p.now().Sub(pr.started)
	p.failures = nextFailures(p.failures, lived, p.stableAfter)
	p.log.Error("worker died; replacing", append(fields, zap.Error(err), zap.Duration("uptime", lived),
		zap.Int("deaths_in_a_row", p.failures), zap.Duration("restart_in", RestartDelay(p.failures)))...)
	p.scheduleLocked()
}

// scheduleLocked arranges for the pool to be filled up to its target after
// RestartDelay(failures), unless that is already arranged or Stop comes first.
func (p *Pool) scheduleLocked() {
	if p.pending || p.stopped {
		return
	}
	p.pending = true
	wake := p.after(RestartDelay(p.failures))
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		select {
		case <-wake:
		case <-p.quit:
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		p.pending = false
		if p.stopped {
			return
		}
		if err := p.fillLocked(); err != nil {
			p.failures++
			p.log.Error("replacing worker failed", zap.Error(err), zap.Int("deaths_in_a_row", p.failures),
				zap.Duration("restart_in", RestartDelay(p.failures)))
			p.scheduleLocked()
		}
	}()
}

// Release takes worker id out of the pool without signalling it: it is
// about to exit by itself (it drains), so its exit is not a death and it is
// not replaced; the target shrinks by one. It reports whether id was live.
func (p *Pool) Release(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr, ok := p.procs[id]
	if !ok || pr.stopping {
		return false
	}
	pr.stopping = true
	p.target = max(p.target-1, 0)
	p.log.Info("worker released (draining)", zap.String("worker_id", id))
	return true
}

// Keep undoes Release for a worker that refused to drain: it counts again
// (and is replaced if it dies). It reports whether id is still running.
func (p *Pool) Keep(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr, ok := p.procs[id]
	if !ok || !pr.stopping || p.stopped {
		return false
	}
	pr.stopping = false
	p.target++
	return true
}

func (p *Pool) stopLocked(id string) {
	pr, ok := p.procs[id]
	if !ok || pr.stopping {
		return
	}
	pr.stopping = true
	if err := pr.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.log.Warn("signalling worker failed", zap.String("worker_id", id), zap.Error(err))
	}
}

// Stop drains every worker: SIGTERM, then SIGKILL for those still running
// when ctx ends. It returns once all have exited; no worker starts after it.
func (p *Pool) Stop(ctx context.Context) {
	p.mu.Lock()
	if !p.stopped {
		p.stopped = true
		close(p.quit)
	}
	p.target = 0
	for id := range p.procs {
		p.stopLocked(id)
	}
	p.mu.Unlock()

	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	p.mu.Lock()
	for id, pr := range p.procs {
		p.log.Warn("worker did not drain in time; killing", zap.String("worker_id", id))
		_ = pr.cmd.Process.Kill()
	}
	p.mu.Unlock()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		p.log.Error("workers still running after kill")
	}
}

// exitDetails is the exit code (-1 if killed by a signal) and the name of
// the signal that ended the process ("" if it exited).
func exitDetails(st *os.ProcessState) (int, string) {
	if st == nil {
		return -1, ""
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -1, ws.Signal().String()
	}
	return st.ExitCode(), ""
}
