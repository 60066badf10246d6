package autoscaler

import (
	"context"
	"fmt"
)

// Backend starts and finds the workers of one platform: worker processes
// (ProcessBackend) or worker containers (DockerBackend). Retiring a worker
// is the controller's (it asks the worker to drain); the backend is told
// with Release, so that it stops counting and replacing it.
type Backend interface {
	// Name is "process" or "docker", for the logs and the state.
	Name() string
	// Workers lists the ids of the live workers the backend runs (starting
	// ones included, released ones not).
	Workers(ctx context.Context) ([]string, error)
	// Scale starts workers until n are live. It never stops one.
	Scale(ctx context.Context, n int) error
	// Release marks worker id as leaving (it drains and exits by itself);
	// Keep undoes it when the worker refused to drain.
	Release(id string)
	Keep(id string)
}

// ProcessBackend runs workers as child processes through a Pool, which
// replaces a dead one by itself (with backoff).
type ProcessBackend struct {
	Pool *Pool
}

var _ Backend = ProcessBackend{}

// Name is "process".
func (ProcessBackend) Name() string { return "process" }

// Workers lists the pool's live workers.
func (b ProcessBackend) Workers(context.Context) ([]string, error) { return b.Pool.IDs(), nil }

// Scale raises the pool's target to n if it is lower.
func (b ProcessBackend) Scale(_ context.Context, n int) error {
	if n <= b.Pool.Target() && b.Pool.Size() >= n {
		return nil
	}
	if err := b.Pool.Scale(max(n, b.Pool.Size())); err != nil {
		return fmt.Errorf("scale worker processes to %d: %w", n, err)
	}
	return nil
}

// Release takes id out of the pool's count.
func (b ProcessBackend) Release(id string) { b.Pool.Release(id) }

// Keep puts id back in the pool's count.
func (b ProcessBackend) Keep(id string) { b.Pool.Keep(id) }
