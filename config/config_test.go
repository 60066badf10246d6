package config

import (
	"errors"
	"github.com/faasplatform/faas/domain"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) Getter { return func(k string) string { return m[k] } }

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.ServerAddress != ":8080" || c.NATSListen != "127.0.0.1:4222" || c.TokenExpiration != 24*time.Hour ||
		c.MaxConcurrentExecutions != 10 || c.MinWorkers != 2 || c.MaxWorkers != 10 || c.DataDir != "./data" ||
		c.CheckInterval != 30*time.Second || c.NATSURL != "" || c.JWTSecret != "" ||
		c.ExecutionRetention != 168*time.Hour || c.NATSMaxBytes != 0 || c.NATSReplicas != 1 || c.NATSSetup {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

func TestLoadRejectsBadValues(t *testing.T) {
	cases := []struct {
		key, val string
	}{
		{"SERVER_ADDRESS", "8080"},
		{"EXECUTION_RETENTION", "5s"},
		{"EXECUTION_RETENTION", "forever"},
		{"NATS_MAX_BYTES", "-1"},
		{"NATS_MAX_BYTES", "lots"},
		{"NATS_REPLICAS", "0"},
		{"NATS_REPLICAS", "6"},
		{"NATS_REPLICAS", "three"},
		{"NATS_SETUP", "force"},
		{"NATS_URL", "http://x"},
		{"NATS_LISTEN", "localhost"},
		{"TOKEN_EXPIRATION", "soon"},
		{"TOKEN_EXPIRATION", "1s"},
		{"MAX_CONCURRENT_EXECUTIONS", "0"},
		{"MAX_CONCURRENT_EXECUTIONS", "ten"},
		{"MIN_WORKERS", "-1"},
		{"MAX_WORKERS", "0"},
		{"CHECK_INTERVAL", "-5s"},
		{"LOG_LEVEL", "loud"},
		{"JWT_SECRET", "short"},
		{"WORKER_ID", "a b"},
		{"AUTOSCALER_BACKEND", "kubernetes"},
		{"FUNCTION_USER", "nobody"},
		{"FUNCTION_USER", "1000"},
		{"FUNCTION_USER", "1000:x"},
		{"FUNCTION_IMAGES", "faas-examples/[*"},
		{"FUNCTION_MAX_MEMORY_MB", "1"},
		{"FUNCTION_MAX_CPUS", "none"},
		{"FUNCTION_MAX_CPUS", "0"},
		{"MAX_WAITS_PER_USER", "0"},
		{"RATE_LIMIT", "-1"},
		{"RATE_LIMIT_WINDOW", "0s"},
		{"NATS_USER", "faas"},             // without NATS_PASSWORD
		{"NATS_PASSWORD", "secret-value"}, // without NATS_USER
		{"NATS_CREDS", "/etc/faas.creds"}, // without NATS_URL
		{"WARM_IDLE_TIMEOUT", "soon"},
		{"WARM_IDLE_TIMEOUT", "10ms"},
		{"COLD_START_CONCURRENCY", "0"},
	}
	for _, tc := range cases {
		t.Run(tc.key+"="+tc.val, func(t *testing.T) {
			_, err := Load(env(map[string]string{tc.key: tc.val}))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("want ErrInvalid, got %v", err)
			}
			if !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("error %q does not name %s", err, tc.key)
			}
			if (tc.key == "JWT_SECRET" || tc.key == "NATS_PASSWORD") && strings.Contains(err.Error(), tc.val) {
				t.Fatalf("error leaks the secret: %q", err)
			}
		})
	}
}

func TestLoadMinAboveMax(t *testing.T) {
	_, err := Load(env(map[string]string{"MIN_WORKERS": "5", "MAX_WORKERS": "3"}))
	if err == nil || !strings.Contains(err.Error(), "MIN_WORKERS") {
		t.Fatalf("want MIN_WORKERS error, got %v", err)
	}
}

func TestLoadValues(t *testing.T) {
	c, err := Load(env(map[string]string{
		"SERVER_ADDRESS": "127.0.0.1:9000", "NATS_URL": "nats://a:4222,nats://b:4222",
		"TOKEN_EXPIRATION": "1h", "MIN_WORKERS": "0", "LOG_LEVEL": "debug",
		"JWT_SECRET": "0123456789abcdef0123", "NATS_REPLICAS": "3", "NATS_SETUP": "apply",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.ServerAddress != "127.0.0.1:9000" || c.TokenExpiration != time.Hour || c.MinWorkers != 0 || c.LogLevel.String() != "debug" ||
		c.NATSReplicas != 3 || !c.NATSSetup {
		t.Fatalf("unexpected: %+v", c)
	}
}

func TestLoadHostDefaults(t *testing.T) {
	tests := []struct {
		name    string
		host    Host
		env     map[string]string
		wantMem int
		wantCPU float64
	}{
		{"half the memory, all the cores", Host{MemoryMB: 8192, CPUs: 4}, nil, 4096, 4},
		{"unknown host", Host{}, nil, domain.DefaultMemoryMB, 1},
		{"set", Host{MemoryMB: 8192, CPUs: 4}, map[string]string{"FUNCTION_MAX_MEMORY_MB": "256", "FUNCTION_MAX_CPUS": "0.5"}, 256, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadHost(env(tt.env), tt.host)
			if err != nil {
				t.Fatal(err)
			}
			if c.FunctionMaxMemoryMB != tt.wantMem || c.FunctionMaxCPUs != tt.wantCPU || c.FunctionUser != "65534:65534" {
				t.Errorf("got %d MB, %g CPUs, user %q", c.FunctionMaxMemoryMB, c.FunctionMaxCPUs, c.FunctionUser)
			}
		})
	}
	if got := memTotalMB("MemFree: 1 kB\nMemTotal:       2048000 kB\n"); got != 2000 {
		t.Errorf("memTotalMB = %d, want 2000", got)
	}
}

func TestLoadWarmSettings(t *testing.T) {
	c, err := LoadHost(env(nil), Host{CPUs: 3})
	if err != nil {
		t.Fatal(err)
	}
	if c.WarmIdleTimeout != 5*time.Minute || c.ColdStartConcurrency != 3 {
		t.Errorf("defaults: WARM_IDLE_TIMEOUT %v COLD_START_CONCURRENCY %d, want 5m and the cores (3)", c.WarmIdleTimeout, c.ColdStartConcurrency)
	}
	c, err = Load(env(map[string]string{"WARM_IDLE_TIMEOUT": "90s", "COLD_START_CONCURRENCY": "2"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.WarmIdleTimeout != 90*time.Second || c.ColdStartConcurrency != 2 {
		t.Errorf("set: %v %d", c.WarmIdleTimeout, c.ColdStartConcurrency)
	}
}
