package platform

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/faasplatform/faas/auth"
	"github.com/faasplatform/faas/config"
	"github.com/faasplatform/faas/docker"
	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/metrics"
	"github.com/faasplatform/faas/natsstore"
	"github.com/faasplatform/faas/objects"
)

// startNATS starts the embedded server on cfg.NATSListen with its files
// under DATA_DIR/nats, unless NATS_URL names an external one. It returns the
// URL clients use and the server (nil when external).
func startNATS(cfg config.Config, log *zap.Logger) (string, *server.Server, error) {
	if cfg.NATSURL != "" {
		return cfg.NATSURL, nil, nil
	}
	host, portStr, err := net.SplitHostPort(cfg.NATSListen)
	if err != nil {
		return "", nil, fmt.Errorf("NATS_LISTEN %q: %w", cfg.NATSListen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return "", nil, fmt.Errorf("NATS_LISTEN %q: %w", cfg.NATSListen, err)
	}
	if port == 0 {
		port = -1 // any free port
	}
	creds, err := natsCredentials(cfg)
	if err != nil {
		return "", nil, err
	}
	srv, err := natsstore.StartEmbedded(natsstore.EmbeddedOptions{
		Host: host, Port: port, StoreDir: filepath.Join(cfg.DataDir, "nats"),
		ServerName: "faas-embedded", Logger: log, User: creds.User, Password: creds.Password,
	})
	if err != nil {
		return "", nil, fmt.Errorf("embedded nats (NATS_LISTEN=%s): %w", cfg.NATSListen, err)
	}
	return srv.ClientURL(), srv, nil
}

// embeddedNATSUser is the account of the embedded server when NATS_USER is
// unset; its password is generated once under DATA_DIR.
const embeddedNATSUser = "faas"

// natsCredentials are what this process gives NATS: NATS_USER and
// NATS_PASSWORD or NATS_CREDS when set; with the embedded server (no
// NATS_URL) otherwise the "faas" account and the password generated once
// into DATA_DIR/nats_password (0600), which `faas up`, its workers and a
// `faas plugin` or `faas worker` on the same DATA_DIR share. An external
// server without any of them is dialled anonymously.
func natsCredentials(cfg config.Config) (natsstore.Credentials, error) {
	c := natsstore.Credentials{User: cfg.NATSUser, Password: cfg.NATSPassword, CredsFile: cfg.NATSCreds, CAFile: cfg.NATSCA}
	if c.User != "" || c.CredsFile != "" || cfg.NATSURL != "" {
		return c, nil
	}
	pw, err := auth.LoadOrCreateNATSPassword(cfg.DataDir)
	if err != nil {
		return c, fmt.Errorf("embedded nats credentials: %w", err)
	}
	c.User, c.Password = embeddedNATSUser, pw
	return c, nil
}

// connectNATS dials url as name with this process's credentials.
func connectNATS(ctx context.Context, cfg config.Config, url, name string) (*nats.Conn, jetstream.JetStream, error) {
	creds, err := natsCredentials(cfg)
	if err != nil {
		return nil, nil, err
	}
	return natsstore.Connect(ctx, url, name, creds)
}

// clientURL is where a worker or the plugin finds NATS: NATS_URL, or the
// embedded server of `faas up` on NATS_LISTEN.
func clientURL(cfg config.Config) string {
	if cfg.NATSURL != "" {
		return cfg.NATSURL
	}
	host, port, _ := net.SplitHostPort(cfg.NATSListen)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "nats://" + net.JoinHostPort(host, port)
}

// secret is JWT_SECRET, or the one generated once under DATA_DIR.
func secret(cfg config.Config) ([]byte, error) {
	if cfg.JWTSecret != "" {
		return []byte(cfg.JWTSecret), nil
	}
	s, err := auth.LoadOrCreateSecret(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("JWT_SECRET unset and DATA_DIR secret unusable: %w", err)
	}
	return s, nil
}

// dockerCheck is the health check of the Docker daemon.
func dockerCheck(rt *docker.Runtime) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := rt.Ping(ctx); err != nil {
			return domain.Errorf(domain.ErrUnavailable, "docker daemon unreachable")
		}
		return nil
	}
}

// openCore connects to NATS and builds the Core. Its health checks NATS
// only: what the gateway and the plugin use (neither runs a container, and
// an APISIX container has no Docker socket); `faas up`, which runs workers,
// adds the docker check itself.
func openCore(ctx context.Context, cfg config.Config, url, name string, log *zap.Logger) (*Core, *docker.Runtime, error) {
	key, err := secret(cfg)
	if err != nil {
		return nil, nil, err
	}
	nc, js, err := connectNATS(ctx, cfg, url, name)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to nats: %w", err)
	}
	rt, err := docker.New(log.Named("docker"), docker.Options{})
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("docker client: %w", err)
	}
	core, err := NewCore(ctx, nc, js, CoreOptions{
		Secret: key, TokenTTL: cfg.TokenExpiration, Logger: log, Policy: cfg.RetryPolicy(),
		RateLimit: cfg.RateLimit, LoginRateLimit: cfg.LoginRateLimit, RateLimitWindow: cfg.RateLimitWindow,
		MaxWaitsPerUser: cfg.MaxWaitsPerUser,
		Limits:          cfg.FunctionLimits(), MaxFunctionsPerUser: cfg.UserMaxFunctions,
		Retention: cfg.ExecutionRetention, MaxBytes: cfg.NATSMaxBytes,
		ObjectLimits: objects.Limits{MaxObjectBytes: cfg.ObjectMaxBytes, FunctionQuota: cfg.FunctionObjectsQuota},
		Replicas:     cfg.NATSReplicas, SetupApply: cfg.NATSSetup,
	})
	if err != nil {
		nc.Close()
		_ = rt.Close()
		return nil, nil, err
	}
	if cfg.Metrics {
		if _, err := core.EnableMetrics(metrics.New()); err != nil {
			core.Close()
			nc.Close()
			_ = rt.Close()
			return nil, nil, err
		}
	}
	return core, rt, nil
}

// checkOptions are how a worker or the autoscaler binds to the NATS
// resources: it checks them against its own configuration (reporting what
// differs) and waits for the gateway, which owns the setup, to create them.
func checkOptions(cfg config.Config, log *zap.Logger) natsstore.SetupOptions {
	return natsstore.SetupOptions{MaxDeliver: cfg.RetryPolicy().MaxDeliveries(), Retention: cfg.ExecutionRetention,
		MaxBytes: cfg.NATSMaxBytes, Replicas: cfg.NATSReplicas, Mode: natsstore.SetupCheck, Logger: log.Named("setup")}
}

// runOnCore opens the core on the NATS at url (allowing coreStartTimeout
// for it), runs fn on it, and closes it when fn returns.
func runOnCore(ctx context.Context, cfg config.Config, url, name string, log *zap.Logger, fn func(*Core) error) error {
	startCtx, cancel := context.WithTimeout(ctx, coreStartTimeout)
	defer cancel()
	core, rt, err := openCore(startCtx, cfg, url, name, log)
	if err != nil {
		return err
	}
	defer closeCore(core, rt, log)
	return fn(core)
}

// coreStartTimeout bounds connecting to NATS and declaring its resources.
const coreStartTimeout = 30 * time.Second

// closeCore releases what openCore opened, logging what fails to close.
func closeCore(core *Core, rt *docker.Runtime, log *zap.Logger) {
	core.Close()
	if err := rt.Close(); err != nil {
		log.Warn("docker client close", zap.Error(err))
	}
	if err := core.NC.Drain(); err != nil {
		log.Warn("nats drain", zap.Error(err))
	}
}
