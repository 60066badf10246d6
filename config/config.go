// Package config reads the platform's configuration (contract §2) once, from
// an injectable getter, into a typed and validated struct. A bad value is an
// error naming the variable, so a process stops at start instead of running
// with a surprise.
package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/faasplatform/faas/domain"
)

// Config is every setting of the platform. Each component reads what it needs.
type Config struct {
	ServerAddress           string        // SERVER_ADDRESS: the standalone gateway
	NATSURL                 string        // NATS_URL: external NATS; empty means embedded
	NATSListen              string        // NATS_LISTEN: where the embedded server listens
	JWTSecret               string        // JWT_SECRET: empty means generated under DataDir
	TokenExpiration         time.Duration // TOKEN_EXPIRATION
	MaxConcurrentExecutions int           // MAX_CONCURRENT_EXECUTIONS: per worker
	MinWorkers              int           // MIN_WORKERS
	MaxWorkers              int           // MAX_WORKERS
	ScaleUpThreshold        int           // SCALE_UP_THRESHOLD: pending per worker to grow
	ScaleDownThreshold      int           // SCALE_DOWN_THRESHOLD
	CheckInterval           time.Duration // CHECK_INTERVAL
	CooldownPeriod          time.Duration // COOLDOWN_PERIOD
	LogLevel                zapcore.Level // LOG_LEVEL
	DataDir                 string        // DATA_DIR
	WorkerAddress           string        // WORKER_ADDRESS: a worker's sidecar (host:port, port 0 = any)
	WorkerSocketDir         string        // WORKER_SOCKET_DIR: where a worker makes its objects socket's directory; "": the temp dir
	WorkerHostDir           string        // WORKER_HOST_DIR: docker backend: a host dir mounted into worker containers (faas-init, sockets)
	WorkerID                string        // WORKER_ID: empty means generated
	MaxRetries              int           // MAX_RETRIES: attempts of one execution, the first included
	RetryDelay              time.Duration // RETRY_DELAY: the first backoff; doubles each time
	AutoscalerBackend       string        // AUTOSCALER_BACKEND: "process" (worker processes) or "docker" (worker containers)
	WorkerImage             string        // WORKER_IMAGE: the image of worker containers (docker backend)
	WorkerNetwork           string        // WORKER_NETWORK: the network mode of worker containers (docker backend)
	RateLimit               int           // RATE_LIMIT: requests per window per user (per address before login); 0: off
	RateLimitWindow         time.Duration // RATE_LIMIT_WINDOW: the window of RATE_LIMIT and LOGIN_RATE_LIMIT
	LoginRateLimit          int           // LOGIN_RATE_LIMIT: failed logins per window per username and per address; 0: off
	MaxWaitsPerUser         int           // MAX_WAITS_PER_USER: open ?wait=true requests per user; past it 202 at once
	NATSUser                string        // NATS_USER: with NATS_PASSWORD; empty with the embedded server: "faas" and a generated password
	NATSPassword            string        // NATS_PASSWORD
	NATSCreds               string        // NATS_CREDS: a .creds file for an external server
	NATSCA                  string        // NATS_CA: root CA (PEM) of a tls:// server
	ExecutionKey            string        // EXECUTION_KEY: a worker's execution token key (64 hex digits); a secret

	// Issue 8 part B: containers and admission.
	FunctionUser        string   // FUNCTION_USER: uid:gid functions run as
	FunctionImages      []string // FUNCTION_IMAGES: allowed image patterns; empty: any but faas-platform/*
	FunctionMaxMemoryMB int      // FUNCTION_MAX_MEMORY_MB: default half the host's memory
	FunctionMaxCPUs     float64  // FUNCTION_MAX_CPUS: default the host's cores
	WorkerMemoryMB      int      // WORKER_MEMORY_MB: a worker's memory budget for the runs it holds at once; default 3/4 of the host's
	UserMaxFunctions    int      // USER_MAX_FUNCTIONS: functions per user; over it 409 conflict

	// Observability (issue 12).
	Metrics   bool   // METRICS: "on" (default) serves /api/v1/metrics and sidecar /metrics; "off" disables
	LogFormat string // LOG_FORMAT: "json" (default) or "console"

	// Objects (issue 10).
	ObjectMaxBytes       int64 // OBJECT_MAX_BYTES: the largest object
	FunctionObjectsQuota int64 // FUNCTION_OBJECTS_QUOTA: all of one function's objects together

	// Bounded growth (issue 8).
	ExecutionRetention time.Duration // EXECUTION_RETENTION: an ended execution is deleted this long after its end
	NATSMaxBytes       int64         // NATS_MAX_BYTES: cap of each stream, bucket and object store; 0: none
	// Warm containers and cold starts (issue 11).
	WarmIdleTimeout      time.Duration // WARM_IDLE_TIMEOUT: an idle warm container is removed after it
	ColdStartConcurrency int           // COLD_START_CONCURRENCY: container starts at once per worker; default the cores
	InitPath             string        // FAAS_INIT_PATH: faas-init for warm containers; empty: beside the faas executable; "off": none (every run cold)

	// Deployment (issue 13).
	NATSReplicas int  // NATS_REPLICAS: replicas of every stream, bucket and object store (1..5; 3 on a cluster)
	NATSSetup    bool // NATS_SETUP: "create" (default) creates what is missing; "apply" also brings what exists to this configuration
}

// FunctionLimits are the admission caps of these settings.
func (c Config) FunctionLimits() domain.FunctionLimits {
	return domain.FunctionLimits{Images: c.FunctionImages, MaxMemoryMB: c.FunctionMaxMemoryMB, MaxCPUs: c.FunctionMaxCPUs}
}

// Host is what the defaults that fit the machine are computed from;
// HostInfo reads the real one.
type Host struct {
	MemoryMB int // 0: unknown
	CPUs     int
}

// HostInfo reads /proc/meminfo and runtime.NumCPU.
func HostInfo() Host {
	h := Host{CPUs: runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		h.MemoryMB = memTotalMB(string(b))
	}
	return h
}

// memTotalMB is MemTotal of a /proc/meminfo text in MB; 0 if absent.
func memTotalMB(meminfo string) int {
	for _, line := range strings.Split(meminfo, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.Atoi(f[1])
			if err == nil {
				return kb / 1024
			}
		}
	}
	return 0
}

// RetryPolicy is the executions' retry policy of these settings.
func (c Config) RetryPolicy() domain.RetryPolicy {
	p := domain.DefaultRetryPolicy
	p.MaxAttempts, p.BaseDelay = c.MaxRetries, c.RetryDelay
	return p
}

// Getter returns the value of a variable, "" when unset (os.Getenv fits).
type Getter func(key string) string

// ErrInvalid is wrapped by every error Load returns.
var ErrInvalid = errors.New("invalid configuration")

// Load reads and validates the configuration through get.
func Load(get Getter) (Config, error) {
	return LoadHost(get, HostInfo())
}

// LoadHost is Load with the host the defaults fit given.
func LoadHost(get Getter, host Host) (Config, error) {
	r := reader{get: get}
	c := Config{
		ServerAddress:           r.addr("SERVER_ADDRESS", ":8080"),
		NATSURL:                 r.natsURL("NATS_URL"),
		NATSListen:              r.addr("NATS_LISTEN", "127.0.0.1:4222"),
		JWTSecret:               r.secret("JWT_SECRET"),
		TokenExpiration:         r.duration("TOKEN_EXPIRATION", 24*time.Hour, time.Minute, 365*24*time.Hour),
		MaxConcurrentExecutions: r.integer("MAX_CONCURRENT_EXECUTIONS", 10, 1, 1000),
		MinWorkers:              r.integer("MIN_WORKERS", 2, 0, 1000),
		MaxWorkers:              r.integer("MAX_WORKERS", 10, 1, 1000),
		ScaleUpThreshold:        r.integer("SCALE_UP_THRESHOLD", 3, 1, 1_000_000),
		ScaleDownThreshold:      r.integer("SCALE_DOWN_THRESHOLD", 2, 0, 1_000_000),
		CheckInterval:           r.duration("CHECK_INTERVAL", 30*time.Second, 100*time.Millisecond, 24*time.Hour),
		CooldownPeriod:          r.duration("COOLDOWN_PERIOD", 30*time.Second, 0, 24*time.Hour),
		LogLevel:                r.level("LOG_LEVEL", zapcore.InfoLevel),
		DataDir:                 r.str("DATA_DIR", "./data"),
		WorkerAddress:           r.addr("WORKER_ADDRESS", "127.0.0.1:0"),
		WorkerSocketDir:         r.str("WORKER_SOCKET_DIR", ""),
		WorkerHostDir:           r.str("WORKER_HOST_DIR", ""),
		WorkerID:                r.workerID("WORKER_ID"),
		MaxRetries:              r.integer("MAX_RETRIES", 3, 1, 20),
		RetryDelay:              r.duration("RETRY_DELAY", 5*time.Second, 0, time.Hour),
		AutoscalerBackend:       r.oneOf("AUTOSCALER_BACKEND", "process", "process", "docker"),
		WorkerImage:             r.str("WORKER_IMAGE", "faas-platform/faas:latest"),
		WorkerNetwork:           r.str("WORKER_NETWORK", "host"),
		RateLimit:               r.integer("RATE_LIMIT", 6000, 0, 1_000_000_000),
		RateLimitWindow:         r.duration("RATE_LIMIT_WINDOW", time.Minute, time.Second, 24*time.Hour),
		LoginRateLimit:          r.integer("LOGIN_RATE_LIMIT", 10, 0, 1_000_000_000),
		MaxWaitsPerUser:         r.integer("MAX_WAITS_PER_USER", 20, 1, 100_000),
		NATSUser:                r.str("NATS_USER", ""),
		NATSPassword:            r.get("NATS_PASSWORD"), // a secret: never echoed
		NATSCreds:               r.str("NATS_CREDS", ""),
		NATSCA:                  r.str("NATS_CA", ""),
		ExecutionKey:            r.hexKey("EXECUTION_KEY", 32),

		Metrics:   r.oneOf("METRICS", "on", "on", "off") == "on",
		LogFormat: r.oneOf("LOG_FORMAT", "json", "json", "console"),

		ObjectMaxBytes:       r.byteSize("OBJECT_MAX_BYTES", 64<<20, 1, 1<<40),
		FunctionObjectsQuota: r.byteSize("FUNCTION_OBJECTS_QUOTA", 1<<30, 1, 1<<50),

		ExecutionRetention: r.duration("EXECUTION_RETENTION", domain.DefaultRetention, domain.MinRetention, 100*365*24*time.Hour),
		NATSMaxBytes:       r.byteSize("NATS_MAX_BYTES", 0, 0, 1<<50),

		NATSReplicas: r.integer("NATS_REPLICAS", 1, 1, 5),
		NATSSetup:    r.oneOf("NATS_SETUP", "create", "create", "apply") == "apply",
	}
	// Issue 8 part B: containers and admission.
	c.FunctionUser = r.uidGID("FUNCTION_USER", "65534:65534")
	c.FunctionImages = r.patterns("FUNCTION_IMAGES")
	c.FunctionMaxMemoryMB = r.integer("FUNCTION_MAX_MEMORY_MB", max(host.MemoryMB/2, domain.DefaultMemoryMB), 16, 1<<20)
	c.WorkerMemoryMB = r.integer("WORKER_MEMORY_MB", max(host.MemoryMB*3/4, domain.DefaultMemoryMB), 16, 1<<24)
	c.FunctionMaxCPUs = r.float("FUNCTION_MAX_CPUS", float64(max(host.CPUs, 1)), 0.01, 1024)
	c.UserMaxFunctions = r.integer("USER_MAX_FUNCTIONS", 100, 1, 1_000_000)
	c.WarmIdleTimeout = r.duration("WARM_IDLE_TIMEOUT", 5*time.Minute, time.Second, 24*time.Hour)
	c.ColdStartConcurrency = r.integer("COLD_START_CONCURRENCY", max(host.CPUs, 1), 1, 1024)
	c.InitPath = r.str("FAAS_INIT_PATH", "")

	if r.err == nil && (c.NATSUser == "") != (c.NATSPassword == "") {
		r.err = fmt.Errorf("%w: NATS_USER and NATS_PASSWORD must be set together", ErrInvalid)
	}
	if r.err == nil && c.NATSCreds != "" && c.NATSURL == "" {
		r.err = fmt.Errorf("%w: NATS_CREDS is for an external server: set NATS_URL too", ErrInvalid)
	}
	if r.err == nil && c.MinWorkers > c.MaxWorkers {
		r.fail("MIN_WORKERS", strconv.Itoa(c.MinWorkers), fmt.Sprintf("must not exceed MAX_WORKERS (%d)", c.MaxWorkers))
	}
	if r.err != nil {
		return Config{}, r.err
	}
	return c, nil
}

// reader keeps the first error so Load reads like a table.
type reader struct {
	get Getter
	err error
}

func (r *reader) fail(key, val, why string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s=%q %s", ErrInvalid, key, val, why)
	}
}

func (r *reader) str(key, def string) string {
	if v := strings.TrimSpace(r.get(key)); v != "" {
		return v
	}
	return def
}

func (r *reader) oneOf(key, def string, allowed ...string) string {
	v := r.str(key, def)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.fail(key, v, "must be one of "+strings.Join(allowed, ", "))
	return def
}

func (r *reader) addr(key, def string) string {
	v := r.str(key, def)
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		r.fail(key, v, "must be host:port (e.g. :8080)")
		return def
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		r.fail(key, v, "has an invalid port")
	}
	if strings.ContainsAny(host, " /") {
		r.fail(key, v, "has an invalid host")
	}
	return v
}

func (r *reader) natsURL(key string) string {
	v := strings.TrimSpace(r.get(key))
	if v == "" {
		return ""
	}
	for _, u := range strings.Split(v, ",") {
		u = strings.TrimSpace(u)
		if !(strings.HasPrefix(u, "nats://") || strings.HasPrefix(u, "tls://")) || len(u) <= len("nats://") {
			r.fail(key, v, "must be a comma-separated list of nats:// or tls:// URLs")
			break
		}
	}
	return v
}

// hexKey is a key of n bytes written as 2n hex digits, or "" when unset.
// The value is a secret: a bad one is reported without it.
func (r *reader) hexKey(key string, n int) string {
	v := strings.TrimSpace(r.get(key))
	if v == "" {
		return ""
	}
	if b, err := hex.DecodeString(v); err != nil || len(b) != n {
		if r.err == nil {
			r.err = fmt.Errorf("%w: %s must be %d hex digits", ErrInvalid, key, 2*n)
		}
		return ""
	}
	return v
}

func (r *reader) secret(key string) string {
	v := r.get(key)
	if v != "" && len(v) < 16 {
		// The value itself is a secret: never echo it.
		if r.err == nil {
			r.err = fmt.Errorf("%w: %s must be at least 16 bytes long", ErrInvalid, key)
		}
	}
	return v
}

func (r *reader) integer(key string, def, min, max int) int {
	v := strings.TrimSpace(r.get(key))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		r.fail(key, v, fmt.Sprintf("must be an integer from %d to %d", min, max))
		return def
	}
	return n
}

func (r *reader) duration(key string, def, min, max time.Duration) time.Duration {
	v := strings.TrimSpace(r.get(key))
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < min || d > max {
		r.fail(key, v, fmt.Sprintf("must be a duration from %s to %s (e.g. 30s, 24h)", min, max))
		return def
	}
	return d
}

func (r *reader) level(key string, def zapcore.Level) zapcore.Level {
	v := strings.TrimSpace(r.get(key))
	if v == "" {
		return def
	}
	l, err := zapcore.ParseLevel(v)
	if err != nil {
		r.fail(key, v, "must be one of debug, info, warn, error")
		return def
	}
	return l
}

func (r *reader) workerID(key string) string {
	v := strings.TrimSpace(r.get(key))
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') || len(v) > 64 {
			r.fail(key, v, "must be 1 to 64 of letters, digits, '-' or '_'")
			break
		}
	}
	return v
}

func (r *reader) uidGID(key, def string) string {
	v := r.str(key, def)
	u, g, ok := strings.Cut(v, ":")
	if _, err := strconv.ParseUint(u, 10, 32); err != nil || !ok {
		r.fail(key, v, "must be uid:gid numbers (e.g. 65534:65534)")
		return def
	}
	if _, err := strconv.ParseUint(g, 10, 32); err != nil {
		r.fail(key, v, "must be uid:gid numbers (e.g. 65534:65534)")
		return def
	}
	return v
}

func (r *reader) patterns(key string) []string {
	var ps []string
	for _, p := range strings.Split(r.str(key, ""), ",") {
		if p = strings.TrimSpace(p); p != "" {
			ps = append(ps, p)
		}
	}
	if err := domain.ValidImagePatterns(ps); err != nil {
		r.fail(key, r.get(key), "has a bad "+err.Error())
	}
	return ps
}

func (r *reader) float(key string, def, min, max float64) float64 {
	v := r.str(key, "")
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < min || f > max {
		r.fail(key, v, fmt.Sprintf("must be a number from %g to %g", min, max))
		return def
	}
	return f
}
