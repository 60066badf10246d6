package platform

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"time"

	"go.uber.org/zap"

	"github.com/faasplatform/faas/autoscaler"
	"github.com/faasplatform/faas/config"
	"github.com/faasplatform/faas/gateway"
)

// ShutdownTimeout bounds the gateway's stop: longer than the longest
// request (a ?wait=true of up to 50 s), so in-flight requests finish.
const ShutdownTimeout = 60 * time.Second

// Up is the whole platform in one process tree: embedded NATS (unless
// NATS_URL), the standalone gateway and MIN_WORKERS worker processes.
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

	gw := gateway.New(u.cfg.ServerAddress, core.Handler(), u.log.Named("gateway"))
	addr, err := gw.Start()
	if err != nil {
		return fmt.Errorf("gateway (SERVER_ADDRESS=%s): %w", u.cfg.ServerAddress, err)
	}

	pool := autoscaler.NewPool(u.spawner(url), newWorkerID, u.log)
	if err := pool.Scale(u.cfg.MinWorkers); err != nil {
		u.stop(gw, pool)
		return fmt.Errorf("start workers: %w", err)
	}

	u.log.Info("platform up", zap.String("address", addr.String()), zap.String("nats", url), zap.Int("workers", pool.Size()))
	fmt.Fprintf(u.out, "faas is up: API on http://%s/api/v1 (NATS %s, %d workers)\n", displayAddr(addr), url, pool.Size())
	fmt.Fprintf(u.out, "try: curl http://%s/api/v1/health\n", displayAddr(addr))
	u.ready <- addr

	var runErr error
	select {
	case <-ctx.Done():
		u.log.Info("stopping")
	case err := <-gw.Done():
		runErr = fmt.Errorf("gateway stopped: %w", err)
	}
	u.stop(gw, pool)
	return runErr
}

func (u *Up) stop(gw *gateway.Server, pool *autoscaler.Pool) {
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := gw.Shutdown(ctx); err != nil {
		u.log.Warn("gateway shutdown", zap.Error(err))
	}
	// Workers get their whole drain time (runs finish) before a kill.
	pctx, pcancel := context.WithTimeout(context.Background(), DrainTimeout+10*time.Second)
	defer pcancel()
	pool.Stop(pctx)
}

// spawner starts `faas worker` children that find NATS at url.
func (u *Up) spawner(url string) autoscaler.Spawner {
	return func(id string) *exec.Cmd {
		env := append(os.Environ(), "NATS_URL="+url, "WORKER_ID="+id)
		if u.WorkerCommand != nil {
			return u.WorkerCommand(id, env)
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
