package docker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/strslice"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"go.uber.org/zap"

	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/internal/initproto"
)

// Labels of warm containers (besides faas.function_id, faas.worker_id and
// faas.instance; a warm container has no faas.execution_id: it serves many).
const (
	LabelWarm    = "faas.warm"
	LabelOwner   = "faas.owner"
	LabelPoolKey = "faas.pool_key"
)

// Defaults of the warm options.
const (
	DefaultWarmIdleTimeout = 5 * time.Minute
	DefaultWarmMaxIdle     = 32
	// InitMountPath is where faas-init is bind-mounted, read-only.
	InitMountPath = "/.faas/init"
	// ObjectsMountPath is where the objects socket's directory is
	// bind-mounted, read-only, for network "internal".
	ObjectsMountPath = "/.faas/run"
	// ObjectsSocketName is the socket in Options.ObjectsSocketDir.
	ObjectsSocketName = "api.sock"

	// initThreads is added to the pids limit of a warm container: init's
	// own threads must not eat into the function's process budget.
	initThreads = 16
	// warmKillGrace is how long past the function's timeout the worker
	// waits for init's answer before it kills the container itself.
	warmKillGrace = 5 * time.Second
)

// errNoCommand: the image has neither entrypoint nor cmd; the cold path
// reports it as the daemon does.
var errNoCommand = errors.New("image has no entrypoint or cmd")

// warmContainer is one container run by faas-init.
type warmContainer struct {
	id         string
	key        string
	owner      string
	functionID string
	hj         types.HijackedResponse
	frames     *bufio.Reader // init's stdout, out of the multiplexed stream
	idleSince  time.Time
	// gone is closed when the container's output stream ended: init (and
	// so the container) is dead, e.g. killed from outside while idle.
	gone chan struct{}
}

// dead reports whether c's stream has ended.
func (c *warmContainer) dead() bool {
	select {
	case <-c.gone:
		return true
	default:
		return false
	}
}

// warmEnabled reports whether warm runs are possible at all.
func (r *Runtime) warmEnabled() bool { return r.pool != nil }

// runWarm runs spec in a warm container of its key, starting one when none
// is idle. ok false means the warm path cannot serve this image (no
// command): the caller runs it cold.
func (r *Runtime) runWarm(ctx context.Context, spec domain.RunSpec, began time.Time, log *zap.Logger) (res domain.RunResult, ok bool, err error) {
	key := poolKey(spec)
	var c *warmContainer
	var stale []*warmContainer
	if spec.Warm { // otherwise (network "internal" only) a container of its own
		c, stale = r.pool.take(key, spec.Owner, spec.FunctionID)
	}
	for _, s := range stale {
		log.Info("retiring warm containers of an earlier version of the function", zap.String("container_id", short(s.id)))
		r.removeWarmAsync(s, log)
	}
	for c != nil && c.dead() {
		log.Warn("idle warm container died; removing it", zap.String("container_id", short(c.id)))
		r.removeWarmAsync(c, log)
		c, _ = r.pool.take(key, spec.Owner, spec.FunctionID)
	}
	cold := c == nil
	if cold {
		c, res, err = r.startWarm(ctx, spec, key, began, log)
		if errors.Is(err, errNoCommand) {
			return domain.RunResult{}, false, nil
		}
		if err != nil || c == nil {
			res.ColdStart = true
			return res, true, err
		}
	}
	startup := time.Since(began)
	log = log.With(zap.String("container_id", short(c.id)), zap.Bool("cold_start", cold))
	res, keep, err := r.execWarm(ctx, c, spec, log)
	res.ColdStart, res.StartupDuration = cold, startup
	if keep && err == nil && spec.Warm {
		kept, evicted := r.pool.put(c, time.Now())
		for _, e := range evicted {
			r.removeWarmAsync(e, log)
		}
		if kept {
			return res, true, nil
		}
	}
	r.removeWarmAsync(c, log)
	return res, true, err
}

// startWarm creates and starts a warm container for spec: faas-init as its
// entrypoint with the image's entrypoint and cmd as arguments, the same
// hardening and limits as a cold container. A nil container with a nil
// error is a run that ended before it started (cancelled while queued).
func (r *Runtime) startWarm(ctx context.Context, spec domain.RunSpec, key string, began time.Time, log *zap.Logger) (*warmContainer, domain.RunResult, error) {
	setupCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.SetupTimeout)
	defer cancel()
	argv, err := r.imageCommand(setupCtx, spec.Image)
	if err != nil {
		return nil, domain.RunResult{}, err
	}
	create := spec
	create.Env = map[string]string{}
	for k, v := range spec.Env {
		if !domain.PerExecutionEnv(k) {
			create.Env[k] = v
		}
	}
	cfg, hostCfg, err := r.containerConfig(ctx, create)
	if err != nil {
		return nil, domain.RunResult{}, err
	}
	cfg.Entrypoint = strslice.StrSlice(initArgs(hostCfg.Tmpfs, argv))
	cfg.Cmd = nil
	cfg.StdinOnce = false
	delete(cfg.Labels, LabelExecutionID)
	cfg.Labels[LabelWarm] = "true"
	cfg.Labels[LabelOwner] = spec.Owner
	cfg.Labels[LabelPoolKey] = key
	pids := *hostCfg.PidsLimit + initThreads
	hostCfg.PidsLimit = &pids
	hostCfg.Mounts = append(hostCfg.Mounts, mount.Mount{
		Type: mount.TypeBind, Source: r.opts.InitPath, Target: InitMountPath, ReadOnly: true,
	})
	if spec.Network == domain.NetworkInternal {
		// The objects service, and nothing else, behind the container's
		// own loopback (its network stays "none").
		hostCfg.Mounts = append(hostCfg.Mounts, mount.Mount{
			Type: mount.TypeBind, Source: r.opts.ObjectsSocketDir, Target: ObjectsMountPath, ReadOnly: true,
		})
		cfg.Entrypoint = append(strslice.StrSlice{cfg.Entrypoint[0], "--forward",
			fmt.Sprintf("127.0.0.1:%d=%s/%s", domain.InternalAPIPort, ObjectsMountPath, ObjectsSocketName)}, cfg.Entrypoint[1:]...)
	}

	release, ok := r.acquireStart(ctx)
	if !ok {
		return nil, domain.RunResult{Cancelled: true, StartupDuration: time.Since(began)}, nil
	}
	defer release()
	created, err := r.cli.ContainerCreate(setupCtx, cfg, hostCfg, nil, nil, "")
	if err != nil {
		return nil, domain.RunResult{}, r.createError(setupCtx, spec.Image, err)
	}
	c := &warmContainer{id: created.ID, key: key, owner: spec.Owner, functionID: spec.FunctionID, gone: make(chan struct{})}
	fail := func(err error) (*warmContainer, domain.RunResult, error) {
		r.removeWarmAsync(c, log)
		return nil, domain.RunResult{}, err
	}
	c.hj, err = r.cli.ContainerAttach(setupCtx, created.ID, container.AttachOptions{
		Stream: true, Stdin: true, Stdout: true, Stderr: true,
	})
	if err != nil {
		return fail(fmt.Errorf("attach warm container: %w", err))
	}
	pr, pw := io.Pipe()
	c.frames = bufio.NewReaderSize(pr, 64<<10)
	initLog := log.With(zap.String("container_id", short(created.ID)))
	go func() {
		defer close(c.gone)
		_, err := stdcopy.StdCopy(pw, &lineLogger{log: initLog}, c.hj.Reader)
		pw.CloseWithError(errors.Join(err, io.EOF))
	}()
	if err := r.cli.ContainerStart(setupCtx, created.ID, container.StartOptions{}); err != nil {
		return fail(fmt.Errorf("start warm container: %w", err))
	}
	hello := make(chan error, 1)
	go func() {
		var h initproto.Hello
		err := initproto.ReadHeader(c.frames, &h)
		if err == nil && !h.Ready {
			err = errors.New("init not ready")
		}
		hello <- err
	}()
	select {
	case err := <-hello:
		if err != nil {
			return fail(fmt.Errorf("warm container init: %w", err))
		}
	case <-setupCtx.Done():
		return fail(fmt.Errorf("warm container init: no answer within %s", r.opts.SetupTimeout))
	}
	log.Debug("warm container started", zap.String("container_id", short(created.ID)), zap.Duration("took", time.Since(began)))
	return c, domain.RunResult{}, nil
}

// initArgs is faas-init's command line: each writable tmpfs to empty
// after every execution, then the image's command.
func initArgs(tmpfs map[string]string, argv []string) []string {
	dirs := make([]string, 0, len(tmpfs))
	for d := range tmpfs {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	args := []string{InitMountPath}
	for _, d := range dirs {
		args = append(args, "--clean", d)
	}
	return append(append(args, "--"), argv...)
}

// imageCommand is the image's entrypoint followed by its cmd.
func (r *Runtime) imageCommand(ctx context.Context, img string) ([]string, error) {
	info, err := r.cli.ImageInspect(ctx, img)
	if err != nil {
		if client.IsErrNotFound(err) {
			return nil, fmt.Errorf("inspect image: %w", domain.Errorf(domain.ErrImageNotFound, "image %q is not available", img))
		}
		return nil, fmt.Errorf("inspect image %s: %w", img, err)
	}
	if info.Config == nil {
		return nil, errNoCommand
	}
	argv := append(append([]string(nil), info.Config.Entrypoint...), info.Config.Cmd...)
	if len(argv) == 0 {
		return nil, errNoCommand
	}
	return argv, nil
}

// warmAnswer is init's answer to one request, or why there is none.
type warmAnswer struct {
	resp           initproto.Response
	stdout, stderr []byte
	err            error
}

// execWarm runs one execution in c. keep tells whether c may serve again:
// not after a cancel, an OOM, a kill by the worker, or processes that
// survived init's cleanup.
func (r *Runtime) execWarm(ctx context.Context, c *warmContainer, spec domain.RunSpec, log *zap.Logger) (res domain.RunResult, keep bool, _ error) {
	before := readCounters(readFile, cgroupRoot, c.id)
	resetPeak(cgroupRoot, c.id)
	started := time.Now()
	req := initproto.Request{Env: envList(spec.Env), TimeoutMillis: spec.Timeout.Milliseconds(), InputLen: len(spec.Input)}
	if spec.Timeout > 0 && req.TimeoutMillis == 0 {
		req.TimeoutMillis = 1
	}
	if err := initproto.WriteFrame(c.hj.Conn, req, spec.Input); err != nil {
		return res, false, fmt.Errorf("send execution to warm container %s: %w", short(c.id), err)
	}
	answer := make(chan warmAnswer, 1)
	go func() {
		var a warmAnswer
		if a.err = initproto.ReadHeader(c.frames, &a.resp); a.err == nil {
			if a.stdout, a.err = initproto.ReadSection(c.frames, a.resp.StdoutLen, domain.MaxOutputBytes); a.err == nil {
				a.stderr, a.err = initproto.ReadSection(c.frames, a.resp.StderrLen, domain.MaxLogBytes)
			}
		}
		answer <- a
	}()
	var backstop <-chan time.Time
	if spec.Timeout > 0 {
		t := time.NewTimer(spec.Timeout + warmKillGrace)
		defer t.Stop()
		backstop = t.C
	}

	var a warmAnswer
	select {
	case a = <-answer:
	case <-ctx.Done():
		r.kill(c.id, log)
		res.Cancelled, res.RunDuration = true, time.Since(started)
		return res, false, nil
	case <-backstop:
		log.Error("warm container did not answer after the timeout; killing it", zap.Duration("timeout", spec.Timeout))
		r.kill(c.id, log)
		res.TimedOut, res.ExitCode, res.RunDuration = true, oomExitCode, time.Since(started)
		return res, false, nil
	}
	res.RunDuration = time.Since(started)
	if a.err != nil {
		// init is gone: the kernel's OOM killer took it, or the container
		// died.
		r.kill(c.id, log)
		if r.oomKilled(c.id, log) || readCounters(readFile, cgroupRoot, c.id).oomKills > before.oomKills {
			res.OOMKilled, res.ExitCode = true, oomExitCode
			return res, false, nil
		}
		return res, false, fmt.Errorf("warm container %s ended during the execution: %w", short(c.id), a.err)
	}
	after := readCounters(readFile, cgroupRoot, c.id)
	if before.ok && after.ok {
		res.CPUSeconds = max(0, after.CPUSeconds-before.CPUSeconds)
		res.MaxMemoryBytes = after.MaxMemoryBytes
	}
	res.ExitCode = a.resp.ExitCode
	res.Stdout, res.StdoutOverflow = a.stdout, a.resp.StdoutOverflow
	res.Stderr, res.StderrTruncated = a.stderr, a.resp.StderrTruncated
	res.TimedOut = a.resp.TimedOut
	if a.resp.RunNanos > 0 {
		res.RunDuration = time.Duration(a.resp.RunNanos)
	}
	keep = a.resp.Clean
	if a.resp.ExitCode == oomExitCode && after.oomKills > before.oomKills && !res.TimedOut {
		res.OOMKilled, keep = true, false
	}
	if !a.resp.Clean {
		log.Warn("a process of the execution survived SIGKILL; the warm container is replaced")
	}
	return res, keep, nil
}

// removeWarmAsync closes c's streams and removes it in the background;
// Close waits for it.
func (r *Runtime) removeWarmAsync(c *warmContainer, log *zap.Logger) {
	r.pending.Add(1)
	go func() {
		if c.hj.Conn != nil {
			c.hj.Close()
		}
		r.remove(c.id, log) // calls r.pending.Done
	}()
}

// Retire removes the idle warm containers of owner's function now (it was
// updated or deleted) and returns how many. Containers busy with an
// execution are never reused: their key names the old version.
func (r *Runtime) Retire(owner, functionID string) int {
	if !r.warmEnabled() {
		return 0
	}
	cs := r.pool.retire(owner, functionID)
	for _, c := range cs {
		r.removeWarmAsync(c, r.log.With(zap.String("function_id", functionID)))
	}
	return len(cs)
}

// IdleWarm is the number of idle warm containers.
func (r *Runtime) IdleWarm() int {
	if !r.warmEnabled() {
		return 0
	}
	return r.pool.size()
}

// janitor removes the warm containers idle for longer than the idle
// timeout until stop is closed; then it closes done.
func (r *Runtime) janitor(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	every := min(max(r.opts.WarmIdleTimeout/4, 10*time.Millisecond), 5*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			for _, c := range r.pool.expire(now) {
				r.log.Debug("warm container idle too long; removing", zap.String("container_id", short(c.id)),
					zap.String("function_id", c.functionID), zap.Duration("idle_timeout", r.opts.WarmIdleTimeout))
				r.removeWarmAsync(c, r.log)
			}
		}
	}
}

// acquireStart takes a slot of COLD_START_CONCURRENCY for one container
// creation and start; false when ctx ended first.
func (r *Runtime) acquireStart(ctx context.Context) (release func(), ok bool) {
	release = func() { <-r.starts }
	select {
	case r.starts <- struct{}{}:
		return release, true
	default:
	}
	r.waiting.Add(1)
	defer r.waiting.Add(-1)
	select {
	case r.starts <- struct{}{}:
		return release, true
	case <-ctx.Done():
		return nil, false
	}
}

// waitingStarts is how many container creations wait for a slot now.
func (r *Runtime) waitingStarts() int { return int(r.waiting.Load()) }

// lineLogger logs what init writes on its stderr (it should write nothing
// but its own failures).
type lineLogger struct{ log *zap.Logger }

func (l *lineLogger) Write(p []byte) (int, error) {
	l.log.Warn("faas-init", zap.ByteString("stderr", p[:min(len(p), 4096)]))
	return len(p), nil
}

// DefaultInitPath is faas-init beside the running executable, or "" when
// it is not there (warm containers are then off).
func DefaultInitPath() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	p := filepath.Join(filepath.Dir(exe), "faas-init")
	if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
		return p
	}
	return ""
}
