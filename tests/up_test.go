package tests

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/faasplatform/faas/api/apitest"
	"github.com/faasplatform/faas/apisix/apisixtest"
	"github.com/faasplatform/faas/docker/dockertest"
	"github.com/faasplatform/faas/internal/eventually"
)

// upProcess is a running `faas up`.
type upProcess struct {
	cmd    *exec.Cmd
	base   string // http://host:port
	nats   string // the embedded server's client URL
	stderr *apisixtest.SyncBuffer
	done   chan error
}

var upLine = regexp.MustCompile(`API on (http://[^/ ]+)/api/v1 \(NATS ([^, ]+)`)

// startUp runs `faas up` with env (on top of this process's environment)
// and waits for the line that says where it listens.
func startUp(t *testing.T, bin string, env ...string) *upProcess {
	t.Helper()
	cmd := exec.Command(bin, "up")
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &upProcess{cmd: cmd, stderr: &apisixtest.SyncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	found := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := upLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { p.done <- cmd.Wait() }()
	select {
	case m := <-found:
		p.base, p.nats = m[1], m[2]
	case err := <-p.done:
		t.Fatalf("faas up exited at start: %v\n%s", err, p.stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("faas up did not say where it listens\n%s", p.stderr)
	}
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (p *upProcess) stop(t *testing.T) {
	t.Helper()
	children := childPIDs(p.cmd.Process.Pid)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("faas up exited with %v after SIGTERM\n%s", err, p.stderr)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("faas up did not stop within 60 s of SIGTERM")
	}
	for _, pid := range children {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("child process %d (a worker) still runs after faas up stopped", pid)
		}
	}
}

// childPIDs lists the direct children of pid (the worker processes).
func childPIDs(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, s := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(s); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// TestUpRunsThePlatformAndKeepsDataAcrossRestarts runs the real binary as a
// user would: `faas up` with an embedded NATS, a gateway and worker
// processes, an execution in a real container, a clean stop on SIGTERM, and
// a restart on the same DATA_DIR where the data and the tokens still hold.
func TestUpRunsThePlatformAndKeepsDataAcrossRestarts(t *testing.T) {
	dockertest.RequireDocker(t)
	bin := apisixtest.GoBuild(t, "github.com/faasplatform/faas/cmd/faas")
	data := t.TempDir()
	env := []string{"SERVER_ADDRESS=127.0.0.1:0", "NATS_LISTEN=127.0.0.1:0", "MIN_WORKERS=2",
		"DATA_DIR=" + data, "LOG_LEVEL=warn", "JWT_SECRET=", "NATS_URL="}
	up := startUp(t, bin, env...)

	r := apitest.Do(t, up.base, http.MethodGet, "/api/v1/health", "", nil, nil)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"docker":"ok"`) || !strings.Contains(string(r.Body), `"nats":"ok"`) {
		t.Fatalf("health: %d %s", r.Status, r.Body)
	}
	// The embedded NATS refuses anonymous clients; its generated password
	// (0600 under DATA_DIR) lets the platform's own processes in.
	if nc, err := nats.Connect(up.nats, nats.Timeout(5*time.Second)); err == nil {
		nc.Close()
		t.Fatalf("an anonymous client connected to the embedded NATS at %s", up.nats)
	} else if !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("anonymous connect: %v, want an authorization violation", err)
	}
	pwFile := filepath.Join(data, "nats_password")
	if st, err := os.Stat(pwFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("generated NATS password %s: %v; want mode 0600", pwFile, err)
	}
	pw, err := os.ReadFile(pwFile)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(up.nats, nats.UserInfo("faas", strings.TrimSpace(string(pw))), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("connect with the generated credentials: %v", err)
	}
	nc.Close()
	if strings.Contains(up.stderr.String(), strings.TrimSpace(string(pw))) {
		t.Error("the NATS password is in the log")
	}
	secretFile := filepath.Join(data, "jwt_secret")
	st, err := os.Stat(secretFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("generated secret %s: %v, mode %v; want 0600", secretFile, err, st.Mode())
	}
	secret, _ := os.ReadFile(secretFile)
	fx := apitest.NewFixture(t, up.base, secret)
	u := fx.Register(t, "upuser")
	img := dockertest.BuildBusyboxImage(t, "up-upper", "tr a-z A-Z")
	fn := fx.CreateFunction(t, u, "upper", map[string]any{"image_url": img, "timeout": 20, "memory_mb": 32})

	var workers struct {
		Workers []struct{ ID string }
	}
	eventually.Within(20*time.Second, func() bool {
		apitest.Do(t, up.base, http.MethodGet, "/api/v1/workers/status", u.Token, nil, nil).Decode(t, &workers)
		return len(workers.Workers) >= 2
	})
	if len(workers.Workers) != 2 || len(childPIDs(up.cmd.Process.Pid)) != 2 {
		t.Fatalf("workers %+v, child processes %v; want 2 of each", workers.Workers, childPIDs(up.cmd.Process.Pid))
	}

	r = apitest.Do(t, up.base, http.MethodPost, "/api/v1/executions?wait=true", u.Token, map[string]any{"function_id": fn, "input": "loud"}, nil)
	var x execution
	r.Decode(t, &x)
	if r.Status != http.StatusOK || x.Status != "complete" || x.output() != "LOUD" {
		t.Fatalf("execution through faas up: %d %s", r.Status, r.Body)
	}
	// An object on the same port, kept across the restart too.
	blob := apitest.RandomBytes(t, 1<<20)
	objPath := "/api/function-objects/" + fn + "/kept/blob.bin"
	if r := fx.Do(t, http.MethodPut, objPath, u.Token, blob); r.Status != http.StatusCreated {
		t.Fatalf("object through faas up: %d %s", r.Status, r.Body)
	}
	up.stop(t)

	// Same DATA_DIR: the user, its function, its execution and its token
	// survive; the generated secret is reused, not replaced.
	again := startUp(t, bin, env...)
	defer again.stop(t)
	if s2, _ := os.ReadFile(secretFile); string(s2) != string(secret) {
		t.Fatal("the generated JWT secret changed across a restart")
	}
	fx2 := apitest.NewFixture(t, again.base, secret)
	if r := fx2.Do(t, http.MethodGet, "/api/v1/functions/"+fn, u.Token, nil); r.Status != http.StatusOK {
		t.Fatalf("function after restart with the old token: %d %s", r.Status, r.Body)
	}
	if tok := fx2.Login(t, u.Username, u.Password); tok == "" {
		t.Fatal("login after restart")
	}
	var x2 execution
	fx2.Do(t, http.MethodGet, "/api/v1/executions/"+x.ID, u.Token, nil).Decode(t, &x2)
	if x2.Status != "complete" || x2.output() != "LOUD" {
		t.Fatalf("execution after restart: %+v", x2)
	}
	if r := fx2.Do(t, http.MethodGet, objPath, u.Token, nil); r.Status != http.StatusOK || !bytes.Equal(r.Body, blob) {
		t.Fatalf("object after restart: %d, %d bytes (want the %d put)", r.Status, len(r.Body), len(blob))
	}
}

// TestUpRefusesBadConfiguration: a bad value stops the process at start with
// a message naming the variable.
func TestUpRefusesBadConfiguration(t *testing.T) {
	bin := apisixtest.GoBuild(t, "github.com/faasplatform/faas/cmd/faas")
	cases := []struct{ key, val string }{
		{"SERVER_ADDRESS", "nonsense"},
		{"MAX_WORKERS", "0"},
		{"TOKEN_EXPIRATION", "forever"},
		{"JWT_SECRET", "too-short"},
		{"NATS_URL", "http://localhost:4222"},
		{"LOG_LEVEL", "chatty"},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "up")
			cmd.Env = append(os.Environ(), tc.key+"="+tc.val, "DATA_DIR="+t.TempDir())
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("exit: %v, want status 2; output %s", err, out)
			}
			if !strings.Contains(string(out), tc.key) {
				t.Fatalf("message does not name %s: %s", tc.key, out)
			}
			if tc.key == "JWT_SECRET" && strings.Contains(string(out), tc.val) {
				t.Fatalf("message shows the secret: %s", out)
			}
		})
	}
}

// TestUpHealthNamesAnUnreachableDocker: with the Docker daemon out of reach,
// health answers 503 naming the docker check, and the worker that cannot
// work dies and is logged (and replaced, with a backoff).
func TestUpHealthNamesAnUnreachableDocker(t *testing.T) {
	bin := apisixtest.GoBuild(t, "github.com/faasplatform/faas/cmd/faas")
	up := startUp(t, bin, "SERVER_ADDRESS=127.0.0.1:0", "NATS_LISTEN=127.0.0.1:0", "MIN_WORKERS=1",
		"DATA_DIR="+t.TempDir(), "LOG_LEVEL=warn", "NATS_URL=", "DOCKER_HOST=unix:///nonexistent/docker.sock")
	r := apitest.Do(t, up.base, http.MethodGet, "/api/v1/health", "", nil, nil)
	var h struct {
		Status string
		Checks map[string]string
		Error  struct{ Code string }
	}
	r.Decode(t, &h)
	if r.Status != http.StatusServiceUnavailable || h.Checks["docker"] == "ok" || h.Checks["nats"] != "ok" || h.Error.Code != "unavailable" {
		t.Fatalf("health: %d %s", r.Status, r.Body)
	}
	eventually.NoError(t, 30*time.Second, func() error {
		if !strings.Contains(up.stderr.String(), "worker died; replacing") {
			return fmt.Errorf("the dead worker was not logged:\n%s", up.stderr)
		}
		return nil
	})
	up.stop(t)
}

// TestUpKilledTakesItsWorkers: `faas up` killed with SIGKILL (no cleanup of
// its own) takes its worker processes with it (parent-death signal), so they
// never rejoin the next `faas up` untracked.
func TestUpKilledTakesItsWorkers(t *testing.T) {
	dockertest.RequireDocker(t)
	bin := apisixtest.GoBuild(t, "github.com/faasplatform/faas/cmd/faas")
	up := startUp(t, bin, "SERVER_ADDRESS=127.0.0.1:0", "NATS_LISTEN=127.0.0.1:0", "MIN_WORKERS=2",
		"DATA_DIR="+t.TempDir(), "LOG_LEVEL=warn", "JWT_SECRET=", "NATS_URL=")
	var children []int
	eventually.True(t, 30*time.Second, func() bool {
		children = childPIDs(up.cmd.Process.Pid)
		return len(children) == 2
	}, "faas up did not start 2 workers")
	if err := up.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-up.done
	eventually.True(t, 30*time.Second, func() bool {
		for _, pid := range children {
			// A process that is gone, or a zombie nobody reaped yet, is dead.
			b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
			if err == nil && !strings.Contains(string(b), ") Z ") {
				return false
			}
		}
		return true
	}, "worker processes %v outlived a killed faas up", children)
}
