package natsstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/faasplatform/faas/domain"
)

// testEnv is one embedded server with the platform's resources declared.
type testEnv struct {
	url string
	nc  *nats.Conn
	js  jetstream.JetStream
	b   *Buckets
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	srv, err := StartEmbedded(EmbeddedOptions{Port: -1, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatalf("StartEmbedded: %v", err)
	}
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	ctx := testContext(t)
	nc, js, err := Connect(ctx, srv.ClientURL(), "test", Credentials{})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(nc.Close)
	b, err := Setup(ctx, js)
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	return &testEnv{url: srv.ClientURL(), nc: nc, js: js, b: b}
}

// testContext ends with the test, or after 20 s.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSetupIsIdempotent(t *testing.T) {
	env := newTestEnv(t)
	ctx := testContext(t)
	for i := range 2 {
		if _, err := Setup(ctx, env.js); err != nil {
			t.Fatalf("Setup run %d again: %v", i+2, err)
		}
	}

	info, err := env.b.Consumer.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := info.Config
	if cfg.Durable != ConsumerWorkers || cfg.FilterSubject != SubjectPending ||
		cfg.AckPolicy != jetstream.AckExplicitPolicy || cfg.AckWait != AckWait ||
		cfg.MaxDeliver != domain.DefaultRetryPolicy.MaxDeliveries() || cfg.MaxAckPending != MaxAckPending {
		t.Errorf("consumer config = %+v", cfg)
	}
	sinfo, err := env.b.Stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sinfo.Config.MaxAge != StreamMaxAge || sinfo.Config.Storage != jetstream.FileStorage || len(sinfo.Config.Subjects) != 2 {
		t.Errorf("stream config = %+v", sinfo.Config)
	}
	for _, name := range []string{BucketUsers, BucketFunctions, BucketExecutions, BucketExecutionIndex, BucketWorkers} {
		kv, err := env.js.KeyValue(ctx, name)
		if err != nil {
			t.Fatalf("bucket %s: %v", name, err)
		}
		st, err := kv.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wantTTL := time.Duration(0)
		if name == BucketWorkers {
			wantTTL = WorkerTTL
		}
		if st.TTL() != wantTTL || st.History() != kvHistory {
			t.Errorf("bucket %s: ttl %v history %d", name, st.TTL(), st.History())
		}
	}
	if _, err := env.js.ObjectStore(ctx, ObjectStoreExecData); err != nil {
		t.Errorf("object store: %v", err)
	}
}

func TestStartEmbeddedNeedsStoreDir(t *testing.T) {
	if _, err := StartEmbedded(EmbeddedOptions{Port: -1}); err == nil {
		t.Fatal("StartEmbedded without StoreDir: no error")
	}
}

// A worker started just before the server must still connect.
func TestConnectWaitsForServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	// Until the server starts, a bare listener holds the port: it takes the
	// worker's first try and drops it, the signal that the worker tried
	// before the server was there.
	tried := make(chan struct{})
	go func() {
		defer close(tried)
		if c, err := l.Accept(); err == nil {
			c.Close()
		}
	}()

	type result struct {
		nc  *nats.Conn
		err error
	}
	done := make(chan result, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	go func() {
		nc, _, err := Connect(ctx, "nats://127.0.0.1:"+strconv.Itoa(port), "early-worker", Credentials{})
		done <- result{nc, err}
	}()

	select {
	case <-tried:
	case <-time.After(8 * time.Second):
		t.Fatal("Connect never tried the port")
	}
	l.Close()
	srv, err := StartEmbedded(EmbeddedOptions{Port: port, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatalf("StartEmbedded: %v", err)
	}
	defer func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	}()
	r := <-done
	if r.err != nil {
		t.Fatalf("Connect: %v", r.err)
	}
	r.nc.Close()
}

func TestConnectGivesUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	if _, _, err := Connect(ctx, "nats://127.0.0.1:1", "nobody", Credentials{}); err == nil {
		t.Fatal("Connect to a closed port: no error")
	}
}

// TestEmbeddedRequiresCredentials: an embedded server with a user refuses
// anonymous clients and wrong passwords at once (no retrying until the
// deadline), and takes the right pair.
func TestEmbeddedRequiresCredentials(t *testing.T) {
	srv, err := StartEmbedded(EmbeddedOptions{Port: -1, StoreDir: t.TempDir(), User: "faas", Password: "s3cret-password-0123"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, c := range []struct {
		name  string
		creds Credentials
	}{
		{"anonymous", Credentials{}},
		{"wrong password", Credentials{User: "faas", Password: "guess"}},
		{"unknown user", Credentials{User: "root", Password: "s3cret-password-0123"}},
	} {
		_, _, err := Connect(ctx, srv.ClientURL(), "intruder", c.creds)
		if !errors.Is(err, nats.ErrAuthorization) {
			t.Errorf("%s: %v, want an authorization violation", c.name, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error shows the password: %v", c.name, err)
		}
	}
	if ctx.Err() != nil {
		t.Fatal("refused connections were retried until the deadline")
	}
	nc, _, err := Connect(ctx, srv.ClientURL(), "platform", Credentials{User: "faas", Password: "s3cret-password-0123"})
	if err != nil {
		t.Fatalf("right credentials: %v", err)
	}
	nc.Close()
}

// TestSetupMaxBytes: with NATS_MAX_BYTES every store is capped; a full one
// refuses the write and keeps what it holds (no older data dropped).
func TestSetupMaxBytes(t *testing.T) {
	srv, err := StartEmbedded(EmbeddedOptions{Port: -1, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	ctx := testContext(t)
	nc, js, err := Connect(ctx, srv.ClientURL(), "test", Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	const limit = 64 << 10
	b, err := Setup(ctx, js, SetupOptions{MaxBytes: limit})
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	for _, name := range []string{"KV_" + BucketExecutions, StreamExecutions, StreamEnded, "OBJ_" + ObjectStoreExecData} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.CachedInfo().Config.MaxBytes; got != limit {
			t.Fatalf("%s MaxBytes = %d, want %d", name, got, limit)
		}
	}
	value := make([]byte, 8<<10)
	var refused error
	for i := 0; i < 32 && refused == nil; i++ {
		_, refused = b.Executions.Put(ctx, fmt.Sprintf("k%d", i), value)
	}
	if refused == nil {
		t.Fatal("256 KiB went into a bucket capped at 64 KiB")
	}
	if _, err := b.Executions.Get(ctx, "k0"); err != nil {
		t.Fatalf("the first value is gone once the bucket filled up: %v", err)
	}
}
