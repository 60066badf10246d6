package autoscaler

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// processGone: no such process, or only its zombie is left (an orphan's
// reaper may be slow to wait for it).
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	return s[i+2] == 'Z' || s[i+2] == 'X'
}

// SIGKILL a process that owns a pool: its worker gets the parent death
// signal and exits.
func TestPoolWorkersDieWithParent(t *testing.T) {
	parent := exec.Command(os.Args[0], "-test.run=^$")
	parent.Env = append(os.Environ(), helperEnv+"=pool-parent")
	parent.Stderr = os.Stderr
	stdin, err := parent.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = parent.Process.Kill(); _ = parent.Wait() })

	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("helper said %q: %v", line, err)
	}
	var pid int
	if _, err := fmt.Sscanf(line, "child %d", &pid); err != nil || pid <= 0 {
		t.Fatalf("helper said %q: %v", line, err)
	}
	t.Cleanup(func() {
		if !processGone(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	if processGone(pid) {
		t.Fatalf("worker %d not running before its parent was killed", pid)
	}

	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = parent.Wait()
	eventually(t, fmt.Sprintf("worker %d gone after its parent was killed", pid), func() bool { return processGone(pid) })
}

// The parent death signal fires when the thread that started the worker
// exits. A Scale from a goroutine whose locked thread then ends must not
// kill the worker: the pool starts workers on its own thread.
func TestPoolWorkerOutlivesStartingThread(t *testing.T) {
	h := newHarness(t, Options{}, sleeper)
	type result struct {
		tid int
		err error
	}
	res := make(chan result, 1)
	var scale func()
	scale = func() {
		runtime.LockOSThread() // never unlocked: the runtime ends this thread when the goroutine returns
		if syscall.Gettid() == os.Getpid() {
			// The runtime never ends the main thread. Hold it, so that the
			// next goroutine runs on another one, then let it go.
			done := make(chan struct{})
			go func() { scale(); close(done) }()
			<-done
			runtime.UnlockOSThread()
			return
		}
		res <- result{syscall.Gettid(), h.pool.Scale(1)}
	}
	go scale()
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	task := fmt.Sprintf("/proc/self/task/%d", r.tid)
	eventually(t, "the starting thread ended", func() bool {
		_, err := os.Stat(task)
		return errors.Is(err, os.ErrNotExist)
	})
	// A parent death signal is queued as the thread exits, before its task
	// leaves /proc; had the worker got one, it would die of SIGTERM, not of
	// this SIGKILL.
	id := h.pool.IDs()[0]
	_ = syscall.Kill(h.pid(id), syscall.SIGKILL)
	eventually(t, "the worker's death logged", func() bool { return len(h.died(id)) == 1 })
	if sig := h.died(id)[0].ContextMap()["signal"]; sig != "killed" {
		t.Fatalf("worker died of %v, want killed (by the test): the parent death signal fired early", sig)
	}
}
