package platform

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os/exec"
	"time"

	"go.uber.org/zap"

	"github.com/faasplatform/faas/config"
	"github.com/faasplatform/faas/gateway"
)

// ShutdownTimeout bounds the gateway's stop: longer than the longest
// request (a ?wait=true of up to 50 s), so in-flight requests finish.
const ShutdownTimeout = 60 * time.Second

// Up is the whole platform in one process tree: embedded NATS (unless
// NATS_URL), the standalone gateway and the autoscaler with its worker
// processes (MIN_WORKERS to MAX_WORKERS).
type Up struct {
	cfg config.Config
	log *zap.Logger
	out io.Writer
	// WorkerCommand builds a worker's command; nil runs this executable's
	// `worker` subcommand.
	WorkerCommand func(id string, env []string) *exec.Cmd

	ready chan net.Addr
}

// NewUp prepares the platform; Run starts it. out receives the human line
// saying where it listens and what to try first.
func NewUp(cfg config.Config, log *zap.Logger, out io.Writer) *Up {
	return &Up{cfg: cfg, log: log, out: out, ready: make(chan net.Addr, 1)}
}

// Ready yields the gateway's address once it listens.
func (u *Up) Ready() <-chan net.Addr { return u.ready }

// Run starts everything and blocks until ctx ends, then stops cleanly:
// in-flight requests finish, workers drain, NATS data is flushed.
func (u *Up) Run(ctx context.Context) error {
	url, srv, err := startNATS(u.cfg, u.log)
	if err != nil {
		return err
	}
	if srv != nil {
		u.log.Info("embedded nats listening", zap.String("url", url), zap.String("store_dir", srv.StoreDir()))
		defer func() {
			srv.Shutdown() // flushes JetStream to disk
			srv.WaitForShutdown()
			u.log.Info("embedded nats stopped")
		}()
	}

	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	core, rt, err := openCore(startCtx, u.cfg, url, "faas-gateway", u.log)
	if err != nil {
		return err
	}
	defer closeCore(core, rt, u.log)
	// The workers of `faas up` run on this host's Docker: its health says so.
	core.Deps.Health["docker"] = dockerCheck(rt)

	gw := gateway.New(u.cfg.ServerAddress, core.Handler(), u.log.Named("gateway"))
	addr, err := gw.Start()
	if err != nil {
		return fmt.Errorf("gateway (SERVER_ADDRESS=%s): %w", u.cfg.ServerAddress, err)
	}

	// The autoscaler runs in this process, on worker processes: it starts
	// MIN_WORKERS at once and resizes the pool on the backlog.
	as := NewAutoscaler(u.cfg, u.log)
	as.WorkerCommand = u.WorkerCommand
	as.cfg.AutoscalerBackend = "process"
	asCtx, stopAutoscaler := context.WithCancel(context.Background())
	asDone := make(chan error, 1)
	go func() { asDone <- as.run(asCtx, core.NC, core.Buckets, url) }()
	stopAll := func() {
		stopGateway(gw, u.log)
		stopAutoscaler() // drains the workers: their runs finish
		if err := <-asDone; err != nil {
			u.log.Warn("autoscaler", zap.Error(err))
		}
	}

	u.log.Info("platform up", zap.String("address", addr.String()), zap.String("nats", url),
		zap.Int("min_workers", u.cfg.MinWorkers), zap.Int("max_workers", u.cfg.MaxWorkers))
	fmt.Fprintf(u.out, "faas is up: API on http://%s/api/v1 (NATS %s, %d to %d workers, autoscaled)\n",
		displayAddr(addr), url, u.cfg.MinWorkers, u.cfg.MaxWorkers)
	fmt.Fprintf(u.out, "try: curl http://%s/api/v1/health\n", displayAddr(addr))
	u.ready <- addr

	var runErr error
	select {
	case <-ctx.Done():
		u.log.Info("stopping")
	case err := <-gw.Done():
		runErr = fmt.Errorf("gateway stopped: %w", err)
	case err := <-asDone:
		asDone <- err
		runErr = fmt.Errorf("autoscaler stopped: %w", err)
	}
	stopAll()
	return runErr
}

func newWorkerID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "w-" + hex.EncodeToString(b)
}

// displayAddr turns ":8080" into "localhost:8080" for the human line.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
