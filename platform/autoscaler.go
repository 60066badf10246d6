package platform

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/faasplatform/faas/autoscaler"
	"github.com/faasplatform/faas/config"
	"github.com/faasplatform/faas/docker"
	"github.com/faasplatform/faas/natsstore"
)

// drainRequestTimeout bounds a worker's answer to a drain request.
const drainRequestTimeout = 3 * time.Second

// Autoscaler is `faas autoscaler` (and the autoscaler inside `faas up`):
// the controller of autoscaler.Controller on the platform's NATS, with the
// backend AUTOSCALER_BACKEND names.
type Autoscaler struct {
	cfg config.Config
	log *zap.Logger
	// WorkerCommand builds a worker process's command (process backend);
	// nil runs this executable's `worker` subcommand.
	WorkerCommand func(id string, env []string) *exec.Cmd
	// Holder names this process in the autoscaler's lock (default: host
	// and pid).
	Holder string
	// WorkerImage overrides WORKER_IMAGE (docker backend; tests).
	WorkerImage string
	// Controller is set once Run has built it.
	Controller chan *autoscaler.Controller
}

// NewAutoscaler prepares an autoscaler; Run runs it.
func NewAutoscaler(cfg config.Config, log *zap.Logger) *Autoscaler {
	return &Autoscaler{cfg: cfg, log: log, Controller: make(chan *autoscaler.Controller, 1)}
}

// Run connects to NATS (NATS_URL, or the embedded server of `faas up` on
// NATS_LISTEN) and scales until ctx ends. Worker processes are drained on
// the way out; worker containers keep running, for the next autoscaler.
func (a *Autoscaler) Run(ctx context.Context) error {
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	url := clientURL(a.cfg)
	nc, js, err := connectNATS(startCtx, a.cfg, url, "faas-autoscaler")
	if err != nil {
		return fmt.Errorf("autoscaler: connect to nats: %w", err)
	}
	defer func() { _ = nc.Drain() }()
	b, err := natsstore.Setup(ctx, js, checkOptions(a.cfg, a.log))
	if err != nil {
		return fmt.Errorf("autoscaler: %w", err)
	}
	return a.run(ctx, nc, b, url)
}

// run scales on an open connection: `faas up` shares its own.
func (a *Autoscaler) run(ctx context.Context, nc *nats.Conn, b *natsstore.Buckets, natsURL string) error {
	instance, err := InstanceID(ctx, b)
	if err != nil {
		return fmt.Errorf("autoscaler: %w", err)
	}
	holder := a.Holder
	if holder == "" {
		host, _ := os.Hostname()
		holder = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), newWorkerID())
	}
	log := a.log
	creds, err := natsCredentials(a.cfg)
	if err != nil {
		return fmt.Errorf("autoscaler: %w", err)
	}
	key, err := workersExecutionKey(a.cfg)
	if err != nil {
		return fmt.Errorf("autoscaler: the workers' execution key: %w", err)
	}
	env := workerEnv(a.cfg, natsURL, creds, key)

	var backend autoscaler.Backend
	var stopBackend func()
	switch a.cfg.AutoscalerBackend {
	case "docker":
		image := a.cfg.WorkerImage
		if a.WorkerImage != "" {
			image = a.WorkerImage
		}
		hostDir := a.cfg.WorkerHostDir
		if hostDir != "" {
			if err := placeInit(hostDir); err != nil {
				// The workers then run every function cold and refuse
				// network "internal", saying so.
				log.Warn("faas-init not placed in WORKER_HOST_DIR: worker containers run cold", zap.Error(err))
			}
		}
		db, err := autoscaler.NewDockerBackend(autoscaler.DockerOptions{
			Instance: instance, Image: image, Env: env, Network: a.cfg.WorkerNetwork, DockerSocket: dockerSocket(),
			HostDir: hostDir, InitOff: InitPathOff,
		}, newWorkerID, log)
		if err != nil {
			return fmt.Errorf("autoscaler: %w", err)
		}
		backend = db
		stopBackend = func() {
			if err := db.Close(); err != nil {
				log.Warn("docker backend close", zap.Error(err))
			}
		}
	default:
		pool := autoscaler.NewPool(a.spawner(env), newWorkerID, log)
		backend = autoscaler.ProcessBackend{Pool: pool}
		stopBackend = func() {
			// Workers get their whole drain time (runs finish) before a kill.
			pctx, pcancel := context.WithTimeout(context.Background(), DrainTimeout+10*time.Second)
			defer pcancel()
			pool.Stop(pctx)
		}
	}
	defer stopBackend()

	cluster := &natsCluster{nc: nc, b: b, lock: natsstore.NewLock(b.Locks, natsstore.LockAutoscaler, holder),
		states: natsstore.NewAutoscalerStates(b.Locks), registry: natsstore.NewWorkerRegistry(b.Workers)}
	c := autoscaler.NewController(autoscaler.ControllerOptions{
		Policy: autoscaler.Policy{Min: a.cfg.MinWorkers, Max: a.cfg.MaxWorkers, Up: a.cfg.ScaleUpThreshold,
			Down: a.cfg.ScaleDownThreshold, Cooldown: a.cfg.CooldownPeriod},
		CheckInterval: a.cfg.CheckInterval,
		LockInterval:  min(a.cfg.CheckInterval, natsstore.LockTTL/4),
		Holder:        holder,
	}, backend, cluster, log)
	a.Controller <- c
	c.Run(ctx)
	return nil
}

// spawner starts `faas worker` children with env.
func (a *Autoscaler) spawner(env []string) autoscaler.Spawner {
	return func(id string) *exec.Cmd {
		env := append(append(os.Environ(), env...), "WORKER_ID="+id)
		if a.WorkerCommand != nil {
			return a.WorkerCommand(id, env)
		}
		self, err := os.Executable()
		if err != nil {
			self = os.Args[0]
		}
		cmd := exec.Command(self, "worker")
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		return cmd
	}
}

// workerEnv is what a worker started by the autoscaler is told: where NATS
// is and the settings of this process that workers read; a container gets
// these and the worker settings of this environment, nothing else. The
// NATS credentials go in the environment, never on a command line (which
// any local user can read).
func workerEnv(cfg config.Config, natsURL string, creds natsstore.Credentials, execKey []byte) []string {
	env := []string{
		"NATS_URL=" + natsURL,
		"MAX_CONCURRENT_EXECUTIONS=" + strconv.Itoa(cfg.MaxConcurrentExecutions),
		"MAX_RETRIES=" + strconv.Itoa(cfg.MaxRetries),
		"RETRY_DELAY=" + cfg.RetryDelay.String(),
		"LOG_LEVEL=" + cfg.LogLevel.String(),
		"WORKER_ADDRESS=" + cfg.WorkerAddress,
	}
	if creds.User != "" {
		env = append(env, "NATS_USER="+creds.User, "NATS_PASSWORD="+creds.Password)
	}
	if creds.CredsFile != "" {
		env = append(env, "NATS_CREDS="+creds.CredsFile)
	}
	if creds.CAFile != "" {
		env = append(env, "NATS_CA="+creds.CAFile)
	}
	if len(execKey) > 0 {
		env = append(env, "EXECUTION_KEY="+hex.EncodeToString(execKey))
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "FUNCTION_") || strings.HasPrefix(k, "WORKER_") && k != "WORKER_ID" && k != "WORKER_ADDRESS" ||
			k == "NATS_REPLICAS" || k == "WARM_IDLE_TIMEOUT" || k == "COLD_START_CONCURRENCY" {
			env = append(env, kv)
		}
	}
	return env
}

// InitPathOff is the FAAS_INIT_PATH that turns warm containers off: worker
// containers get it when no WORKER_HOST_DIR holds a faas-init of the host,
// since the one in their own image is no path the daemon can mount.
const InitPathOff = "off"

// placeInit copies the faas-init beside this executable into dir (a host
// directory mounted at the same path here and in the workers), replacing
// any older copy atomically, so that worker containers can bind-mount it
// into function containers from the host.
func placeInit(dir string) error {
	src := docker.DefaultInitPath()
	if src == "" {
		return errors.New("no faas-init beside this executable")
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("read faas-init: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("place faas-init: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".faas-init-*")
	if err != nil {
		return fmt.Errorf("place faas-init: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("place faas-init: %w", err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return fmt.Errorf("place faas-init: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("place faas-init: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, autoscaler.InitFileName)); err != nil {
		return fmt.Errorf("place faas-init: %w", err)
	}
	return nil
}

// dockerSocket is the daemon's unix socket on this host (DOCKER_HOST or the
// default), mounted into worker containers.
func dockerSocket() string {
	if h := os.Getenv("DOCKER_HOST"); strings.HasPrefix(h, "unix://") {
		if u, err := url.Parse(h); err == nil && u.Path != "" {
			return u.Path
		}
	}
	return "/var/run/docker.sock"
}

// natsCluster is autoscaler.Cluster on the platform's NATS.
type natsCluster struct {
	nc       *nats.Conn
	b        *natsstore.Buckets
	lock     *natsstore.Lock
	states   *natsstore.AutoscalerStates
	registry *natsstore.WorkerRegistry
}

func (n *natsCluster) Hold(ctx context.Context) (bool, error) {
	ok, err := n.lock.Hold(ctx)
	if err != nil {
		return false, fmt.Errorf("autoscaler lock: %w", err)
	}
	return ok, nil
}

func (n *natsCluster) Release(ctx context.Context) error {
	if err := n.lock.Release(ctx); err != nil {
		return fmt.Errorf("autoscaler lock: %w", err)
	}
	return nil
}

func (n *natsCluster) Pending(ctx context.Context) (int, error) {
	return natsstore.PendingJobs(ctx, n.b.Consumer)
}

func (n *natsCluster) Heartbeats(ctx context.Context) ([]autoscaler.Heartbeat, error) {
	ws, err := n.registry.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("heartbeats: %w", err)
	}
	out := make([]autoscaler.Heartbeat, len(ws))
	for i, w := range ws {
		out[i] = autoscaler.Heartbeat{ID: w.ID, Status: w.Status, Active: w.ActiveExecutions, Slots: w.MaxConcurrent}
	}
	return out, nil
}

func (n *natsCluster) Drain(ctx context.Context, id string) (bool, error) {
	body, _ := json.Marshal(natsstore.DrainRequest{IfIdle: true})
	rctx, cancel := context.WithTimeout(ctx, drainRequestTimeout)
	defer cancel()
	msg, err := n.nc.RequestWithContext(rctx, natsstore.DrainSubject(id), body)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return false, fmt.Errorf("drain worker %s: no answer (not listening yet, or gone): %w", id, err)
		}
		return false, fmt.Errorf("drain worker %s: %w", id, err)
	}
	var r natsstore.DrainReply
	if err := json.Unmarshal(msg.Data, &r); err != nil {
		return false, fmt.Errorf("drain worker %s: decode the answer: %w", id, err)
	}
	return r.Accepted, nil
}

func (n *natsCluster) Publish(ctx context.Context, s *autoscaler.State) error {
	if s == nil {
		return n.states.Delete(ctx)
	}
	st := natsstore.AutoscalerState{Holder: s.Holder, Backend: s.Backend, Desired: s.Desired, Updated: time.Now().UTC(),
		ScaleUps: s.ScaleUps, ScaleDowns: s.ScaleDowns}
	if s.LastScale != nil {
		st.LastScale = &natsstore.ScaleEvent{At: s.LastScale.At, From: s.LastScale.From, To: s.LastScale.To, Reason: s.LastScale.Reason}
	}
	return n.states.Put(ctx, st)
}

func (n *natsCluster) Published(ctx context.Context) (*autoscaler.State, error) {
	s, err := n.states.Get(ctx)
	if err != nil || s == nil {
		return nil, err
	}
	out := &autoscaler.State{Holder: s.Holder, Backend: s.Backend, Desired: s.Desired, ScaleUps: s.ScaleUps, ScaleDowns: s.ScaleDowns}
	if s.LastScale != nil {
		out.LastScale = &autoscaler.ScaleEvent{At: s.LastScale.At, From: s.LastScale.From, To: s.LastScale.To, Reason: s.LastScale.Reason}
	}
	return out, nil
}
