package platform

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/faasplatform/faas/config"
	"github.com/faasplatform/faas/docker"
	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/natsstore"
	"github.com/faasplatform/faas/service"
	"github.com/faasplatform/faas/worker"
)

// Worker timings.
const (
	HeartbeatInterval = 5 * time.Second
	// DrainTimeout is how long a stopping worker lets its runs finish
	// before killing them (they are then redelivered to another worker).
	DrainTimeout = 60 * time.Second
)

// RunWorker is `faas worker`: it pulls jobs from the shared consumer and runs
// up to MAX_CONCURRENT_EXECUTIONS at once in containers, with its fasthttp
// sidecar on WORKER_ADDRESS, until ctx ends; then it drains.
func RunWorker(ctx context.Context, cfg config.Config, log *zap.Logger) error {
	id := cfg.WorkerID
	if id == "" {
		id = newWorkerID()
	}
	// Components that log per execution add worker_id themselves (the
	// worker, its sidecar, the runtime); the rest use log.
	base := log
	log = log.With(zap.String("worker_id", id))

	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	nc, js, err := connectNATS(startCtx, cfg, clientURL(cfg), "faas-worker-"+id)
	if err != nil {
		return fmt.Errorf("worker: connect to nats: %w", err)
	}
	defer func() { _ = nc.Drain() }()
	policy := cfg.RetryPolicy()
	// The gateway owns the setup; a worker started first waits for it as
	// long as it runs, not only startCtx.
	b, err := natsstore.Setup(ctx, js, checkOptions(cfg, log))
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	registry := natsstore.NewWorkerRegistry(b.Workers)

	instance, err := InstanceID(startCtx, b)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	initPath := cfg.InitPath
	switch initPath {
	case "":
		initPath = docker.DefaultInitPath()
	case InitPathOff:
		initPath = ""
	}
	execs := natsstore.NewExecutionStore(b.Executions, b.ExecutionIndex, b.ExecutionData).WithLogger(log)
	sock, tokens, err := startWorkerObjects(startCtx, cfg, js, b, execs, log)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	socketDir := ""
	if sock != nil {
		socketDir = sock.Dir()
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := sock.Close(ctx); err != nil {
				log.Warn("objects socket close", zap.Error(err))
			}
		}()
	}
	rt, err := docker.New(base.Named("docker"), docker.Options{
		Instance: instance, User: cfg.FunctionUser, ObjectsSocketDir: socketDir,
		InitPath: initPath, WarmIdleTimeout: cfg.WarmIdleTimeout, ColdStartConcurrency: cfg.ColdStartConcurrency,
	})
	if err != nil {
		return fmt.Errorf("worker: docker client: %w", err)
	}
	defer func() {
		if err := rt.Close(); err != nil {
			log.Warn("docker close", zap.Error(err))
		}
	}()
	if err := rt.Ping(startCtx); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	if initPath == "" {
		log.Warn("faas-init not found beside the faas executable (FAAS_INIT_PATH unset): warm containers are off, every execution starts a container")
	}
	if err := removeOrphans(startCtx, rt, registry, id, 0, log); err != nil {
		log.Warn("removing orphan containers failed", zap.Error(err))
	}

	queue := natsstore.NewQueue(js)
	results, reg := workerResults(cfg.Metrics, queue)
	sweeper := NewSweeper(b, js, service.SweeperOptions{Policy: policy}, "faas-worker-"+id, base.Named("sweeper").With(zap.String("worker_id", id)))
	functions := natsstore.NewFunctionStore(b.Functions)
	w := worker.New(worker.Options{ID: id, MaxConcurrent: cfg.MaxConcurrentExecutions, Policy: policy, MemoryMB: cfg.WorkerMemoryMB}, worker.Deps{
		Functions: functions,
		Execs:     execs,
		Leases:    natsstore.NewLeaseStore(b.Active),
		Runtime:   rt,
		Reaper:    rt,
		Reclaimer: sweeper,
		Results:   results,
		Tokens:    tokens,
	}, base)
	side := worker.NewSidecar(w, base)
	if reg != nil {
		side.ServeMetrics(reg.Handler())
	}
	addr, err := side.Listen(cfg.WorkerAddress)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	log.Info("worker up", zap.String("sidecar", addr.String()), zap.Int("max_concurrent", w.MaxConcurrent()))

	// A drain (the autoscaler retiring the worker) ends fetching too, but
	// lets the runs finish however long they take: the worker exits idle.
	drainSub, err := nc.Subscribe(natsstore.DrainSubject(id), func(m *nats.Msg) {
		var req natsstore.DrainRequest
		if len(m.Data) > 0 {
			if err := json.Unmarshal(m.Data, &req); err != nil {
				log.Warn("malformed drain request", zap.Error(err))
				return
			}
		}
		r := side.Drain(req.IfIdle)
		body, _ := json.Marshal(natsstore.DrainReply{Accepted: r.Accepted, Status: r.Status, Active: r.Active})
		if err := m.Respond(body); err != nil {
			log.Warn("answering a drain request failed", zap.Error(err))
		}
	})
	if err != nil {
		return fmt.Errorf("worker: subscribe to drain requests: %w", err)
	}
	defer func() { _ = drainSub.Unsubscribe() }()

	beatCtx, stopBeat := context.WithCancel(context.Background())
	beatDone := make(chan struct{})
	go func() {
		defer close(beatDone)
		side.Heartbeat(beatCtx, HeartbeatInterval, func(ctx context.Context, i worker.Info) error {
			return registry.Put(ctx, natsstore.WorkerInfo{ID: i.ID, Address: i.Address, Status: i.Status,
				ActiveExecutions: i.ActiveExecutions, MaxConcurrent: i.MaxConcurrent, LastHeartbeat: i.LastHeartbeat})
		})
	}()

	// Supervision: the containers of dead workers are reaped continuously,
	// and the sweeper (one process at a time, by its lock) takes back the
	// executions of dead workers, so no container runs unwatched for long
	// and nothing stays running with its worker gone.
	superviseCtx, stopSupervise := context.WithCancel(context.Background())
	superviseDone := make(chan struct{})
	go func() {
		defer close(superviseDone)
		supervise(superviseCtx, rt, registry, id, log)
	}()
	sweepDone := make(chan struct{})
	go func() {
		defer close(sweepDone)
		sweeper.Run(superviseCtx)
	}()
	// A function updated or deleted gives up its idle warm containers at
	// once (they would never serve again: their key names the old
	// version), rather than at WARM_IDLE_TIMEOUT.
	retireDone := make(chan struct{})
	go func() {
		defer close(retireDone)
		retireOnChange(superviseCtx, functions, rt, log)
	}()
	defer func() {
		stopSupervise()
		<-superviseDone
		<-sweepDone
		<-retireDone
	}()

	// Runs outlive the fetch loop: on stop, fetching ends at once and the
	// runs get DrainTimeout to finish.
	runCtx, killRuns := context.WithCancel(context.WithoutCancel(ctx))
	defer killRuns()
	go func() {
		select {
		case <-ctx.Done():
		case <-runCtx.Done():
			return
		}
		side.SetDraining()
		log.Info("worker draining", zap.Int("active", len(w.Active())))
		select {
		case <-time.After(DrainTimeout):
			log.Warn("drain timeout; killing the remaining runs")
			killRuns()
		case <-runCtx.Done():
		}
	}()
	consumeErr := natsstore.NewConsumer(js, log).ConsumeUntil(ctx, side.Drained(), w.MaxConcurrent(), func(d domain.Delivery) {
		w.Handle(runCtx, d)
	})
	select {
	case <-side.Drained():
		if ctx.Err() == nil {
			log.Info("worker drained: idle, exiting")
		}
	default:
	}
	killRuns()

	stopBeat()
	<-beatDone
	dctx, cancelDel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelDel()
	if err := registry.Delete(dctx, id); err != nil {
		log.Warn("deregistering worker", zap.Error(err))
	}
	if err := side.Shutdown(dctx); err != nil {
		log.Warn("sidecar shutdown", zap.Error(err))
	}
	log.Info("worker stopped")
	if consumeErr != nil {
		return fmt.Errorf("worker: %w", consumeErr)
	}
	return nil
}

// supervise removes the containers of dead workers every SweepInterval.
func supervise(ctx context.Context, rt *docker.Runtime, reg *natsstore.WorkerRegistry, self string, log *zap.Logger) {
	t := time.NewTicker(domain.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := removeOrphans(ctx, rt, reg, self, docker.OrphanMinAge, log); err != nil && ctx.Err() == nil {
			log.Warn("removing orphan containers failed", zap.Error(err))
		}
	}
}

// removeOrphans removes containers left by workers that no longer beat.
func removeOrphans(ctx context.Context, rt *docker.Runtime, reg *natsstore.WorkerRegistry, self string, minAge time.Duration, log *zap.Logger) error {
	live, err := reg.List(ctx)
	if err != nil {
		return fmt.Errorf("list live workers: %w", err)
	}
	alive := map[string]bool{self: true}
	for _, w := range live {
		alive[w.ID] = true
	}
	n, err := rt.RemoveOrphans(ctx, func(id string) bool { return alive[id] }, minAge)
	if n > 0 {
		log.Info("removed containers of dead workers", zap.Int("count", n))
	}
	return err
}

// InstanceID names this platform on the Docker daemon: the creation time of
// its EXECUTIONS stream, the same for every worker of one NATS store and
// stable across restarts, different for two platforms (or two tests).
func InstanceID(ctx context.Context, b *natsstore.Buckets) (string, error) {
	info, err := b.Stream.Info(ctx)
	if err != nil {
		return "", fmt.Errorf("stream info: %w", err)
	}
	return "p" + strconv.FormatInt(info.Created.UnixNano(), 36), nil
}

// retireOnChange removes the idle warm containers of every function that
// is updated or deleted, until ctx ends; a watch that fails is started
// again after a pause.
func retireOnChange(ctx context.Context, functions *natsstore.FunctionStore, rt domain.WarmRetirer, log *zap.Logger) {
	for ctx.Err() == nil {
		err := functions.WatchChanges(ctx, func(owner, id string) {
			if n := rt.Retire(owner, id); n > 0 {
				log.Info("function changed; warm containers retired", zap.String("function_id", id), zap.Int("containers", n))
			}
		})
		if err != nil {
			log.Warn("watching function changes failed; warm containers of changed functions wait for their idle timeout", zap.Error(err))
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Second):
			}
		}
	}
}
