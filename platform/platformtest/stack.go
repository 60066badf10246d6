// Package platformtest starts the platform's API on real stores for tests:
// an embedded NATS server and the Core on it, exactly as `faas up` wires it.
// It lives beside platform, not in api/apitest, so that the API's own tests
// and the suites (api/apitest) do not build the whole platform.
package platformtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"golang.org/x/crypto/bcrypt"

	"github.com/faasplatform/faas/api/apitest"
	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/natsstore"
	"github.com/faasplatform/faas/objects"
	"github.com/faasplatform/faas/platform"
	"github.com/faasplatform/faas/service"
)

// TestSecret is the JWT secret of a Stack; a Fixture uses it to forge
// expired and wrongly signed tokens.
var TestSecret = []byte("apitest-secret-0123456789abcdef!")

// Stack is the platform's API on real stores: an embedded NATS server
// (random port, files under t.TempDir()) and the platform's Core on it
// (stores, queue, services at bcrypt MinCost, API dependencies), wired
// exactly as `faas up` wires it. No worker runs unless a test starts one.
// Tests of another gateway (the APISIX plugin) serve Handler their own way.
type Stack struct {
	*platform.Core
	Secret []byte
	URL    string // NATS client URL
	Logger *zap.Logger
}

// StackOptions change a Stack from the defaults.
type StackOptions struct {
	// NATSURL is an external server to use instead of an embedded one.
	NATSURL string
	// Policy and Sweeper tune the core's retries and sweeper.
	Policy  domain.RetryPolicy
	Sweeper service.SweeperOptions
	// Retention is the core's EXECUTION_RETENTION (0: the default).
	Retention time.Duration
	// ObjectLimits replace ObjectMaxBytes and ObjectsQuota when set.
	ObjectLimits objects.Limits
	// Replicas is the core's NATS_REPLICAS (0: 1).
	Replicas int
}

// NewStack starts a Stack; everything stops when the test ends.
func NewStack(t testing.TB) *Stack {
	t.Helper()
	return NewStackWith(t, StackOptions{})
}

// NewStackWith starts a Stack with o; everything stops when the test ends.
func NewStackWith(t testing.TB, o StackOptions) *Stack {
	t.Helper()
	url := o.NATSURL
	if url == "" {
		srv, err := natsstore.StartEmbedded(natsstore.EmbeddedOptions{Port: -1, StoreDir: t.TempDir()})
		if err != nil {
			t.Fatalf("start embedded nats: %v", err)
		}
		t.Cleanup(func() {
			srv.Shutdown()
			srv.WaitForShutdown()
		})
		url = srv.ClientURL()
	}
	if o.ObjectLimits == (objects.Limits{}) {
		o.ObjectLimits = objects.Limits{MaxObjectBytes: apitest.ObjectMaxBytes, FunctionQuota: apitest.ObjectsQuota}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nc, js, err := natsstore.Connect(ctx, url, "apitest", natsstore.Credentials{})
	if err != nil {
		t.Fatalf("connect to nats: %v", err)
	}
	t.Cleanup(nc.Close)
	logger := zaptest.NewLogger(t)
	core, err := platform.NewCore(ctx, nc, js, platform.CoreOptions{
		Secret: TestSecret, TokenTTL: time.Hour, BcryptCost: bcrypt.MinCost, Logger: logger,
		Policy: o.Policy, Sweeper: o.Sweeper, Retention: o.Retention, ObjectLimits: o.ObjectLimits, Replicas: o.Replicas,
	})
	if err != nil {
		t.Fatalf("platform core: %v", err)
	}
	t.Cleanup(core.Close)
	return &Stack{Core: core, Secret: TestSecret, URL: url, Logger: logger}
}

// Handler is the API on the stack's Deps.
func (s *Stack) Handler() http.Handler { return s.Core.Handler() }

// Serve serves Handler over real HTTP until the test ends and returns the
// base URL (no trailing slash).
func (s *Stack) Serve(t testing.TB) string {
	t.Helper()
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts.URL
}

// ServeFixture serves Handler over real HTTP until the test ends and returns
// a Fixture for it.
func (s *Stack) ServeFixture(t testing.TB) *apitest.Fixture {
	t.Helper()
	return apitest.NewFixture(t, s.Serve(t), s.Secret)
}
