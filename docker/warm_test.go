package docker

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faasplatform/faas/docker/dockertest"
	"github.com/faasplatform/faas/domain"
	"github.com/faasplatform/faas/internal/eventually"
)

// newWarmHarness is newHarness with warm containers on.
func newWarmHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	opts.InitPath = testInitPath
	return newHarness(t, opts)
}

// warmSpec is h.spec of a warm function of owner "owner-a", version "v1",
// with the FAAS_* variables a worker sets.
func (h *harness) warmSpec(img, input string) domain.RunSpec {
	s := h.spec(img, input)
	s.Owner, s.Version, s.Warm = "owner-a", "v1", true
	s.Env = map[string]string{"FAAS_EXECUTION_ID": s.ExecutionID, "FAAS_ATTEMPT": "1", "GREETING": "hi"}
	return s
}

// next is spec for the next execution of the same function.
func next(spec domain.RunSpec) domain.RunSpec {
	n := spec
	n.ExecutionID = "exec-" + randomID()
	n.Env = map[string]string{}
	for k, v := range spec.Env {
		n.Env[k] = v
	}
	n.Env["FAAS_EXECUTION_ID"] = n.ExecutionID
	return n
}

func mustRun(t *testing.T, h *harness, spec domain.RunSpec) domain.RunResult {
	t.Helper()
	res, err := h.rt.Run(context.Background(), spec)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

func TestWarmReuse(t *testing.T) {
	t.Parallel()
	h := newWarmHarness(t, Options{})
	// hostname is the container's short id; the background processes
	// (one of them out of the process group with setsid) must not outlive
	// the execution.
	// The files it leaves in /tmp must be gone too.
	img := dockertest.BuildBusyboxImage(t, "warm-reuse", `hostname; echo "id=$FAAS_EXECUTION_ID greeting=$GREETING input=$(cat)"; ps -o args | grep -c '^sleep 100[01]'; ls -A /tmp | wc -l; mkdir /tmp/d; echo x > /tmp/d/f; echo y > /tmp/.hidden; sleep 1000 & setsid sleep 1001 & exit 0`)
	first := h.warmSpec(img, "one")
	r1 := mustRun(t, h, first)
	second := next(first)
	second.Input = []byte("two")
	r2 := mustRun(t, h, second)

	l1, l2 := strings.Split(string(r1.Stdout), "\n"), strings.Split(string(r2.Stdout), "\n")
	if len(l1) < 4 || len(l2) < 4 {
		t.Fatalf("stdout %q then %q", r1.Stdout, r2.Stdout)
	}
	if l1[0] != l2[0] {
		t.Errorf("containers %q then %q, want one warm container", l1[0], l2[0])
	}
	if want := "id=" + first.ExecutionID + " greeting=hi input=one"; l1[1] != want {
		t.Errorf("first run %q, want %q", l1[1], want)
	}
	if want := "id=" + second.ExecutionID + " greeting=hi input=two"; l2[1] != want {
		t.Errorf("second run %q, want %q (its own id, its own empty input)", l2[1], want)
	}
	if l1[2] != "0" || l2[2] != "0" {
		t.Errorf("the runs see %s then %s process(es) of an earlier run's sleeps, want 0", l1[2], l2[2])
	}
	if len(l2) < 4 || strings.TrimSpace(l2[3]) != "0" {
		t.Errorf("the second run sees files of the first in /tmp: %q", l2[3:])
	}
	if !r1.ColdStart || r2.ColdStart {
		t.Errorf("ColdStart %v then %v, want true then false", r1.ColdStart, r2.ColdStart)
	}
	if r1.ExitCode != 0 || r2.ExitCode != 0 {
		t.Errorf("exit codes %d, %d (stderr %q)", r1.ExitCode, r2.ExitCode, r2.Stderr)
	}
	if n := len(dockertest.Containers(t, LabelWorkerID, h.workerID)); n != 1 {
		t.Errorf("%d containers, want the one warm container", n)
	}
	if r2.StartupDuration > r1.StartupDuration {
		t.Errorf("warm startup %v longer than cold %v", r2.StartupDuration, r1.StartupDuration)
	}
}

func TestWarmOutcomes(t *testing.T) {
	t.Parallel()
	h := newWarmHarness(t, Options{})
	tests := []struct {
		name     string
		script   string
		timeout  time.Duration
		exit     int
		stdout   string // prefix
		stdoutN  int    // length, when > 0
		overflow bool
		stderr   string // contained
		stderrN  int
		trunc    bool
		timedOut bool
		oom      bool
	}{
		{name: "exit code and stderr", script: `echo partial; echo "boom: bad input" >&2; exit 3`, exit: 3, stdout: "partial\n", stderr: "boom: bad input\n"},
		{name: "not root", script: "id -u", stdout: "65534\n"},
		{name: "read-only root", script: "touch /x", exit: 1, stderr: "Read-only file system"},
		{name: "no capabilities", script: "grep CapEff /proc/self/status", stdout: "CapEff:\t0000000000000000\n"},
		{name: "timeout", script: "echo started; sleep 30", timeout: time.Second, exit: 137, stdout: "started\n", timedOut: true},
		{name: "output flood", script: "yes", exit: anyExit, stdoutN: domain.MaxOutputBytes, overflow: true},
		{name: "logs truncated", script: "head -c 2097152 /dev/zero >&2; echo ok", stdout: "ok\n", stderrN: domain.MaxLogBytes, trunc: true},
		// tail keeps its input until a newline /dev/zero never sends.
		{name: "oom", script: "head -c 200m /dev/zero | tail", exit: 137, oom: true},
		{name: "sigkill without oom", script: "sh -c 'kill -9 $$'; exit $?", exit: 137},
		// init can be neither signalled to death nor inspected by the
		// function (same user): the second run finds it alive.
		{name: "signals to init", script: "for s in TERM INT HUP QUIT USR1 USR2 ALRM KILL STOP; do kill -$s 1; done; echo alive", stdout: "alive\n"},
		{name: "init not dumpable", script: "cat /proc/1/environ", exit: 1, stderr: "Permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			img := dockertest.BuildBusyboxImage(t, "warm-"+imageTag(t), tt.script)
			spec := h.warmSpec(img, "")
			spec.FunctionID = "fn-" + imageTag(t)
			if tt.timeout > 0 {
				spec.Timeout = tt.timeout
			}
			if tt.oom {
				spec.MemoryMB = 16
			}
			// Twice: the second run, in the same container or a fresh
			// one, behaves the same.
			for i := range 2 {
				res := mustRun(t, h, spec)
				if tt.exit != anyExit && res.ExitCode != tt.exit {
					t.Errorf("run %d: exit code %d, want %d (stderr %q)", i, res.ExitCode, tt.exit, head(res.Stderr))
				}
				if !strings.HasPrefix(string(res.Stdout), tt.stdout) {
					t.Errorf("run %d: stdout %q, want %q", i, head(res.Stdout), tt.stdout)
				}
				if tt.stdoutN > 0 && len(res.Stdout) != tt.stdoutN {
					t.Errorf("run %d: stdout is %d bytes, want %d", i, len(res.Stdout), tt.stdoutN)
				}
				if res.StdoutOverflow != tt.overflow {
					t.Errorf("run %d: StdoutOverflow %v, want %v", i, res.StdoutOverflow, tt.overflow)
				}
				if !strings.Contains(string(res.Stderr), tt.stderr) {
					t.Errorf("run %d: stderr %q, want it to contain %q", i, head(res.Stderr), tt.stderr)
				}
				if tt.stderrN > 0 && len(res.Stderr) != tt.stderrN {
					t.Errorf("run %d: stderr is %d bytes, want %d", i, len(res.Stderr), tt.stderrN)
				}
				if res.StderrTruncated != tt.trunc || res.TimedOut != tt.timedOut || res.OOMKilled != tt.oom || res.Cancelled {
					t.Errorf("run %d: truncated %v timed out %v OOM %v cancelled %v, want %v %v %v false",
						i, res.StderrTruncated, res.TimedOut, res.OOMKilled, res.Cancelled, tt.trunc, tt.timedOut, tt.oom)
				}
				// The container serves again, except after an OOM.
				if i == 1 && res.ColdStart != tt.oom {
					t.Errorf("second run: ColdStart %v, want %v (a new container only after an OOM)", res.ColdStart, tt.oom)
				}
				spec = next(spec)
			}
		})
	}
}

func TestWarmBrokenEntrypoint(t *testing.T) {
	t.Parallel()
	h := newWarmHarness(t, Options{})
	for _, tt := range []struct {
		name, entrypoint string
		exit             int
	}{
		{"missing", `["/nope"]`, 127},
		{"not executable", `["/bin"]`, 126},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			img := dockertest.BuildImage(t, "warm-"+imageTag(t), "FROM scratch\nCOPY hello /bin/hello\nENTRYPOINT "+tt.entrypoint+"\n",
				map[string][]byte{"hello": []byte("not a program")})
			spec := h.warmSpec(img, "")
			spec.FunctionID = "fn-" + imageTag(t)
			res := mustRun(t, h, spec)
			if res.ExitCode != tt.exit || !strings.Contains(string(res.Stderr), "failed to start") {
				t.Errorf("exit %d stderr %q, want exit %d and the reason", res.ExitCode, res.Stderr, tt.exit)
			}
		})
	}
}

func TestWarmCancel(t *testing.T) {
	t.Parallel()
	h := newWarmHarness(t, Options{})
	img := dockertest.BuildBusyboxImage(t, "warm-cancel", `if [ "$(cat)" = slow ]; then echo started; sleep 30; fi; hostname`)
	spec := h.warmSpec(img, "fast")
	first := mustRun(t, h, spec)

	slow := next(spec)
	slow.Input = []byte("slow")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan domain.RunResult, 1)
	go func() {
		res, err := h.rt.Run(ctx, slow)
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		done <- res
	}()
	// The run holds the container: none is idle until it ends.
	eventually.True(t, 10*time.Second, func() bool { return h.rt.IdleWarm() == 0 }, "the slow run never took the idle container")
	cancel()
	var res domain.RunResult
	select {
	case res = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30 s of the cancel")
	}
	if !res.Cancelled || res.TimedOut {
		t.Errorf("Cancelled %v TimedOut %v, want only Cancelled", res.Cancelled, res.TimedOut)
	}
	// The cancelled container is gone; the next run starts a new one.
	third := mustRun(t, h, next(spec))
	if !third.ColdStart || string(third.Stdout) == string(first.Stdout) {
		t.Errorf("after a cancel: ColdStart %v, container %q (first %q): want a new container", third.ColdStart, third.Stdout, first.Stdout)
	}
}

func TestWarmNeverShared(t *testing.T) {
	t.Parallel()
	h := newWarmHarness(t, Options{})
	img := dockertest.BuildBusyboxImage(t, "warm-host", "hostname")
	host := func(spec domain.RunSpec) (string, bool) {
		res := mustRun(t, h, spec)
		return string(res.Stdout), res.ColdStart
	}
	base := h.warmSpec(img, "")
	c0, _ := host(base)

	tests := []struct {
		name   string
		change func(*domain.RunSpec)
	}{
		{"function updated", func(s *domain.RunSpec) { s.Version = "v2" }},
		{"another owner, same image and function id", func(s *domain.RunSpec) { s.Owner = "owner-b" }},
		{"another function", func(s *domain.RunSpec) { s.FunctionID = "fn-other" }},
		{"env changed", func(s *domain.RunSpec) { s.Env["GREETING"] = "hello" }},
		{"limits changed", func(s *domain.RunSpec) { s.MemoryMB = 48 }},
	}
	for _, tt := range tests {
		s := next(base)
		tt.change(&s)
		c, cold := host(s)
		if c == c0 || !cold {
			t.Errorf("%s: container %q cold %v, want a new container (not %q)", tt.name, c, cold, c0)
		}
	}
	// warm false: a container of its own each time, removed after.
	cold := next(base)
	cold.Warm = false
	c1, cold1 := host(cold)
	c2, cold2 := host(next(cold))
	if c1 == c2 || c1 == c0 || !cold1 || !cold2 {
		t.Errorf("warm false: containers %q, %q cold %v %v, want two new ones", c1, c2, cold1, cold2)
	}
	// The update retired the v1 container: only the newest version's
	// containers are idle now.
	if n := h.rt.Retire("owner-a", "fn-test"); n != 1 {
		t.Errorf("Retire of the function = %d idle containers, want 1 (the v1 one was retired by the update)", n)
	}
}

func TestWarmIdleTimeoutAndClose(t *testing.T) {
	t.Parallel()
	img := dockertest.BuildBusyboxImage(t, "warm-host", "hostname")

	t.Run("idle timeout", func(t *testing.T) {
		h := newWarmHarness(t, Options{WarmIdleTimeout: 300 * time.Millisecond})
		mustRun(t, h, h.warmSpec(img, ""))
		dockertest.WaitNoContainers(t, LabelWorkerID, h.workerID, 20*time.Second)
	})
	t.Run("close", func(t *testing.T) {
		h := newWarmHarness(t, Options{})
		spec := h.warmSpec(img, "")
		mustRun(t, h, spec)
		other := next(spec)
		other.FunctionID = "fn-2"
		mustRun(t, h, other)
		if n := h.rt.IdleWarm(); n != 2 {
			t.Errorf("%d idle warm containers, want 2", n)
		}
		if err := h.rt.Close(); err != nil {
			t.Fatal(err)
		}
		dockertest.AssertNoContainers(t, LabelWorkerID, h.workerID)
	})
}

func TestWarmMaxIdle(t *testing.T) {
	t.Parallel()
	h := newWarmHarness(t, Options{WarmMaxIdle: 1})
	img := dockertest.BuildBusyboxImage(t, "warm-host", "hostname")
	a := h.warmSpec(img, "")
	mustRun(t, h, a)
	b := next(a)
	b.FunctionID = "fn-b"
	mustRun(t, h, b)
	if n := h.rt.IdleWarm(); n != 1 {
		t.Errorf("%d idle, want 1", n)
	}
	dockertest.WaitNoContainers(t, LabelFunctionID, a.FunctionID, 20*time.Second)
}

func TestColdStartSlots(t *testing.T) {
	r := newRuntime(nil, nil, Options{ColdStartConcurrency: 1})
	release, ok := r.acquireStart(context.Background())
	if !ok {
		t.Fatal("first slot refused")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, ok := r.acquireStart(ctx); ok {
		t.Fatal("a second start got a slot while the only one is taken")
	}
	release()
	release2, ok := r.acquireStart(context.Background())
	if !ok {
		t.Fatal("slot not given back")
	}
	release2()
}

// TestColdStartQueued: with every start slot taken, a run (cold or warm)
// waits for one before it creates its container, and the wait counts in
// its StartupDuration.
func TestColdStartQueued(t *testing.T) {
	t.Parallel()
	h := newWarmHarness(t, Options{ColdStartConcurrency: 1})
	img := dockertest.BuildBusyboxImage(t, "rt-cat", scriptCat)
	for _, warm := range []bool{false, true} {
		release, ok := h.rt.acquireStart(context.Background())
		if !ok {
			t.Fatal("no slot")
		}
		spec := h.warmSpec(img, "x")
		spec.Warm = warm
		done := make(chan domain.RunResult, 1)
		go func() {
			res, err := h.rt.Run(context.Background(), spec)
			if err != nil {
				t.Errorf("warm %v: Run: %v", warm, err)
			}
			done <- res
		}()
		// The run queues for the slot (a signal, not a guess); then the
		// slot stays taken for held, which its startup must include.
		eventually.True(t, 30*time.Second, func() bool { return h.rt.waitingStarts() == 1 }, "warm %v: the run never queued for a start slot", warm)
		const held = 500 * time.Millisecond
		time.Sleep(held) // the hold itself: the run is known to be waiting
		select {
		case res := <-done:
			t.Fatalf("warm %v: the run ended while every slot was taken: %+v", warm, res)
		default:
		}
		release()
		res := <-done
		if res.ExitCode != 0 || string(res.Stdout) != "x" || !res.ColdStart {
			t.Fatalf("warm %v: %+v", warm, res)
		}
		if res.StartupDuration < held {
			t.Errorf("warm %v: StartupDuration %v, want at least the %v it queued", warm, res.StartupDuration, held)
		}
	}
}

// TestWarmIdleContainerDied: a warm container killed from outside while
// idle is not given to the next execution, which starts a fresh one.
func TestWarmIdleContainerDied(t *testing.T) {
	t.Parallel()
	h := newWarmHarness(t, Options{})
	img := dockertest.BuildBusyboxImage(t, "warm-host", "hostname")
	spec := h.warmSpec(img, "")
	first := mustRun(t, h, spec)
	ids := dockertest.Containers(t, LabelWorkerID, h.workerID)
	if len(ids) != 1 {
		t.Fatalf("%d containers, want 1", len(ids))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := dockertest.Client(t).ContainerKill(ctx, ids[0], "KILL"); err != nil {
		t.Fatal(err)
	}
	idleDead := func() bool {
		h.rt.pool.mu.Lock()
		defer h.rt.pool.mu.Unlock()
		for _, l := range h.rt.pool.idle {
			for _, c := range l {
				return c.dead()
			}
		}
		return false
	}
	eventually.True(t, 20*time.Second, idleDead, "the killed container's stream did not end")
	second := mustRun(t, h, next(spec))
	if !second.ColdStart || string(second.Stdout) == string(first.Stdout) || second.ExitCode != 0 {
		t.Errorf("after the kill: %+v (first in %q), want a fresh container", second, first.Stdout)
	}
}

// TestWarmForkBomb: a fork bomb in a warm container is stopped by the
// timeout, init cleans every process up (or the container is replaced),
// and the next execution of the function runs normally.
func TestWarmForkBomb(t *testing.T) {
	t.Parallel()
	h := newWarmHarness(t, Options{})
	img := dockertest.BuildBusyboxImage(t, "warm-forkbomb", `if [ "$(cat)" = bomb ]; then f(){ f|f& }; f; sleep 30; fi; ps -o pid | wc -l`)
	spec := h.warmSpec(img, "bomb")
	spec.CPUs, spec.Timeout = 1, 2*time.Second
	res := mustRun(t, h, spec)
	if !res.TimedOut {
		t.Errorf("TimedOut false (exit %d, stderr %q), want the bomb stopped by the timeout", res.ExitCode, head(res.Stderr))
	}
	after := next(spec)
	after.Input = []byte("calm")
	res = mustRun(t, h, after)
	// ps, wc, sh, init and the header line: nothing of the bomb is left.
	if n, err := strconv.Atoi(strings.TrimSpace(string(res.Stdout))); res.ExitCode != 0 || err != nil || n > 5 {
		t.Errorf("after the bomb: exit %d, %q lines of ps (stderr %q), want a clean container", res.ExitCode, res.Stdout, head(res.Stderr))
	}
	t.Logf("after the bomb: cold start %v, ps lines %s", res.ColdStart, strings.TrimSpace(string(res.Stdout)))
}
