package tests

import (
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/faasplatform/faas/apisix/apisixtest"
	"github.com/faasplatform/faas/internal/eventually"
)

// natsServer is a separate nats-server process (built from the module), so
// that a test can stop and restart it under a running platform.
type natsServer struct {
	bin, dir string
	port     int
	cmd      *exec.Cmd
	done     chan struct{}
	out      *apisixtest.SyncBuffer
}

// startNATSServer starts nats-server with JetStream on a free port, files
// under a temporary directory.
func startNATSServer(t *testing.T) *natsServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	s := &natsServer{bin: apisixtest.GoBuild(t, "github.com/nats-io/nats-server/v2"), dir: t.TempDir(), port: port, out: &apisixtest.SyncBuffer{}}
	s.start(t)
	t.Cleanup(func() {
		if s.cmd != nil {
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

func (s *natsServer) url() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

func (s *natsServer) start(t *testing.T) {
	t.Helper()
	s.cmd = exec.Command(s.bin, "-js", "-sd", s.dir, "-a", "127.0.0.1", "-p", strconv.Itoa(s.port))
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.done = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(s.cmd, s.done)
	eventually.True(t, 30*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(s.port), time.Second)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	}, "nats-server did not listen:\n%s", s.out)
}

// restart stops the server cleanly (SIGTERM) and starts it again on the
// same port and store.
func (s *natsServer) restart(t *testing.T) {
	t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("nats-server did not stop:\n%s", s.out)
	}
	s.start(t)
}

// TestNATSRestartUnderLoad: an external NATS restarted while 100 executions
// are queued and running; every one ends complete with its own output, and
// no execution ever has two containers running at once.
func TestNATSRestartUnderLoad(t *testing.T) {
	srv := startNATSServer(t)
	e := newLifecycleEnv(t, srv.url())
	watch := watchContainers(t)
	e.startWorker(t, e.workerID+"-a", 5)
	e.startWorker(t, e.workerID+"-b", 5)
	u := e.Register(t, "restarter")
	fn := e.function(t, u, "nr-echo", `sleep 0.2; cat`, nil)

	const n = 100
	ids := make([]string, n)
	for i := range ids {
		r, x := e.postExecution(t, u, fn, fmt.Sprint("in-", i), nil)
		if r.Status != http.StatusAccepted {
			t.Fatalf("post %d: %d %s", i, r.Status, r.Body)
		}
		ids[i] = x.ID
	}
	// Restart once some have run and many are still queued or running.
	eventually.True(t, 60*time.Second, func() bool {
		s, _ := watch.stats(ids[n/5])
		return s > 0
	}, "the executions did not start")
	srv.restart(t)

	retried := 0
	for i, id := range ids {
		x := e.waitStatus(t, u, id, 3*time.Minute, "complete", "failed", "timeout", "cancelled")
		if x.Status != "complete" || x.output() != fmt.Sprint("in-", i) {
			t.Fatalf("execution %d: %+v (output %q)", i, x, x.output())
		}
		starts, most := watch.stats(id)
		if most > 1 {
			t.Fatalf("execution %d had %d containers running at once", i, most)
		}
		if starts > x.Attempts {
			t.Fatalf("execution %d: %d containers for %d attempts", i, starts, x.Attempts)
		}
		if x.Attempts > 1 {
			retried++
		}
	}
	t.Logf("%d executions across a NATS restart: all complete, %d needed a second attempt", n, retried)
}
