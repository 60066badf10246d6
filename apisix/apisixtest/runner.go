package apisixtest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/faasplatform/faas/internal/eventually"
)

// Runner is a plugin runner process started the way APISIX starts the
// ext-plugin.cmd: with APISIX_LISTEN_ADDRESS and APISIX_CONF_EXPIRE_TIME in
// an environment that holds nothing else but the variables given (nginx
// passes only those listed in nginx_config.envs).
type Runner struct {
	t      testing.TB
	binary string
	args   []string
	env    []string
	socket string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	err  error // the last process's exit error
	out  *SyncBuffer
}

// StartupTimeout bounds how long StartRunner and Restart wait for the socket.
const StartupTimeout = 15 * time.Second

// StopGrace is how long Stop waits after SIGTERM before SIGKILL, like APISIX.
const StopGrace = time.Second

// StartRunner starts binaryPath with args and returns once it accepts
// connections on its socket; it fails the test otherwise. env is the whole
// environment of the process (as "NAME=value"); StartRunner adds
// APISIX_CONF_EXPIRE_TIME=3600 and APISIX_LISTEN_ADDRESS=unix:<socket> in a
// fresh short temporary directory unless env sets them. The process is
// stopped and the directory removed when the test ends; the process's output
// is logged if the test failed.
func StartRunner(t testing.TB, binaryPath string, args []string, env []string) *Runner {
	t.Helper()
	r := &Runner{t: t, binary: binaryPath, args: args, out: &SyncBuffer{}}
	var hasTTL bool
	for _, kv := range env {
		switch {
		case strings.HasPrefix(kv, "APISIX_LISTEN_ADDRESS="):
			r.socket = strings.TrimPrefix(strings.TrimPrefix(kv, "APISIX_LISTEN_ADDRESS="), "unix:")
		case strings.HasPrefix(kv, "APISIX_CONF_EXPIRE_TIME="):
			hasTTL = true
		}
	}
	r.env = append([]string(nil), env...)
	if !hasTTL {
		r.env = append(r.env, "APISIX_CONF_EXPIRE_TIME=3600")
	}
	if r.socket == "" {
		// t.TempDir paths can be longer than a Unix socket address allows.
		dir, err := os.MkdirTemp("", "apisix-runner-")
		if err != nil {
			t.Fatalf("runner socket dir: %v", err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
		r.socket = filepath.Join(dir, "runner.sock")
		r.env = append(r.env, "APISIX_LISTEN_ADDRESS=unix:"+r.socket)
	}
	t.Cleanup(func() {
		r.Stop()
		if t.Failed() {
			t.Logf("runner output:\n%s", r.Output())
		}
	})
	if err := r.start(); err != nil {
		t.Fatalf("start runner: %v\noutput:\n%s", err, r.Output())
	}
	return r
}

// SocketPath is the path of the runner's Unix socket.
func (r *Runner) SocketPath() string { return r.socket }

// PID is the process id of the running runner (0 when stopped).
func (r *Runner) PID() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil || r.cmd.Process == nil {
		return 0
	}
	return r.cmd.Process.Pid
}

// Output is everything the runner processes wrote so far (stdout and stderr
// merged, as APISIX reads them).
func (r *Runner) Output() string { return r.out.String() }

// WaitForOutput waits until the runners' output contains substr, or the
// timeout; the output reaches the test through a pipe, a little later than
// the runner writes it.
func (r *Runner) WaitForOutput(substr string, timeout time.Duration) bool {
	return eventually.Within(timeout, func() bool { return strings.Contains(r.out.String(), substr) })
}

// ExitErr is the exit error of the last stopped process (nil for a clean exit).
func (r *Runner) ExitErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Restart stops the runner and starts it again on the same socket; the new
// process has none of the old one's conf tokens. It fails the test if the
// new process does not come up.
func (r *Runner) Restart() {
	r.t.Helper()
	r.Stop()
	if err := r.start(); err != nil {
		r.t.Fatalf("restart runner: %v\noutput:\n%s", err, r.Output())
	}
}

// Stop sends SIGTERM, waits StopGrace, then kills the process, as APISIX
// does on exit. Calls in progress are not waited for. Stopping a stopped
// runner does nothing.
func (r *Runner) Stop() {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.cmd = nil
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(StopGrace):
		_ = cmd.Process.Kill()
		<-done
	}
}

func (r *Runner) start() error {
	cmd := exec.Command(r.binary, r.args...)
	cmd.Env = r.env
	cmd.Stdout = r.out
	cmd.Stderr = r.out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("exec %s: %w", r.binary, err)
	}
	done := make(chan struct{})
	go func() {
		err := cmd.Wait()
		r.mu.Lock()
		r.err = err
		r.mu.Unlock()
		close(done)
	}()
	r.mu.Lock()
	r.cmd, r.done = cmd, done
	r.mu.Unlock()

	listening, exited := false, false
	eventually.Within(StartupTimeout, func() bool {
		// A stale socket file of a killed process refuses connections: only a
		// successful dial proves the new process listens.
		if c, err := net.DialTimeout("unix", r.socket, 200*time.Millisecond); err == nil {
			_ = c.Close()
			listening = true
			return true
		}
		select {
		case <-done:
			exited = true
		default:
		}
		return exited
	})
	switch {
	case listening:
		return nil
	case exited:
		r.mu.Lock()
		r.cmd = nil
		err := r.err
		r.mu.Unlock()
		return fmt.Errorf("runner exited before listening on %s: %v", r.socket, err)
	default:
		r.Stop()
		return errors.New("runner did not listen on " + r.socket + " within " + StartupTimeout.String())
	}
}

// SyncBuffer is a bytes.Buffer that a process may write (both of its
// streams) while a test reads it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// GoBuild builds the main package pkg (an import path, e.g.
// "github.com/faasplatform/faas/cmd/faas") into a temporary directory and
// returns the binary's path. Builds are cached per test binary, so that many
// tests can share one.
func GoBuild(t testing.TB, pkg string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if b, ok := builds[pkg]; ok {
		return b
	}
	dir, err := os.MkdirTemp("", "apisixtest-bin-")
	if err != nil {
		t.Fatalf("build dir: %v", err)
	}
	bin := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	builds[pkg] = bin
	buildDirs = append(buildDirs, dir)
	return bin
}

var (
	buildMu   sync.Mutex
	builds    = map[string]string{}
	buildDirs []string
)

// CleanupBuilds removes the binaries GoBuild made; call it from TestMain
// after m.Run.
func CleanupBuilds() {
	buildMu.Lock()
	defer buildMu.Unlock()
	for _, d := range buildDirs {
		_ = os.RemoveAll(d)
	}
	buildDirs = nil
	clear(builds)
}
