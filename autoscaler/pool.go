// Package autoscaler keeps the pool of worker processes: it starts and stops
// `faas worker` children. Today `faas up` holds the pool at MIN_WORKERS; the
// queue-depth policy that resizes it plugs into Pool.Scale.
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
// starts it. The command must not be started yet.
type Spawner func(workerID string) *exec.Cmd

// Pool is a set of worker processes. A worker that dies is logged and
// removed, never restarted silently: Scale decides what runs.
type Pool struct {
	spawn Spawner
	log   *zap.Logger
	newID func() string

	mu    sync.Mutex
	procs map[string]*proc
	wg    sync.WaitGroup
}

type proc struct {
	cmd      *exec.Cmd
	done     chan struct{}
	stopping bool
}

// NewPool returns an empty pool; newID names each new worker.
func NewPool(spawn Spawner, newID func() string, logger *zap.Logger) *Pool {
	return &Pool{spawn: spawn, newID: newID, log: logger.Named("pool"), procs: map[string]*proc{}}
}

// Size is the number of live workers (not counting those being stopped).
func (p *Pool) Size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
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
	ids := make([]string, 0, len(p.procs))
	for id, pr := range p.procs {
		if !pr.stopping {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// Scale starts or stops workers until n are live. Stopped workers get
// SIGTERM and drain: they finish what they run, then exit.
func (p *Pool) Scale(n int) error {
	for p.Size() < n {
		if err := p.start(); err != nil {
			return err
		}
	}
	for p.Size() > n {
		ids := p.IDs()
		p.stop(ids[len(ids)-1])
	}
	return nil
}

func (p *Pool) start() error {
	id := p.newID()
	cmd := p.spawn(id)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start worker %s: %w", id, err)
	}
	pr := &proc{cmd: cmd, done: make(chan struct{})}
	p.mu.Lock()
	p.procs[id] = pr
	p.mu.Unlock()
	p.log.Info("worker started", zap.String("worker_id", id), zap.Int("pid", cmd.Process.Pid))
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		err := cmd.Wait()
		close(pr.done)
		p.mu.Lock()
		stopping := pr.stopping
		delete(p.procs, id)
		p.mu.Unlock()
		switch {
		case stopping:
			p.log.Info("worker stopped", zap.String("worker_id", id), zap.Error(err))
		default:
			code := -1
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err == nil {
				code = 0
			}
			p.log.Error("worker died; not restarted", zap.String("worker_id", id), zap.Int("exit_code", code), zap.Error(err))
		}
	}()
	return nil
}

func (p *Pool) stop(id string) {
	p.mu.Lock()
	pr, ok := p.procs[id]
	if ok {
		pr.stopping = true
	}
	p.mu.Unlock()
	if ok {
		if err := pr.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			p.log.Warn("signalling worker failed", zap.String("worker_id", id), zap.Error(err))
		}
	}
}

// Stop drains every worker: SIGTERM, then SIGKILL for those still running
// when ctx ends. It returns once all have exited.
func (p *Pool) Stop(ctx context.Context) {
	for _, id := range p.IDs() {
		p.stop(id)
	}
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
