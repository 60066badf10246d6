package tests

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/faasplatform/faas/api/apitest"
	"github.com/faasplatform/faas/apisix/apisixtest"
	"github.com/faasplatform/faas/internal/eventually"
)

// noDocker is the environment of a process on a host without a Docker
// daemon (an APISIX or gateway container has no socket).
const noDocker = "DOCKER_HOST=unix:///nonexistent/docker.sock"

// TestHealthChecksWhatEachProcessUses: `faas gateway` and `faas plugin`
// (behind APISIX) run no container, so their health checks NATS alone and is
// ok without a Docker daemon; `faas up` checks Docker as well
// (TestUpHealthNamesAnUnreachableDocker).
func TestHealthChecksWhatEachProcessUses(t *testing.T) {
	e := newEnv(t, 0, 1)
	bin := apisixtest.GoBuild(t, faasPkg)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	gw := exec.Command(bin, "gateway")
	gw.Env = []string{"NATS_URL=" + e.stack.URL, "JWT_SECRET=" + string(e.stack.Secret), "SERVER_ADDRESS=" + addr,
		"LOG_LEVEL=warn", "DATA_DIR=" + t.TempDir(), noDocker}
	out := &apisixtest.SyncBuffer{}
	gw.Stdout, gw.Stderr = out, out
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = gw.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = gw.Process.Signal(syscall.SIGTERM)
		<-done
		if t.Failed() {
			t.Logf("faas gateway:\n%s", out)
		}
	})

	cfg, routes := loadAPISIX(t)
	env := append(cfg.RunnerEnv(map[string]string{"NATS_URL": e.stack.URL, "JWT_SECRET": string(e.stack.Secret),
		"LOG_LEVEL": "warn", "DATA_DIR": t.TempDir()}), noDocker)
	runner := apisixtest.StartRunner(t, bin, []string{"plugin"}, env)
	emu := apisixtest.NewWithOptions(runner.SocketPath(), cfg.EmulatorOptions(), routes...)
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })

	for name, base := range map[string]string{"faas gateway": "http://" + addr, "faas plugin": srv.URL} {
		var h struct {
			Status string
			Checks map[string]string
		}
		eventually.NoError(t, 30*time.Second, func() error { // until it listens
			resp, err := http.Get(base + "/api/v1/health")
			if err != nil {
				return err
			}
			return resp.Body.Close()
		})
		eventually.NoError(t, 30*time.Second, func() error {
			r := apitest.Do(t, base, http.MethodGet, "/api/v1/health", "", nil, nil)
			if r.Status != http.StatusOK {
				return fmt.Errorf("%s health: %d %s", name, r.Status, r.Body)
			}
			r.Decode(t, &h)
			return nil
		})
		if len(h.Checks) != 1 || h.Checks["nats"] != "ok" {
			t.Fatalf("%s health checks %v, want nats alone (%s)", name, h.Checks, strconv.Quote(h.Status))
		}
	}
}
