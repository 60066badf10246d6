package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	errdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.uber.org/zap"

	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/retry"
)

// Labels set on every container Run creates.
const (
	LabelExecutionID = "faas.execution_id"
	LabelFunctionID  = "faas.function_id"
	LabelWorkerID    = "faas.worker_id"
	// LabelInstance names the platform (one NATS store) a container
	// belongs to, so that orphan removal never touches the containers of
	// another platform on the same daemon (tests run several at once).
	LabelInstance = "faas.instance"
)

// Defaults of Options.
const (
	DefaultPidsLimit      = 64
	DefaultTmpfsSize      = "16m"
	DefaultSetupTimeout   = 60 * time.Second
	DefaultCleanupTimeout = 30 * time.Second
	// DefaultUser is nobody: a function never runs as root.
	DefaultUser            = "65534:65534"
	DefaultNoFile          = 1024
	DefaultVolumeTmpfsSize = "16m"
	// oomScoreAdj makes the kernel pick a function before the platform.
	oomScoreAdj = 1000
)

const (
	// exitGrace bounds the wait for the exit once the container was killed.
	exitGrace = 10 * time.Second
	// drainGrace bounds the wait for the end of the output streams once the
	// exit is known (the streams normally end before the exit is reported).
	drainGrace = 2 * time.Second
	// oomExitCode is the exit status of a process killed by SIGKILL, which is
	// what the kernel's OOM killer sends.
	oomExitCode = 137
)

// Options tune a Runtime. The zero value is usable.
type Options struct {
	// PidsLimit caps the number of processes and threads in a container
	// (default DefaultPidsLimit).
	PidsLimit int64
	// TmpfsSize is the size of the writable tmpfs mounted on /tmp, the only
	// writable place of the read-only root (default DefaultTmpfsSize).
	TmpfsSize string
	// ObjectsSocketDir is the host directory holding the worker's objects
	// service socket (ObjectsSocketName), for functions with network
	// "internal": it is bind-mounted read-only into their containers,
	// whose faas-init forwards 127.0.0.1:domain.InternalAPIPort there. The
	// containers keep network "none". Empty (or no faas-init): such
	// functions fail to run, saying why.
	ObjectsSocketDir string
	// Host is the daemon's address (e.g. "unix:///var/run/docker.sock");
	// empty: DOCKER_HOST or the default socket.
	Host string
	// Instance is the platform's id, put on every container as
	// faas.instance; RemoveOrphans only looks at containers of its own
	// instance (default "default").
	Instance string
	// User runs the function as this user ("uid:gid"), whatever the image
	// says (default DefaultUser: nobody, never root).
	User string
	// NoFile is the open-files limit of a function (default DefaultNoFile).
	NoFile int64
	// VolumeTmpfsSize caps the tmpfs mounted over each volume the image
	// declares, so nothing a function writes reaches the host's disk
	// (default DefaultVolumeTmpfsSize).
	VolumeTmpfsSize string
	// SetupTimeout bounds the create, attach and start calls of one run
	// (default DefaultSetupTimeout).
	SetupTimeout time.Duration
	// CleanupTimeout bounds each call made after the run's context may be
	// gone: kill, inspect, remove (default DefaultCleanupTimeout).
	CleanupTimeout time.Duration
	// InitPath is the faas-init binary on the daemon's host, bind-mounted
	// read-only into warm containers. Empty: no warm containers, every
	// run is cold (DefaultInitPath finds it beside the executable).
	InitPath string
	// WarmIdleTimeout removes a warm container idle that long
	// (WARM_IDLE_TIMEOUT, default DefaultWarmIdleTimeout).
	WarmIdleTimeout time.Duration
	// WarmMaxIdle caps the idle warm containers; past it the longest idle
	// go first (default DefaultWarmMaxIdle).
	WarmMaxIdle int
	// ColdStartConcurrency caps the container creations and starts under
	// way at once (COLD_START_CONCURRENCY, default the CPUs): on a small
	// host more starts in parallel only slow each one.
	ColdStartConcurrency int
}

func (o Options) withDefaults() Options {
	if o.Instance == "" {
		o.Instance = "default"
	}
	if o.PidsLimit <= 0 {
		o.PidsLimit = DefaultPidsLimit
	}
	if o.TmpfsSize == "" {
		o.TmpfsSize = DefaultTmpfsSize
	}
	if o.User == "" {
		o.User = DefaultUser
	}
	if o.NoFile <= 0 {
		o.NoFile = DefaultNoFile
	}
	if o.VolumeTmpfsSize == "" {
		o.VolumeTmpfsSize = DefaultVolumeTmpfsSize
	}
	if o.SetupTimeout <= 0 {
		o.SetupTimeout = DefaultSetupTimeout
	}
	if o.CleanupTimeout <= 0 {
		o.CleanupTimeout = DefaultCleanupTimeout
	}
	if o.WarmIdleTimeout <= 0 {
		o.WarmIdleTimeout = DefaultWarmIdleTimeout
	}
	if o.WarmMaxIdle <= 0 {
		o.WarmMaxIdle = DefaultWarmMaxIdle
	}
	if o.ColdStartConcurrency <= 0 {
		o.ColdStartConcurrency = runtime.NumCPU()
	}
	return o
}

// dockerAPI is the part of the Docker SDK client the Runtime uses.
type dockerAPI interface {
	ContainerCreate(ctx context.Context, config *container.Config, hostConfig *container.HostConfig, networkingConfig *network.NetworkingConfig, platform *ocispec.Platform, containerName string) (container.CreateResponse, error)
	ContainerAttach(ctx context.Context, containerID string, options container.AttachOptions) (types.HijackedResponse, error)
	ContainerStart(ctx context.Context, containerID string, options container.StartOptions) error
	ContainerWait(ctx context.Context, containerID string, condition container.WaitCondition) (<-chan container.WaitResponse, <-chan error)
	ContainerKill(ctx context.Context, containerID, signal string) error
	ContainerRemove(ctx context.Context, containerID string, options container.RemoveOptions) error
	ContainerInspect(ctx context.Context, containerID string) (container.InspectResponse, error)
	ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error)
	ImageInspect(ctx context.Context, imageID string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
	Info(ctx context.Context) (system.Info, error)
	Ping(ctx context.Context) (types.Ping, error)
	Close() error
}

// Runtime runs executions in cold Docker containers. It implements
// domain.Runtime and is safe for concurrent use.
type Runtime struct {
	cli  dockerAPI
	log  *zap.Logger
	opts Options

	mu      sync.Mutex
	closed  bool
	ncpu    int            // the daemon's CPU count, 0 until known
	pending sync.WaitGroup // runs in flight and their removals

	starts      chan struct{} // COLD_START_CONCURRENCY slots
	waiting     atomic.Int32  // creations waiting for a slot
	pool        *warmPool     // nil: warm containers are off
	stopJanitor chan struct{}
	janitorDone chan struct{}
}

var _ domain.Runtime = (*Runtime)(nil)

// New connects to the Docker daemon named by the environment (DOCKER_HOST and
// friends, the local socket by default), negotiating the API version. It does
// not contact the daemon: see Ping. A nil logger logs nothing.
func New(logger *zap.Logger, opts Options) (*Runtime, error) {
	copts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if opts.Host != "" {
		copts = append(copts, client.WithHost(opts.Host))
	}
	cli, err := client.NewClientWithOpts(copts...)
	if err != nil {
		return nil, fmt.Errorf("docker: new client: %w", err)
	}
	return newRuntime(cli, logger, opts), nil
}

func newRuntime(cli dockerAPI, logger *zap.Logger, opts Options) *Runtime {
	if logger == nil {
		logger = zap.NewNop()
	}
	r := &Runtime{cli: cli, log: logger, opts: opts.withDefaults()}
	r.starts = make(chan struct{}, r.opts.ColdStartConcurrency)
	if r.opts.InitPath != "" {
		r.pool = newWarmPool(r.opts.WarmIdleTimeout, r.opts.WarmMaxIdle)
		r.stopJanitor, r.janitorDone = make(chan struct{}), make(chan struct{})
		go r.janitor(r.stopJanitor, r.janitorDone)
	}
	return r
}

// Ping checks that the daemon answers. Its error wraps domain.ErrUnavailable.
func (r *Runtime) Ping(ctx context.Context) error {
	if _, err := r.cli.Ping(ctx); err != nil {
		return fmt.Errorf("docker: ping daemon: %w: %w", domain.ErrUnavailable, err)
	}
	return nil
}

// Close refuses new runs, removes the idle warm containers, waits for the
// runs in flight (their containers are removed, warm or not) and for the
// pending container removals, then closes the connection to the daemon.
func (r *Runtime) Close() error {
	r.mu.Lock()
	already := r.closed
	r.closed = true
	r.mu.Unlock()
	if already {
		return nil
	}
	if r.pool != nil {
		close(r.stopJanitor)
		<-r.janitorDone
		for _, c := range r.pool.close() {
			r.removeWarmAsync(c, r.log)
		}
	}
	r.pending.Wait()
	if err := r.cli.Close(); err != nil {
		return fmt.Errorf("docker: close client: %w", err)
	}
	return nil
}

// begin counts a run in flight; false once the Runtime is closed.
func (r *Runtime) begin() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.pending.Add(1)
	return true
}

// Run runs spec in a new container and removes it afterwards. See
// domain.Runtime: an error means the platform failed (daemon unreachable or
// Runtime closed: domain.ErrUnavailable; image absent:
// domain.ErrImageNotFound, with a public message naming it); what the
// function did is in the result, including an image whose entrypoint cannot
// be executed (exit 127 or 126, the reason on stderr). A zero spec.Timeout means no timeout of its own (ctx still applies);
// a zero MemoryMB or CPUs gets the domain's default.
func (r *Runtime) Run(ctx context.Context, spec domain.RunSpec) (domain.RunResult, error) {
	began := time.Now()
	log := r.log.With(
		zap.String("execution_id", spec.ExecutionID),
		zap.String("function_id", spec.FunctionID),
		zap.String("worker_id", spec.WorkerID),
	)
	if ctx.Err() != nil {
		return domain.RunResult{Cancelled: true}, nil
	}
	if !r.begin() {
		return domain.RunResult{}, fmt.Errorf("docker: run execution %s: runtime closed: %w", spec.ExecutionID, domain.ErrUnavailable)
	}
	// Network "internal" needs faas-init (its forwarder) even when the
	// function opts out of warm containers: it then gets one of its own.
	if (spec.Warm || spec.Network == domain.NetworkInternal) && r.warmEnabled() {
		res, ok, err := r.runWarm(ctx, spec, began, log)
		if ok {
			r.pending.Done()
			return r.ended(res, err, spec, log)
		}
		// No command of its own in the image: the cold path says why.
	}

	id := ""
	defer func() {
		if id == "" {
			r.pending.Done()
			return
		}
		go r.remove(id, log) // calls r.pending.Done
	}()

	res, err := r.run(ctx, spec, began, log, &id)
	res.ColdStart = true
	return r.ended(res, err, spec, log.With(zap.String("container_id", short(id))))
}

// ended logs the end of a run and wraps its error.
func (r *Runtime) ended(res domain.RunResult, err error, spec domain.RunSpec, log *zap.Logger) (domain.RunResult, error) {
	if err != nil {
		log.Warn("run failed", zap.Error(err))
		if client.IsErrConnectionFailed(err) {
			err = fmt.Errorf("%w: %w", domain.ErrUnavailable, err)
		}
		return domain.RunResult{}, fmt.Errorf("docker: run execution %s: %w", spec.ExecutionID, err)
	}
	log.Debug("run ended",
		zap.Bool("cold_start", res.ColdStart),
		zap.Int("exit_code", res.ExitCode),
		zap.Bool("timed_out", res.TimedOut),
		zap.Bool("cancelled", res.Cancelled),
		zap.Bool("oom_killed", res.OOMKilled),
		zap.Duration("startup", res.StartupDuration),
		zap.Duration("run", res.RunDuration),
	)
	return res, nil
}

// run does the work of Run. It stores the container's ID in *id as soon as
// the container exists, so that Run removes it on every path.
func (r *Runtime) run(ctx context.Context, spec domain.RunSpec, began time.Time, log *zap.Logger, id *string) (res domain.RunResult, _ error) {
	cfg, hostCfg, err := r.containerConfig(ctx, spec)
	if err != nil {
		return res, err
	}

	// Daemon calls must not be cut by ctx: a create cut half-way may still
	// leave a container behind that nobody knows of. ctx is checked between
	// the calls instead; a cancel costs at most one call.
	setupCtx, cancelSetup := context.WithTimeout(context.WithoutCancel(ctx), r.opts.SetupTimeout)
	defer cancelSetup()
	// The wait lives as long as the run, whatever happens to ctx.
	waitCtx, cancelWait := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWait()

	release, ok := r.acquireStart(ctx)
	if !ok {
		return domain.RunResult{Cancelled: true, StartupDuration: time.Since(began)}, nil
	}
	released := false
	releaseStart := func() {
		if !released {
			released = true
			release()
		}
	}
	defer releaseStart()
	created, err := r.cli.ContainerCreate(setupCtx, cfg, hostCfg, nil, nil, "")
	if err != nil {
		return res, r.createError(setupCtx, spec.Image, err)
	}
	*id = created.ID
	for _, w := range created.Warnings {
		log.Debug("create warning", zap.String("warning", w))
	}
	if ctx.Err() != nil {
		return domain.RunResult{Cancelled: true, StartupDuration: time.Since(began)}, nil
	}

	// Registered before the start, so the exit cannot be missed.
	waitC, waitErrC := r.cli.ContainerWait(waitCtx, created.ID, container.WaitConditionNextExit)

	hj, err := r.cli.ContainerAttach(setupCtx, created.ID, container.AttachOptions{
		Stream: true, Stdin: true, Stdout: true, Stderr: true,
	})
	if err != nil {
		return res, fmt.Errorf("attach container: %w", err)
	}
	defer hj.Close()

	// Output past the cap ends the run at once: a flood must not run on
	// until the timeout.
	stdout := &capped{max: domain.MaxOutputBytes, over: make(chan struct{})}
	stderr := &capped{max: domain.MaxLogBytes}
	copied := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(stdout, stderr, hj.Reader)
		copied <- err
	}()

	// The input goes out now, as with `docker run -i`: the daemon holds it
	// until the function reads it, so it is there as soon as the function
	// starts.
	stdinDone := make(chan struct{})
	go func() {
		defer close(stdinDone)
		if len(spec.Input) > 0 {
			if _, err := hj.Conn.Write(spec.Input); err != nil {
				// The function exited without reading all of its input.
				log.Debug("write input", zap.Error(err))
			}
		}
		if err := hj.CloseWrite(); err != nil {
			log.Debug("close input", zap.Error(err))
		}
	}()
	defer func() {
		hj.Close() // unblocks the writer if the function never read its input
		<-stdinDone
	}()

	if ctx.Err() != nil {
		return domain.RunResult{Cancelled: true, StartupDuration: time.Since(began)}, nil
	}
	if err := r.cli.ContainerStart(setupCtx, created.ID, container.StartOptions{}); err != nil {
		if failed, ok := startFailure(err); ok {
			failed.StartupDuration = time.Since(began)
			return failed, nil
		}
		return res, fmt.Errorf("start container: %w", err)
	}
	releaseStart()
	started := time.Now()
	res.StartupDuration = started.Sub(began)
	sampler := startUsageSampler(created.ID)
	defer func() {
		u := sampler.stop()
		res.MaxMemoryBytes, res.CPUSeconds = u.MaxMemoryBytes, u.CPUSeconds
	}()

	var timeout <-chan time.Time
	if spec.Timeout > 0 {
		timer := time.NewTimer(spec.Timeout)
		defer timer.Stop()
		timeout = timer.C
	}

	var exit container.WaitResponse
	overflow := false
	select {
	case exit = <-waitC:
	case err := <-waitErrC:
		return res, fmt.Errorf("wait for container: %w", err)
	case <-timeout:
		res.TimedOut = true
	case <-ctx.Done():
		res.Cancelled = true
	case <-stdout.over:
		overflow = true
	}
	if res.TimedOut || res.Cancelled || overflow {
		r.kill(created.ID, log)
		select {
		case exit = <-waitC:
		case err := <-waitErrC:
			return res, fmt.Errorf("wait for killed container: %w", err)
		case <-time.After(exitGrace):
			// The run is over for the platform (timed out or cancelled):
			// report it so, not as a failure to retry; the forced removal
			// that follows takes the container away.
			log.Error("container did not exit after SIGKILL", zap.String("container_id", short(created.ID)), zap.Duration("grace", exitGrace))
			res.RunDuration = time.Since(started)
			res.ExitCode = oomExitCode
			return res, nil
		}
	}
	res.RunDuration = time.Since(started)
	if exit.Error != nil && exit.Error.Message != "" {
		return res, fmt.Errorf("wait for container: %s", exit.Error.Message)
	}
	res.ExitCode = int(exit.StatusCode)

	select {
	case err := <-copied:
		if err != nil {
			log.Debug("copy output", zap.Error(err))
		}
	case <-time.After(drainGrace):
		log.Warn("output streams still open after the exit; cut")
		hj.Close()
		<-copied
	}
	res.Stdout, res.StdoutOverflow = stdout.result()
	res.Stderr, res.StderrTruncated = stderr.result()

	if res.ExitCode == oomExitCode && !res.TimedOut && !res.Cancelled {
		res.OOMKilled = r.oomKilled(created.ID, log)
	}
	return res, nil
}

// containerConfig turns spec into the container's configuration.
func (r *Runtime) containerConfig(ctx context.Context, spec domain.RunSpec) (*container.Config, *container.HostConfig, error) {
	if spec.Image == "" {
		return nil, nil, errors.New("no image")
	}
	env := make([]string, 0, len(spec.Env))
	for k, v := range spec.Env {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)

	memoryMB := spec.MemoryMB
	if memoryMB <= 0 {
		memoryMB = domain.DefaultMemoryMB
	}
	cpus := spec.CPUs
	if cpus <= 0 {
		cpus = domain.DefaultCPUs
	}
	// The daemon refuses more CPUs than it has; a function asking for more
	// gets all of them.
	if n := r.hostCPUs(ctx); n > 0 && cpus > float64(n) {
		cpus = float64(n)
	}
	pids := r.opts.PidsLimit

	cfg := &container.Config{
		Image:        spec.Image,
		Env:          env,
		User:         r.opts.User,
		AttachStdin:  true,
		AttachStdout: true,
		AttachStderr: true,
		OpenStdin:    true,
		StdinOnce:    true,
		Labels: map[string]string{
			LabelExecutionID: spec.ExecutionID,
			LabelFunctionID:  spec.FunctionID,
			LabelWorkerID:    spec.WorkerID,
			LabelInstance:    r.opts.Instance,
		},
	}
	hostCfg := &container.HostConfig{
		// Output reaches the platform through the attach stream only.
		LogConfig:      container.LogConfig{Type: "none"},
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges"},
		ReadonlyRootfs: true,
		Tmpfs:          r.tmpfsMounts(ctx, spec.Image),
		// A function dies before the platform when the host runs short.
		OomScoreAdj: oomScoreAdj,
		Resources: container.Resources{
			Memory:     int64(memoryMB) << 20,
			MemorySwap: int64(memoryMB) << 20, // no swap
			NanoCPUs:   int64(math.Round(cpus * 1e9)),
			PidsLimit:  &pids,
			Ulimits:    []*container.Ulimit{{Name: "nofile", Soft: r.opts.NoFile, Hard: r.opts.NoFile}},
		},
	}
	switch spec.Network {
	case "", domain.NetworkNone:
		// NetworkDisabled drops the daemon's libnetwork prestart hook: the
		// fast path. The container keeps its own namespace with only lo.
		cfg.NetworkDisabled = true
		hostCfg.NetworkMode = network.NetworkNone
	case domain.NetworkInternal:
		if r.opts.ObjectsSocketDir == "" || !r.warmEnabled() {
			// A setting of this platform, not a passing failure: retrying
			// cannot help, so the execution fails at once, saying why.
			return nil, nil, domain.Errorf(domain.ErrInvalidInput,
				"network %q is not available on this platform: the worker has no objects socket or no faas-init", spec.Network)
		}
		// Network "none" still, but set up by the daemon, which brings the
		// loopback up: faas-init listens on 127.0.0.1 there (startWarm).
		hostCfg.NetworkMode = network.NetworkNone
	default:
		return nil, nil, fmt.Errorf("network %q: %w", spec.Network, domain.ErrInvalidInput)
	}
	return cfg, hostCfg, nil
}

// tmpfsMounts is /tmp plus a size-capped tmpfs over each volume the image
// declares: an anonymous volume would put the function's writes on the
// host's disk and outlive the container.
func (r *Runtime) tmpfsMounts(ctx context.Context, img string) map[string]string {
	m := map[string]string{"/tmp": "rw,noexec,nosuid,size=" + r.opts.TmpfsSize}
	ictx, cancel := context.WithTimeout(ctx, r.opts.SetupTimeout)
	defer cancel()
	info, err := r.cli.ImageInspect(ictx, img)
	if err != nil || info.Config == nil {
		// A missing image fails at create, with the uniform message.
		return m
	}
	for v := range info.Config.Volumes {
		if _, ok := m[v]; !ok {
			m[v] = "rw,noexec,nosuid,size=" + r.opts.VolumeTmpfsSize
		}
	}
	return m
}

// hostCPUs returns the daemon's CPU count, asking once; 0 when unknown.
func (r *Runtime) hostCPUs(ctx context.Context) int {
	r.mu.Lock()
	n := r.ncpu
	r.mu.Unlock()
	if n > 0 {
		return n
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.CleanupTimeout)
	defer cancel()
	info, err := r.cli.Info(ctx)
	if err != nil {
		r.log.Warn("daemon info", zap.Error(err))
		return 0
	}
	r.mu.Lock()
	r.ncpu = info.NCPU
	r.mu.Unlock()
	return info.NCPU
}

// createError explains a failed create. A missing image is ErrImageNotFound;
// the daemon says "not found" for a missing network too, so the image is
// checked before blaming it.
func (r *Runtime) createError(ctx context.Context, img string, err error) error {
	if client.IsErrNotFound(err) {
		if _, ierr := r.cli.ImageInspect(ctx, img); client.IsErrNotFound(ierr) {
			return fmt.Errorf("create container: %w", domain.Errorf(domain.ErrImageNotFound, "image %q is not available", img))
		}
	}
	return fmt.Errorf("create container: %w", err)
}

// startFailure recognises a start refused because of the image itself (its
// entrypoint is missing or not executable) and turns it into the failed run
// the function's author must see, with the exit codes a shell would give
// (127 not found, 126 not executable). Anything else is the platform's.
func startFailure(err error) (domain.RunResult, bool) {
	msg := err.Error()
	const marker = "unable to start container process: "
	i := strings.Index(msg, marker)
	if !strings.Contains(msg, "OCI runtime") || i < 0 || !strings.HasPrefix(msg[i+len(marker):], "exec") {
		return domain.RunResult{}, false
	}
	msg = strings.TrimSuffix(msg[i+len(marker):], ": unknown")
	var code int
	switch {
	case strings.Contains(msg, "no such file or directory"), strings.Contains(msg, "executable file not found"):
		code = 127
	case strings.Contains(msg, "permission denied"), strings.Contains(msg, "exec format error"):
		code = 126
	default:
		return domain.RunResult{}, false
	}
	return domain.RunResult{ExitCode: code, Stderr: []byte("container failed to start: " + msg + "\n")}, true
}

// kill sends SIGKILL; a container that already exited is no error.
func (r *Runtime) kill(id string, log *zap.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.CleanupTimeout)
	defer cancel()
	if err := r.cli.ContainerKill(ctx, id, "KILL"); err != nil {
		log.Debug("kill container", zap.String("container_id", short(id)), zap.Error(err))
	}
}

// oomKilled asks the daemon whether the kernel's OOM killer struck in the
// container.
//
// Best effort on Docker 20.10: the daemon learns of the OOM from an event of
// the containerd shim that races the exit. When the victim's death ends the
// container at once (the victim is PID 1, or PID 1 exits right after it), the
// event may come after the exit, which 20.10 no longer records, or never (the
// shim drops it once the cgroup is gone). Measured with 3 OOMs in parallel,
// 10-15% of such runs read "no"; a function that outlives its killed child by
// a few hundred milliseconds is reported reliably.
func (r *Runtime) oomKilled(id string, log *zap.Logger) bool {
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.CleanupTimeout)
	defer cancel()
	info, err := r.cli.ContainerInspect(ctx, id)
	if err != nil {
		log.Warn("inspect container for OOM", zap.String("container_id", short(id)), zap.Error(err))
		return false
	}
	return info.State != nil && info.State.OOMKilled
}

// remove force-removes a container, retrying a few times, and marks the run
// done for Close.
func (r *Runtime) remove(id string, log *zap.Logger) {
	defer r.pending.Done()
	err := retry.Do(context.Background(), retry.Policy{Tries: 3, Initial: 100 * time.Millisecond}, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), r.opts.CleanupTimeout)
		defer cancel()
		err := r.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
		if err == nil || client.IsErrNotFound(err) {
			return nil
		}
		return err
	})
	if err != nil {
		log.Error("remove container", zap.String("container_id", short(id)), zap.Error(err))
	}
}

// RemoveExecution force-removes (kills first) every container of its
// instance labelled with executionID, and returns how many it removed: a new
// attempt of an execution calls it before starting, so that an earlier
// attempt's container (of a worker that died) never runs beside it.
func (r *Runtime) RemoveExecution(ctx context.Context, executionID string) (int, error) {
	list, err := r.cli.ContainerList(ctx, container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", LabelExecutionID+"="+executionID), filters.Arg("label", LabelInstance+"="+r.opts.Instance)),
	})
	if err != nil {
		return 0, fmt.Errorf("docker: list containers of execution %s: %w", executionID, err)
	}
	removed := 0
	for _, c := range list {
		err := r.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		switch {
		case err == nil:
			removed++
		case client.IsErrNotFound(err), errdefs.IsConflict(err):
			// Gone, or a removal is already under way (its own worker's
			// cleanup): wait for it below.
		default:
			return removed, fmt.Errorf("docker: remove container %s of execution %s: %w", short(c.ID), executionID, err)
		}
	}
	if len(list) == 0 {
		return 0, nil
	}
	// Removal is done when the daemon lists none: only then may a new
	// attempt start.
	err = retry.Do(ctx, retry.Policy{Tries: 40, Initial: 50 * time.Millisecond, Max: time.Second}, func() error {
		left, err := r.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(
			filters.Arg("label", LabelExecutionID+"="+executionID), filters.Arg("label", LabelInstance+"="+r.opts.Instance))})
		switch {
		case err != nil:
			return err
		case len(left) > 0:
			for _, c := range left {
				_ = r.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
			}
			return fmt.Errorf("%d container(s) still there", len(left))
		}
		return nil
	})
	if err != nil {
		return removed, fmt.Errorf("docker: remove containers of execution %s: %w", executionID, err)
	}
	return removed, nil
}

// OrphanMinAge is how old a container should be before RemoveOrphans takes
// it for an orphan: a worker that has just started may not have sent its
// first heartbeat yet.
const OrphanMinAge = 20 * time.Second

// RemoveOrphans force-removes every container of its instance (running or
// not), older than minAge, labelled by a worker that alive says is gone,
// and returns how many it removed. Containers of live workers and of other
// instances are left alone.
func (r *Runtime) RemoveOrphans(ctx context.Context, alive func(workerID string) bool, minAge time.Duration) (int, error) {
	list, err := r.cli.ContainerList(ctx, container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", LabelWorkerID), filters.Arg("label", LabelInstance+"="+r.opts.Instance)),
	})
	if err != nil {
		return 0, fmt.Errorf("docker: list containers: %w", err)
	}
	removed := 0
	var errs []error
	for _, c := range list {
		worker := c.Labels[LabelWorkerID]
		if alive(worker) || time.Since(time.Unix(c.Created, 0)) < minAge {
			continue
		}
		err := r.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		switch {
		case err == nil:
			removed++
			r.log.Info("removed orphan container",
				zap.String("container_id", short(c.ID)),
				zap.String("execution_id", c.Labels[LabelExecutionID]),
				zap.String("function_id", c.Labels[LabelFunctionID]),
				zap.String("worker_id", worker),
			)
		case client.IsErrNotFound(err):
			// Removed meanwhile.
		default:
			errs = append(errs, fmt.Errorf("remove container %s: %w", short(c.ID), err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("docker: remove orphans: %w", err)
	}
	return removed, nil
}

// capped keeps the first max bytes written to it and counts the rest, which
// it discards: the function is never blocked on a full pipe.
type capped struct {
	buf   []byte
	max   int
	total int64
	// over, when set, is closed once more than max bytes came.
	over chan struct{}
}

func (c *capped) Write(p []byte) (int, error) {
	before := c.total
	c.total += int64(len(p))
	if c.over != nil && before <= int64(c.max) && c.total > int64(c.max) {
		close(c.over)
	}
	if room := c.max - len(c.buf); room > 0 {
		c.buf = append(c.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// result returns the kept bytes and whether some were discarded.
func (c *capped) result() ([]byte, bool) {
	return c.buf, c.total > int64(c.max)
}

var _ io.Writer = (*capped)(nil)

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
