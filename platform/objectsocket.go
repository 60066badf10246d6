package platform

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/faasplatform/faas/auth"
	"github.com/faasplatform/faas/config"
	"github.com/faasplatform/faas/docker"
	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/natsstore"
	"github.com/faasplatform/faas/objects"
	"github.com/faasplatform/faas/worker"
)

// noUsers refuses every user token: inside a function only its execution
// token (FAAS_TOKEN) opens its objects.
type noUsers struct{}

func (noUsers) Authenticate(context.Context, string) (*domain.User, error) {
	return nil, domain.Errorf(domain.ErrUnauthorized, "only an execution token is accepted here")
}

var _ objects.Users = noUsers{}

// objectsMux serves the objects routes (and nothing else) with the standard
// ServeMux, whose patterns and PathValue the routes are written for.
func objectsMux(h *objects.Handler) http.Handler {
	mux := http.NewServeMux()
	for _, rt := range h.Routes() {
		mux.Handle(rt.Method+" "+rt.Pattern, rt.Handler)
	}
	return mux
}

// objectsSocket is the objects service a worker serves on a unix socket for
// its functions with network "internal". The socket's directory is
// bind-mounted read-only into each such container, where faas-init forwards
// the container's own 127.0.0.1:9080 to it: the container keeps network
// "none" (only its loopback), so it reaches this service and nothing else,
// not NATS, not the gateway, not another container, not the outside. It
// accepts execution tokens only, and the objects service refuses the token
// of an execution that has ended.
type objectsSocket struct {
	dir string
	srv *http.Server
	log *zap.Logger
}

// startObjectsSocket serves h on a new socket in a new directory under
// parent ("": the system's temporary directory). The directory is 0755 and
// the socket 0666, so that the container's non-root user can connect.
func startObjectsSocket(parent string, h http.Handler, log *zap.Logger) (*objectsSocket, error) {
	dir, err := os.MkdirTemp(parent, "faas-objects-")
	if err != nil {
		return nil, fmt.Errorf("objects socket: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("objects socket: %w", err)
	}
	path := filepath.Join(dir, docker.ObjectsSocketName)
	ln, err := net.Listen("unix", path)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("objects socket: %w", err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		_ = ln.Close()
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("objects socket: %w", err)
	}
	s := &objectsSocket{dir: dir, log: log,
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("objects socket stopped", zap.Error(err))
		}
	}()
	return s, nil
}

// Dir is the directory to mount into the containers.
func (s *objectsSocket) Dir() string { return s.dir }

// Close stops serving (letting requests in flight finish until ctx ends)
// and removes the socket's directory.
func (s *objectsSocket) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if rerr := os.RemoveAll(s.dir); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// workerObjects is the objects service of a worker: its stores on the
// worker's NATS, execution tokens of key, and no user tokens.
func workerObjects(store objects.Store, fns objects.Functions, execs objects.Executions, key []byte,
	limits objects.Limits, log *zap.Logger) *objects.Handler {
	return objects.New(objects.Deps{Store: store, Functions: fns, Users: noUsers{}, Executions: execs,
		Tokens: auth.NewExecutionTokensWithKey(key), Limits: objectLimits(limits)}, log)
}

// executionKey is the key a worker signs FAAS_TOKEN with: EXECUTION_KEY, or
// the one derived from JWT_SECRET; nil when neither is set (network
// "internal" is then unavailable on that worker, and says so).
func executionKey(cfg config.Config) []byte {
	if cfg.ExecutionKey != "" {
		k, err := hex.DecodeString(cfg.ExecutionKey) // config checked it
		if err == nil {
			return k
		}
	}
	if cfg.JWTSecret != "" {
		return auth.ExecutionKey([]byte(cfg.JWTSecret))
	}
	return nil
}

// workersExecutionKey is the EXECUTION_KEY the autoscaler hands its workers:
// this process's own (EXECUTION_KEY or from JWT_SECRET), else the one derived
// from the JWT secret kept under DATA_DIR (`faas up`, whose gateway made it;
// never created here). Workers get this key, never the JWT secret. nil
// when there is none: the workers then refuse network "internal".
func workersExecutionKey(cfg config.Config) ([]byte, error) {
	if k := executionKey(cfg); k != nil {
		return k, nil
	}
	s, err := auth.LoadSecret(cfg.DataDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return auth.ExecutionKey(s), nil
}

// startWorkerObjects starts a worker's objects socket when it has an
// execution key and a directory for it, and returns it with the token
// issuer for the worker; both nil otherwise (network "internal" then fails,
// saying why). Only a failure to reach NATS is an error.
func startWorkerObjects(ctx context.Context, cfg config.Config, js jetstream.JetStream, b *natsstore.Buckets,
	execs *natsstore.ExecutionStore, log *zap.Logger) (*objectsSocket, worker.TokenIssuer, error) {
	key := executionKey(cfg)
	if key == nil {
		log.Info(`no EXECUTION_KEY or JWT_SECRET: functions with network "internal" cannot run on this worker`)
		return nil, nil, nil
	}
	store, err := natsstore.NewObjects(ctx, js)
	if err != nil {
		return nil, nil, fmt.Errorf("objects socket: %w", err)
	}
	h := workerObjects(store, natsstore.NewFunctionStore(b.Functions), execs, key,
		objects.Limits{MaxObjectBytes: cfg.ObjectMaxBytes, FunctionQuota: cfg.FunctionObjectsQuota}, log.Named("objects"))
	sock, err := startObjectsSocket(cfg.WorkerSocketDir, objectsMux(h), log)
	if err != nil {
		// A worker in a container FROM scratch has no temp dir, and its
		// socket would not be a host path anyway: it runs functions with
		// network "none" only, saying so, rather than not at all.
		log.Warn(`no objects socket: functions with network "internal" cannot run on this worker (set WORKER_SOCKET_DIR to a host path)`, zap.Error(err))
		return nil, nil, nil
	}
	return sock, auth.NewExecutionTokensWithKey(key), nil
}
