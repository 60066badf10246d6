// Package platform assembles the parts into the processes of contract §1:
// `faas up` (embedded NATS, standalone gateway, worker pool), `faas worker`
// and `faas plugin`. It is the only place that knows every adapter; the
// mains stay thin (configure → assemble → run → wait).
package platform

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/faasplatform/faas/api"
	"github.com/faasplatform/faas/auth"
	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/natsstore"
	"github.com/faasplatform/faas/objects"
	"github.com/faasplatform/faas/ratelimit"
	"github.com/faasplatform/faas/service"
)

// NewLogger returns the platform's structured logger at level on stderr:
// JSON, or human-readable when format is "console" (LOG_FORMAT).
func NewLogger(level zapcore.Level, format string) (*zap.Logger, error) {
	cfg := zap.NewProductionConfig()
	if format == "console" {
		cfg.Encoding = "console"
	}
	cfg.Level = zap.NewAtomicLevelAt(level)
	cfg.EncoderConfig.TimeKey = "ts"
	cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	cfg.Sampling = nil
	l, err := cfg.Build()
	if err != nil {
		return nil, fmt.Errorf("build logger: %w", err)
	}
	return l, nil
}

// CoreOptions tune NewCore.
type CoreOptions struct {
	Secret     []byte
	TokenTTL   time.Duration
	BcryptCost int // 0: bcrypt's default cost
	// Health checks beyond "nats" (e.g. "docker").
	Health map[string]func(context.Context) error
	Logger *zap.Logger
	// Policy is the retry policy (MAX_RETRIES, RETRY_DELAY); zero means
	// the contract's defaults.
	Policy domain.RetryPolicy
	// Sweeper tunes the sweeper the core runs (tests shorten its times).
	Sweeper service.SweeperOptions
	// Holder names this process in the sweeper's lock.
	Holder string
	// RateLimit requests per RateLimitWindow per user (per client address
	// before login) and LoginRateLimit failed logins per username and per
	// address; 0 turns each off.
	RateLimit, LoginRateLimit int
	RateLimitWindow           time.Duration
	// MaxWaitsPerUser caps each user's open ?wait=true requests; 0: none.
	MaxWaitsPerUser int
	// Limits are the operator's caps on functions (FUNCTION_*).
	Limits domain.FunctionLimits
	// MaxFunctionsPerUser is USER_MAX_FUNCTIONS; 0: no cap.
	MaxFunctionsPerUser int
	// Retention is EXECUTION_RETENTION (0: domain.DefaultRetention);
	// MaxBytes is NATS_MAX_BYTES (0: no cap).
	Retention time.Duration
	MaxBytes  int64
	// ObjectLimits are OBJECT_MAX_BYTES and FUNCTION_OBJECTS_QUOTA; a zero
	// field means its default (objects.DefaultLimits).
	ObjectLimits objects.Limits
	// Replicas is NATS_REPLICAS (0: 1); SetupApply is NATS_SETUP=apply:
	// the core owns the NATS setup (see natsstore.Setup).
	Replicas   int
	SetupApply bool
}

// Core is the platform's state on NATS with the services and API built on
// it: what a gateway (standalone or the APISIX plugin) serves.
type Core struct {
	NC         *nats.Conn
	JS         jetstream.JetStream
	Buckets    *natsstore.Buckets
	Users      *natsstore.UserStore
	Functions  *natsstore.FunctionStore
	Executions *natsstore.ExecutionStore
	Queue      *natsstore.Queue
	Workers    *natsstore.WorkerRegistry
	Leases     *natsstore.LeaseStore
	Objects    *natsstore.Objects // functions' objects (issue 10)
	// ExecutionTokens issues and verifies the FAAS_TOKEN of executions
	// (auth.ExecutionTokens), keyed from the same JWT secret.
	ExecutionTokens *auth.ExecutionTokens
	// ExecutionService and UserService are the services behind the
	// routes.
	ExecutionService *service.Executions
	UserService      *service.Users
	// Sweeper runs in the background from NewCore until Close.
	Sweeper *service.Sweeper
	Deps    api.Deps
	Logger  *zap.Logger

	stopSweeper context.CancelFunc
	sweeperDone chan struct{}
}

// NewCore declares the NATS resources (idempotent) and wires the stores,
// services and API dependencies on an open connection.
func NewCore(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, o CoreOptions) (*Core, error) {
	if len(o.Secret) == 0 {
		return nil, fmt.Errorf("core: a JWT secret is required")
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Policy.MaxAttempts == 0 {
		o.Policy = domain.DefaultRetryPolicy
	}
	if o.Holder == "" {
		o.Holder = nc.Opts.Name
	}
	if o.Retention <= 0 {
		o.Retention = domain.DefaultRetention
	}
	b, err := natsstore.Setup(ctx, js, natsstore.SetupOptions{MaxDeliver: o.Policy.MaxDeliveries(), Retention: o.Retention, MaxBytes: o.MaxBytes,
		Replicas: o.Replicas, Mode: natsstore.SetupOwn, Apply: o.SetupApply, Logger: o.Logger.Named("setup")})
	if err != nil {
		return nil, fmt.Errorf("core: %w", err)
	}
	c := &Core{
		NC: nc, JS: js, Buckets: b, Logger: o.Logger,
		Users:      natsstore.NewUserStore(b.Users),
		Functions:  natsstore.NewFunctionStore(b.Functions),
		Executions: natsstore.NewExecutionStore(b.Executions, b.ExecutionIndex, b.ExecutionData).WithLogger(o.Logger.Named("executions")),
		Queue:      natsstore.NewQueue(js),
		Workers:    natsstore.NewWorkerRegistry(b.Workers),
		Leases:     natsstore.NewLeaseStore(b.Active),
	}
	if c.Objects, err = natsstore.NewObjects(ctx, js); err != nil {
		return nil, fmt.Errorf("core: %w", err)
	}
	tokens := auth.NewTokens(o.Secret, o.TokenTTL)
	passwords := &auth.Passwords{Cost: o.BcryptCost}
	health := map[string]func(context.Context) error{"nats": c.checkNATS}
	for name, check := range o.Health {
		health[name] = check
	}
	executions := service.NewExecutions(c.Functions, c.Executions, c.Queue, c.Leases)
	executions.Results, executions.Log = c.Queue, o.Logger.Named("executions")
	deadLetters := natsstore.NewDeadLetterStore(b.DeadLetters)
	users := service.NewUsers(c.Users, tokens, passwords, c.Functions, c.Executions, deadLetters)
	users.Log = o.Logger.Named("users")
	users.OnDelete(c.Objects)
	c.UserService = users
	executions.DeadLetters = deadLetters
	executions.Idempotency = natsstore.NewIdempotencyStore(b.Idempotency)
	c.ExecutionService = executions
	o.Sweeper.Policy = o.Policy
	c.Sweeper = NewSweeper(b, js, o.Sweeper, o.Holder, o.Logger.Named("sweeper"))
	c.Sweeper.Retention = &service.Retention{Keep: o.Retention, Log: natsstore.NewEndedLog(b.Ended), Store: c.Executions,
		DeadLetters: deadLetters, Logger: o.Logger.Named("retention")}
	functions := service.NewFunctions(c.Functions)
	functions.Limits, functions.MaxPerUser = o.Limits, o.MaxFunctionsPerUser
	functions.OnDelete(c.Objects.DeleteFunctionHook)
	functions.OnDelete(c.deleteFunctionExecutions(deadLetters))
	c.Deps = api.Deps{
		Users:      users,
		Functions:  functions,
		Executions: executions,
		Health:     health,
		Workers:    api.WorkerFuncs{List: c.listWorkers, Pending: c.pendingJobs, Autoscaler: c.autoscalerStatus},

		RateLimit:       ratelimit.New(o.RateLimit, o.RateLimitWindow, nil),
		RateLimitWindow: o.RateLimitWindow,
		LoginLimit:      ratelimit.New(o.LoginRateLimit, o.RateLimitWindow, nil),
		MaxWaitsPerUser: o.MaxWaitsPerUser,
	}
	c.ExecutionTokens = auth.NewExecutionTokens(o.Secret)
	c.Deps.Extra = append(c.Deps.Extra, objects.New(objects.Deps{
		Store: c.Objects, Functions: functions, Users: users, Executions: c.Executions,
		Tokens: c.ExecutionTokens, Limits: objectLimits(o.ObjectLimits),
	}, o.Logger.Named("objects")).Routes()...)
	sctx, stop := context.WithCancel(context.Background())
	c.stopSweeper, c.sweeperDone = stop, make(chan struct{})
	go func() {
		defer close(c.sweeperDone)
		c.Sweeper.Run(sctx)
	}()
	return c, nil
}

// objectLimits fills the zero fields of l with objects.DefaultLimits.
func objectLimits(l objects.Limits) objects.Limits {
	if l.MaxObjectBytes <= 0 {
		l.MaxObjectBytes = objects.DefaultLimits.MaxObjectBytes
	}
	if l.FunctionQuota <= 0 {
		l.FunctionQuota = objects.DefaultLimits.FunctionQuota
	}
	return l
}

// NewSweeper builds the sweeper on the platform's resources; holder names
// the process in the sweeper's lock.
func NewSweeper(b *natsstore.Buckets, js jetstream.JetStream, o service.SweeperOptions, holder string, log *zap.Logger) *service.Sweeper {
	q := natsstore.NewQueue(js)
	return service.NewSweeper(o, natsstore.NewExecutionStore(b.Executions, b.ExecutionIndex, b.ExecutionData).WithLogger(log),
		natsstore.NewLeaseStore(b.Active), q, q, natsstore.NewDeadLetterStore(b.DeadLetters),
		natsstore.NewAdvisories(b, log), natsstore.NewLock(b.Locks, "sweeper", holder), log)
}

// deleteFunctionExecutions is the OnDelete hook by which a function's
// executions and their dead letters go with it.
func (c *Core) deleteFunctionExecutions(dls *natsstore.DeadLetterStore) service.FunctionHook {
	return func(ctx context.Context, owner, fnID string) error {
		if err := c.Executions.DeleteFunction(ctx, owner, fnID); err != nil {
			return err
		}
		return dls.DeleteFunction(ctx, owner, fnID)
	}
}

// Close stops the core's background work (the sweeper); the connection is
// the caller's.
func (c *Core) Close() {
	c.stopSweeper()
	<-c.sweeperDone
	ctx, cancel := context.WithTimeout(context.Background(), service.DefaultCascadeTimeout)
	defer cancel()
	if err := c.UserService.WaitCascades(ctx); err != nil {
		c.Logger.Warn("user cleanups still running at close", zap.Error(err))
	}
}

// Handler is the API served on the core.
func (c *Core) Handler() http.Handler { return api.New(c.Deps, c.Logger.Named("api")) }

func (c *Core) checkNATS(ctx context.Context) error {
	if !c.NC.IsConnected() {
		return domain.Errorf(domain.ErrUnavailable, "not connected")
	}
	if _, err := c.JS.AccountInfo(ctx); err != nil {
		return fmt.Errorf("jetstream account info: %w", err)
	}
	return nil
}

func (c *Core) listWorkers(ctx context.Context) ([]api.WorkerStatus, error) {
	ws, err := c.Workers.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	out := make([]api.WorkerStatus, len(ws))
	for i, w := range ws {
		out[i] = api.WorkerStatus{ID: w.ID, Status: w.Status, ActiveExecutions: w.ActiveExecutions,
			MaxConcurrent: w.MaxConcurrent, LastHeartbeat: w.LastHeartbeat}
	}
	return out, nil
}

func (c *Core) pendingJobs(ctx context.Context) (int, error) {
	return natsstore.PendingJobs(ctx, c.Buckets.Consumer)
}

func (c *Core) autoscalerStatus(ctx context.Context) (*api.AutoscalerStatus, error) {
	s, err := natsstore.NewAutoscalerStates(c.Buckets.Locks).Get(ctx)
	if err != nil || s == nil {
		return nil, err
	}
	out := &api.AutoscalerStatus{Desired: s.Desired}
	if s.LastScale != nil {
		out.LastScale = &api.LastScale{At: s.LastScale.At, From: s.LastScale.From, To: s.LastScale.To, Reason: s.LastScale.Reason}
	}
	return out, nil
}
