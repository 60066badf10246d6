package autoscaler

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.uber.org/zap"
)

// Labels of worker containers. They differ from the function containers'
// (faas.worker_id, faas.execution_id), so that a worker's orphan removal
// never takes a worker container for a function's.
const (
	LabelRole     = "faas.role"     // "worker"
	LabelInstance = "faas.instance" // the platform's instance id
	LabelWorker   = "faas.worker"   // the worker's id
	RoleWorker    = "worker"
)

// DefaultWorkerImage is the platform's own image (`make build`).
const DefaultWorkerImage = "faas-platform/faas:latest"

// dockerAPI is the part of the Docker SDK client the Docker backend uses.
type dockerAPI interface {
	ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error)
	ContainerCreate(ctx context.Context, config *container.Config, hostConfig *container.HostConfig, networkingConfig *network.NetworkingConfig, platform *ocispec.Platform, containerName string) (container.CreateResponse, error)
	ContainerStart(ctx context.Context, containerID string, options container.StartOptions) error
	ContainerRemove(ctx context.Context, containerID string, options container.RemoveOptions) error
	ImageInspect(ctx context.Context, imageID string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
	Close() error
}

// DockerOptions configure a DockerBackend.
type DockerOptions struct {
	// Instance is the platform's instance id: only containers labelled with
	// it are this backend's.
	Instance string
	// Image is the worker image (default DefaultWorkerImage); it is never
	// pulled: `make build` makes it.
	Image string
	// Env is the workers' environment (NATS_URL, MAX_CONCURRENT_EXECUTIONS,
	// ...); WORKER_ID is added per worker.
	Env []string
	// Network is the containers' network mode (default "host", so that a
	// NATS on 127.0.0.1 is reachable).
	Network string
	// DockerSocket is the daemon's socket on the host, mounted into the
	// workers so they run functions beside them (default
	// /var/run/docker.sock).
	DockerSocket string
	// Host is the daemon's address for the backend itself (empty:
	// DOCKER_HOST or the default).
	Host string
	// HostDir (WORKER_HOST_DIR), when set, is a directory of the daemon's
	// host mounted at the same path into every worker: there the workers
	// find faas-init (FAAS_INIT_PATH, for warm and network "internal"
	// containers) and make their objects sockets (WORKER_SOCKET_DIR), since
	// what a worker bind-mounts into a function's container must be a path
	// of the host, not of the worker's own container.
	HostDir string
	// InitOff is the FAAS_INIT_PATH value that turns warm containers off,
	// given to workers when HostDir is empty: the faas-init of the worker's
	// own image is no path of the host.
	InitOff string
}

// InitFileName is faas-init's name in DockerOptions.HostDir.
const InitFileName = "faas-init"

// DockerBackend runs workers as containers of the platform's image,
// labelled faas.role=worker and faas.instance=<instance>, so that it finds
// its own after a restart and touches no other container. Containers are
// auto-removed when they exit; a dead one is replaced by the controller.
type DockerBackend struct {
	cli   dockerAPI
	opts  DockerOptions
	log   *zap.Logger
	newID func() string

	mu      sync.Mutex
	leaving map[string]bool // released: draining, not counted
}

var _ Backend = (*DockerBackend)(nil)

// NewDockerBackend connects to the daemon.
func NewDockerBackend(o DockerOptions, newID func() string, log *zap.Logger) (*DockerBackend, error) {
	copts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if o.Host != "" {
		copts = append(copts, client.WithHost(o.Host))
	}
	cli, err := client.NewClientWithOpts(copts...)
	if err != nil {
		return nil, fmt.Errorf("docker backend: client: %w", err)
	}
	return newDockerBackend(cli, o, newID, log), nil
}

func newDockerBackend(cli dockerAPI, o DockerOptions, newID func() string, log *zap.Logger) *DockerBackend {
	if o.Image == "" {
		o.Image = DefaultWorkerImage
	}
	if o.Network == "" {
		o.Network = "host"
	}
	if o.DockerSocket == "" {
		o.DockerSocket = "/var/run/docker.sock"
	}
	return &DockerBackend{cli: cli, opts: o, log: log.Named("docker-workers"), newID: newID, leaving: map[string]bool{}}
}

// Close closes the client; the containers keep running (a restarted
// autoscaler finds them by their labels).
func (b *DockerBackend) Close() error {
	if err := b.cli.Close(); err != nil {
		return fmt.Errorf("docker backend: close: %w", err)
	}
	return nil
}

// Name is "docker".
func (b *DockerBackend) Name() string { return "docker" }

// list returns the running worker containers of this instance, by worker id.
func (b *DockerBackend) list(ctx context.Context, all bool) (map[string]container.Summary, error) {
	cs, err := b.cli.ContainerList(ctx, container.ListOptions{All: all, Filters: filters.NewArgs(
		filters.Arg("label", LabelRole+"="+RoleWorker),
		filters.Arg("label", LabelInstance+"="+b.opts.Instance))})
	if err != nil {
		return nil, fmt.Errorf("docker backend: list worker containers: %w", err)
	}
	out := make(map[string]container.Summary, len(cs))
	for _, c := range cs {
		if id := c.Labels[LabelWorker]; id != "" {
			out[id] = c
		}
	}
	return out, nil
}

// Workers lists the running worker containers, released ones excepted.
func (b *DockerBackend) Workers(ctx context.Context) ([]string, error) {
	cs, err := b.list(ctx, false)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for id := range b.leaving {
		if _, ok := cs[id]; !ok {
			delete(b.leaving, id) // gone
		}
	}
	ids := make([]string, 0, len(cs))
	for id := range cs {
		if !b.leaving[id] {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// Scale starts worker containers until n are live; they start in parallel.
func (b *DockerBackend) Scale(ctx context.Context, n int) error {
	live, err := b.Workers(ctx)
	if err != nil {
		return err
	}
	missing := n - len(live)
	if missing <= 0 {
		return nil
	}
	if _, err := b.cli.ImageInspect(ctx, b.opts.Image); err != nil {
		if client.IsErrNotFound(err) {
			return fmt.Errorf("docker backend: worker image %s not found (run `make build`): %w", b.opts.Image, err)
		}
		return fmt.Errorf("docker backend: inspect worker image %s: %w", b.opts.Image, err)
	}
	errs := make([]error, missing)
	var wg sync.WaitGroup
	for i := range missing {
		wg.Go(func() { errs[i] = b.start(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (b *DockerBackend) start(ctx context.Context) error {
	id := b.newID()
	env := append(append([]string{}, b.opts.Env...), "WORKER_ID="+id)
	cfg := &container.Config{
		Image: b.opts.Image, Cmd: []string{"worker"}, Env: env,
		Labels: map[string]string{LabelRole: RoleWorker, LabelInstance: b.opts.Instance, LabelWorker: id},
	}
	host := &container.HostConfig{
		NetworkMode: container.NetworkMode(b.opts.Network),
		AutoRemove:  true,
		Binds:       []string{b.opts.DockerSocket + ":/var/run/docker.sock"},
		// A worker drains for up to its DrainTimeout on SIGTERM.
	}
	switch {
	case b.opts.HostDir != "":
		host.Binds = append(host.Binds, b.opts.HostDir+":"+b.opts.HostDir)
		cfg.Env = append(cfg.Env, "FAAS_INIT_PATH="+filepath.Join(b.opts.HostDir, InitFileName),
			"WORKER_SOCKET_DIR="+b.opts.HostDir)
	case b.opts.InitOff != "":
		cfg.Env = append(cfg.Env, "FAAS_INIT_PATH="+b.opts.InitOff)
	}
	stop := 75
	cfg.StopTimeout = &stop
	started := time.Now()
	name := "faas-worker-" + strings.ToLower(b.opts.Instance) + "-" + id
	c, err := b.cli.ContainerCreate(ctx, cfg, host, nil, nil, name)
	if err != nil {
		return fmt.Errorf("docker backend: create worker %s: %w", id, err)
	}
	if err := b.cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = b.cli.ContainerRemove(rctx, c.ID, container.RemoveOptions{Force: true})
		return fmt.Errorf("docker backend: start worker %s: %w", id, err)
	}
	b.log.Info("worker container started", zap.String("worker_id", id), zap.String("container_id", short(c.ID)),
		zap.String("image", b.opts.Image), zap.Duration("took", time.Since(started)))
	return nil
}

// Release stops counting worker id (it drains and exits; its container
// goes with it).
func (b *DockerBackend) Release(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.leaving[id] = true
}

// Keep counts worker id again.
func (b *DockerBackend) Keep(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.leaving, id)
}

// RemoveAll force-removes every worker container of the instance (tests,
// `make clean`); the workers' executions are taken back by the platform.
func (b *DockerBackend) RemoveAll(ctx context.Context) error {
	cs, err := b.list(ctx, true)
	if err != nil {
		return err
	}
	var errs []error
	for id, c := range cs {
		if err := b.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil && !client.IsErrNotFound(err) {
			errs = append(errs, fmt.Errorf("docker backend: remove worker %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
