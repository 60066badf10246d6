package tests

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/faasplatform/faas/api/apitest"
	"github.com/faasplatform/faas/apisix/apisixtest"
	"github.com/faasplatform/faas/internal/eventually"
	"github.com/faasplatform/faas/platform/platformtest"
)

// objectsRouteID is the APISIX route of the objects (apisix/apisix.yaml),
// proxied to the objects service.
const objectsRouteID = "function-objects"

// startGatewayProcess runs `faas gateway` (the standalone gateway and
// objects service) on the stack's NATS with the stack's secret and object
// limits, until the test ends, and returns its base URL once it answers
// its health route. It is the upstream that APISIX's objects route proxies
// to.
func startGatewayProcess(t *testing.T, bin string, st *platformtest.Stack) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // the gateway binds it again at once
	cmd := exec.Command(bin, "gateway")
	cmd.Env = append(os.Environ(),
		"NATS_URL="+st.URL,
		"JWT_SECRET="+string(st.Secret),
		"TOKEN_EXPIRATION=1h",
		"SERVER_ADDRESS="+addr,
		"DATA_DIR="+t.TempDir(),
		"LOG_LEVEL=warn",
		"RATE_LIMIT=0",
		"OBJECT_MAX_BYTES="+strconv.Itoa(apitest.ObjectMaxBytes),
		"FUNCTION_OBJECTS_QUOTA="+strconv.Itoa(apitest.ObjectsQuota),
	)
	stderr := &apisixtest.SyncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("faas gateway did not stop on SIGINT; stderr:\n%s", stderr.String())
		}
	})
	base := "http://" + addr
	eventually.True(t, 30*time.Second, func() bool {
		select {
		case <-done:
			return true // exited: reported below
		default:
		}
		resp, err := http.Get(base + "/api/v1/health")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return true
	}, "faas gateway never answered on %s; stderr:\n%s", addr, stderr.String())
	select {
	case err := <-done:
		done <- err // for the cleanup
		t.Fatalf("faas gateway exited (%v): %s", err, stderr.String())
	default:
	}
	return base
}

// objectsUpstream is the emulator's upstream for the objects route: a
// reverse proxy to the objects service at base.
func objectsUpstream(t *testing.T, base string) map[string]http.Handler {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]http.Handler{objectsRouteID: httputil.NewSingleHostReverseProxy(u)}
}
