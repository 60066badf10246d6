package docker

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"go.uber.org/zap/zaptest"

	"github.com/faasplatform/faas/docker/dockertest"
	"github.com/faasplatform/faas/domain"
)

// Scripts of the test images (busybox sh -c).
const (
	scriptCat   = "cat"
	scriptSleep = "echo started; sleep 30"
)

// harness is one test's Runtime and its worker ID: every container the test
// makes carries faas.worker_id=workerID, and the cleanup checks none is left.
type harness struct {
	rt       *Runtime
	workerID string
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	dockertest.RequireDocker(t)
	rt, err := New(zaptest.NewLogger(t), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h := &harness{rt: rt, workerID: "test-" + randomID()}
	t.Cleanup(func() {
		if err := rt.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		// Close waited for the removals: nothing may remain.
		dockertest.AssertNoContainers(t, LabelWorkerID, h.workerID)
	})
	return h
}

// spec returns a small run of img with a fresh execution ID.
func (h *harness) spec(img string, input string) domain.RunSpec {
	return domain.RunSpec{
		ExecutionID: "exec-" + randomID(),
		FunctionID:  "fn-test",
		WorkerID:    h.workerID,
		Image:       img,
		Input:       []byte(input),
		MemoryMB:    32,
		CPUs:        0.5,
		Timeout:     10 * time.Second,
		Network:     domain.NetworkNone,
	}
}

func randomID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// anyExit in a table accepts every exit code.
const anyExit = -1

func imageTag(t *testing.T) string {
	return "rt-" + strings.Trim(strings.ToLower(regexp.MustCompile(`[^a-zA-Z0-9]+`).ReplaceAllString(t.Name(), "-")), "-")
}

func TestRunOutcomes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	big := strings.Repeat("x", domain.MaxInputBytes)

	tests := []struct {
		name     string
		script   string
		input    string
		env      map[string]string
		exit     int
		stdout   *string // exact, when set
		stdoutN  int     // length, when stdout is nil
		overflow bool
		stderr   string // contained
		stderrN  int    // length, when set
		trunc    bool
	}{
		{name: "echo", script: scriptCat, input: "hello, world\n", stdout: ptr("hello, world\n")},
		{name: "empty input", script: scriptCat, stdout: ptr("")},
		{name: "not root", script: "id -u; id -g", stdout: ptr("65534\n65534\n")},
		{name: "max input", script: "wc -c", input: big, stdout: ptr(fmt.Sprintf("%d\n", len(big)))},
		{name: "input ignored", script: "echo done", input: big, stdout: ptr("done\n")},
		{
			name: "env", script: `echo "$FAAS_EXECUTION_ID=$GREETING"`,
			env:    map[string]string{"FAAS_EXECUTION_ID": "e-1", "GREETING": "hi there"},
			stdout: ptr("e-1=hi there\n"),
		},
		{
			name: "exit code and stderr", script: `echo partial; echo "boom: bad input" >&2; exit 3`,
			exit: 3, stdout: ptr("partial\n"), stderr: "boom: bad input\n",
		},
		{name: "exactly max output", script: "head -c 1048576 /dev/zero", stdoutN: domain.MaxOutputBytes},
		// Killed once past the cap, unless it ended first: any exit code.
		{name: "output overflow", script: "head -c 2097152 /dev/zero", exit: anyExit, stdoutN: domain.MaxOutputBytes, overflow: true},
		{name: "logs truncated", script: "head -c 2097152 /dev/zero >&2; echo ok", stdout: ptr("ok\n"), stderrN: domain.MaxLogBytes, trunc: true},
		{name: "read-only root", script: "touch /x", exit: 1, stdout: ptr(""), stderr: "Read-only file system"},
		{name: "tmp writable", script: "echo kept > /tmp/f && cat /tmp/f", stdout: ptr("kept\n")},
		{name: "tmp noexec", script: "cp /bin/busybox /tmp/bb && /tmp/bb true", exit: 126, stdout: ptr(""), stderr: "Permission denied"},
		{name: "no capabilities", script: "grep CapEff /proc/self/status", stdout: ptr("CapEff:\t0000000000000000\n")},
		// PID 1 ignores signals sent from its own namespace: kill a child.
		{name: "sigkill without oom", script: "sh -c 'kill -9 $$'; exit $?", exit: 137, stdout: ptr("")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			img := dockertest.BuildBusyboxImage(t, imageTag(t), tt.script)
			spec := h.spec(img, tt.input)
			spec.Env = tt.env
			res, err := h.rt.Run(context.Background(), spec)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if tt.exit != anyExit && res.ExitCode != tt.exit {
				t.Errorf("exit code %d, want %d (stderr %q)", res.ExitCode, tt.exit, head(res.Stderr))
			}
			if tt.stdout != nil && string(res.Stdout) != *tt.stdout {
				t.Errorf("stdout %q, want %q", head(res.Stdout), *tt.stdout)
			}
			if tt.stdout == nil && len(res.Stdout) != tt.stdoutN {
				t.Errorf("stdout is %d bytes, want %d", len(res.Stdout), tt.stdoutN)
			}
			if res.StdoutOverflow != tt.overflow {
				t.Errorf("StdoutOverflow %v, want %v", res.StdoutOverflow, tt.overflow)
			}
			if !strings.Contains(string(res.Stderr), tt.stderr) {
				t.Errorf("stderr %q, want it to contain %q", head(res.Stderr), tt.stderr)
			}
			if tt.stderrN > 0 && len(res.Stderr) != tt.stderrN {
				t.Errorf("stderr is %d bytes, want %d", len(res.Stderr), tt.stderrN)
			}
			if res.StderrTruncated != tt.trunc {
				t.Errorf("StderrTruncated %v, want %v", res.StderrTruncated, tt.trunc)
			}
			if res.OOMKilled || res.TimedOut || res.Cancelled {
				t.Errorf("OOMKilled %v TimedOut %v Cancelled %v, want all false", res.OOMKilled, res.TimedOut, res.Cancelled)
			}
			if res.StartupDuration <= 0 || res.RunDuration <= 0 {
				t.Errorf("StartupDuration %v RunDuration %v, want both > 0", res.StartupDuration, res.RunDuration)
			}
		})
	}
}

func TestRunBrokenEntrypoint(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	tests := []struct {
		name       string
		entrypoint string
		exit       int
	}{
		{"missing", `["/nope"]`, 127},
		{"not executable", `["/bin"]`, 126},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			img := dockertest.BuildImage(t, imageTag(t), "FROM scratch\nCOPY hello /bin/hello\nENTRYPOINT "+tt.entrypoint+"\n",
				map[string][]byte{"hello": []byte("not a program")})
			res, err := h.rt.Run(context.Background(), h.spec(img, ""))
			if err != nil {
				t.Fatalf("Run: %v (a broken image is the function's failure, not the platform's)", err)
			}
			if res.ExitCode != tt.exit || !strings.Contains(string(res.Stderr), "failed to start") {
				t.Errorf("exit %d stderr %q, want exit %d and the reason", res.ExitCode, res.Stderr, tt.exit)
			}
		})
	}
}

func TestRunTimeout(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	img := dockertest.BuildBusyboxImage(t, "rt-sleep", scriptSleep)
	spec := h.spec(img, "")
	spec.Timeout = time.Second

	began := time.Now()
	res, err := h.rt.Run(context.Background(), spec)
	took := time.Since(began)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !res.TimedOut || res.Cancelled || res.OOMKilled {
		t.Errorf("TimedOut %v Cancelled %v OOMKilled %v, want only TimedOut", res.TimedOut, res.Cancelled, res.OOMKilled)
	}
	if res.ExitCode != 137 {
		t.Errorf("exit code %d, want 137 (SIGKILL)", res.ExitCode)
	}
	if string(res.Stdout) != "started\n" {
		t.Errorf("stdout %q, want the output written before the kill", res.Stdout)
	}
	// The script sleeps 30 s: 20 s tells the timeout applied without
	// failing on a loaded machine.
	if res.RunDuration < time.Second || took > 20*time.Second {
		t.Errorf("RunDuration %v, Run took %v: want about 1 s", res.RunDuration, took)
	}
	dockertest.WaitNoContainers(t, LabelExecutionID, spec.ExecutionID, 30*time.Second)
}

func TestRunCancel(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	img := dockertest.BuildBusyboxImage(t, "rt-sleep", scriptSleep)

	t.Run("while running", func(t *testing.T) {
		spec := h.spec(img, "")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		type outcome struct {
			res domain.RunResult
			err error
		}
		done := make(chan outcome, 1)
		go func() {
			res, err := h.rt.Run(ctx, spec)
			done <- outcome{res, err}
		}()
		dockertest.WaitRunningContainer(t, LabelExecutionID, spec.ExecutionID, 10*time.Second)
		cancelled := time.Now()
		cancel()
		// A cancel usually ends the run within 2 s; the bounds below are
		// generous for a loaded machine. A cancel that does not work shows
		// anyway: Run then ends at the 10 s timeout, TimedOut.
		var o outcome
		select {
		case o = <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return within 30 s of the cancel")
		}
		t.Logf("Run returned %v after the cancel", time.Since(cancelled).Round(time.Millisecond))
		if o.err != nil {
			t.Fatalf("Run: %v", o.err)
		}
		if !o.res.Cancelled || o.res.TimedOut {
			t.Errorf("Cancelled %v TimedOut %v, want only Cancelled", o.res.Cancelled, o.res.TimedOut)
		}
		dockertest.WaitNoContainers(t, LabelExecutionID, spec.ExecutionID, 30*time.Second-time.Since(cancelled))
	})

	t.Run("before run", func(t *testing.T) {
		spec := h.spec(img, "")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		res, err := h.rt.Run(ctx, spec)
		if err != nil || !res.Cancelled {
			t.Fatalf("Run = %+v, %v; want Cancelled", res, err)
		}
		dockertest.AssertNoContainers(t, LabelExecutionID, spec.ExecutionID)
	})
}

func TestRunForkBomb(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	// PID 1 blocks on a FIFO nobody writes to, so that it lives, without
	// using CPU, while the bomb goes.
	img := dockertest.BuildBusyboxImage(t, "rt-forkbomb", "mkfifo /tmp/p; f(){ f|f& }; f; while :; do read x < /tmp/p; done")
	spec := h.spec(img, "")
	spec.CPUs = 1
	spec.Timeout = 3 * time.Second

	type outcome struct {
		res domain.RunResult
		err error
	}
	done := make(chan outcome, 1)
	began := time.Now()
	go func() {
		res, err := h.rt.Run(context.Background(), spec)
		done <- outcome{res, err}
	}()

	id := dockertest.WaitRunningContainer(t, LabelExecutionID, spec.ExecutionID, 10*time.Second)
	cli := dockertest.Client(t)
	var maxPids uint64
	var hostForks int
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline) && maxPids < DefaultPidsLimit; {
		stats, err := cli.ContainerStatsOneShot(context.Background(), id)
		if err != nil {
			break // the container is gone
		}
		var s container.StatsResponse
		err = json.NewDecoder(stats.Body).Decode(&s)
		stats.Body.Close()
		if err == nil && s.PidsStats.Current > maxPids {
			maxPids = s.PidsStats.Current
		}
		// The host still forks.
		if err := exec.Command(dockertest.HostBusybox, "true").Run(); err != nil {
			t.Errorf("host cannot fork during the bomb: %v", err)
		} else {
			hostForks++
		}
		// Not synchronisation: the pace of the samples of a bomb that runs
		// until the 3 s timeout; the checks below hold whatever was sampled.
		time.Sleep(100 * time.Millisecond)
	}

	var o outcome
	select {
	case o = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after the timeout")
	}
	if o.err != nil {
		t.Fatalf("Run: %v", o.err)
	}
	if !o.res.TimedOut {
		t.Errorf("TimedOut false (exit %d, stderr %q), want the bomb stopped by the timeout", o.res.ExitCode, head(o.res.Stderr))
	}
	t.Logf("peak pids %d, %d host forks ok, run took %v", maxPids, hostForks, time.Since(began))
	if maxPids > DefaultPidsLimit {
		t.Errorf("peak pids %d, over the limit %d", maxPids, DefaultPidsLimit)
	}
	// The bomb reached the limit: seen in the stats, or a fork refused.
	if maxPids < DefaultPidsLimit && !strings.Contains(string(o.res.Stderr), "can't fork") {
		t.Errorf("peak pids %d and no refused fork: the bomb did not go off", maxPids)
	}
	dockertest.WaitNoContainers(t, LabelExecutionID, spec.ExecutionID, 30*time.Second)
}

func TestRunOOM(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	tests := []struct {
		name, script string
		// bestEffort: Docker 20.10 may miss the OOM when the victim's death
		// ends the container at once (see oomKilled); up to 3 runs are made
		// and one report is enough.
		bestEffort bool
	}{
		// tail keeps its input until the last newline, which /dev/zero never
		// sends: it grows until the OOM killer takes it. sh outlives it a
		// little and exits with its status: reported reliably.
		{"child killed, function exits later", "head -c 200m /dev/zero | tail; rc=$?; sleep 0.2; exit $rc", false},
		// sh exits 137 as soon as tail is killed.
		{"child killed, function exits at once", "head -c 200m /dev/zero | tail", true},
		// sh execs dd, so PID 1 itself is killed filling its 100 MiB buffer.
		{"pid 1 killed", "dd if=/dev/zero of=/dev/null bs=100M count=1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			img := dockertest.BuildBusyboxImage(t, imageTag(t), tt.script)
			attempts := 1
			if tt.bestEffort {
				attempts = 3
			}
			for i := 1; i <= attempts; i++ {
				spec := h.spec(img, "")
				spec.MemoryMB = 16
				res, err := h.rt.Run(context.Background(), spec)
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				if res.ExitCode != 137 || res.TimedOut || res.Cancelled {
					t.Fatalf("exit %d TimedOut %v Cancelled %v, want 137 from the OOM killer", res.ExitCode, res.TimedOut, res.Cancelled)
				}
				if res.OOMKilled {
					return
				}
				t.Logf("run %d: exit 137 but the daemon missed the OOM", i)
			}
			t.Errorf("OOMKilled false in %d runs", attempts)
		})
	}
}

func TestRunNetworkNone(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})

	// A listener on the host, reachable from any container on docker0.
	port, accepted := dockertest.HostListener(t)
	gateway := dockertest.BridgeIP(t)

	// busybox wget -T segfaults (a busybox bug), so no -T: an unreachable
	// network fails at once anyway, and the run's timeout bounds the rest.
	img := dockertest.BuildBusyboxImage(t, "rt-network", `
		for i in $(tail -n +3 /proc/net/dev | cut -d: -f1); do echo "if $i"; done
		wget -q -O - "http://$HOST_IP:$HOST_PORT/" && echo "CONNECTED host"
		nc -w 2 "$HOST_IP" "$HOST_PORT" </dev/null && echo "CONNECTED host nc"
		nc -w 2 1.1.1.1 53 </dev/null && echo "CONNECTED internet"
		exit 0`)
	spec := h.spec(img, "")
	spec.Env = map[string]string{"HOST_IP": gateway, "HOST_PORT": fmt.Sprint(port)}
	res, err := h.rt.Run(context.Background(), spec)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if string(res.Stdout) != "if lo\n" {
		t.Errorf("stdout %q, want only the loopback interface and no connection", res.Stdout)
	}
	if n := strings.Count(string(res.Stderr), "Network is unreachable"); n != 3 {
		t.Errorf("stderr %q, want 3 times 'Network is unreachable'", res.Stderr)
	}
	if n := accepted(); n != 0 {
		t.Errorf("the host listener accepted %d connections", n)
	}
}

func TestRunImageNotFound(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	img := dockertest.Ref("absent-" + randomID())
	spec := h.spec(img, "x")
	_, err := h.rt.Run(context.Background(), spec)
	if !errors.Is(err, domain.ErrImageNotFound) {
		t.Fatalf("Run error %v, want ErrImageNotFound", err)
	}
	var pe *domain.PublicError
	if !errors.As(err, &pe) || !strings.Contains(pe.Message, img) {
		t.Errorf("error %v: want a public message naming %s", err, img)
	}
	dockertest.AssertNoContainers(t, LabelExecutionID, spec.ExecutionID)
}

func TestRunRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	img := dockertest.BuildBusyboxImage(t, "rt-cat", scriptCat)
	tests := []struct {
		name   string
		mutate func(*domain.RunSpec)
		want   error
	}{
		{"internal network not configured", func(s *domain.RunSpec) { s.Network = domain.NetworkInternal }, domain.ErrInvalidInput},
		{"unknown network", func(s *domain.RunSpec) { s.Network = "host" }, domain.ErrInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := h.spec(img, "")
			tt.mutate(&spec)
			if _, err := h.rt.Run(context.Background(), spec); !errors.Is(err, tt.want) {
				t.Errorf("Run error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestRunLimitsApplied(t *testing.T) {
	t.Parallel()
	img := dockertest.BuildBusyboxImage(t, "rt-sleep", scriptSleep)
	tests := []struct {
		name      string
		opts      Options
		wantPids  int64
		wantTmpfs string
	}{
		{"defaults", Options{}, 64, "rw,noexec,nosuid,size=16m"},
		{"options", Options{PidsLimit: 32, TmpfsSize: "8m"}, 32, "rw,noexec,nosuid,size=8m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, tt.opts)
			spec := h.spec(img, "")
			spec.MemoryMB = 48
			spec.CPUs = 0.25
			spec.Env = map[string]string{"B": "2", "A": "1"}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := h.rt.Run(ctx, spec); err != nil {
					t.Errorf("Run: %v", err)
				}
			}()
			defer wg.Wait()
			defer cancel()

			id := dockertest.WaitRunningContainer(t, LabelExecutionID, spec.ExecutionID, 10*time.Second)
			info, err := dockertest.Client(t).ContainerInspect(context.Background(), id)
			if err != nil {
				t.Fatalf("inspect: %v", err)
			}
			hc := info.HostConfig
			checks := []struct {
				what      string
				got, want any
			}{
				{"Memory", hc.Memory, int64(48 << 20)},
				{"MemorySwap", hc.MemorySwap, int64(48 << 20)},
				{"NanoCPUs", hc.NanoCPUs, int64(250_000_000)},
				{"PidsLimit", deref(hc.PidsLimit), tt.wantPids},
				{"CapDrop", fmt.Sprint(hc.CapDrop), "[ALL]"},
				{"SecurityOpt", fmt.Sprint(hc.SecurityOpt), "[no-new-privileges]"},
				{"ReadonlyRootfs", hc.ReadonlyRootfs, true},
				{"NetworkMode", string(hc.NetworkMode), "none"},
				{"Tmpfs", hc.Tmpfs["/tmp"], tt.wantTmpfs},
				{"LogConfig.Type", hc.LogConfig.Type, "none"},
				{"OomScoreAdj", hc.OomScoreAdj, 1000},
				{"Ulimits", fmt.Sprint(*hc.Ulimits[0]), fmt.Sprint(container.Ulimit{Name: "nofile", Soft: 1024, Hard: 1024})},
				{"User", info.Config.User, "65534:65534"},
				{"NetworkDisabled", info.Config.NetworkDisabled, true},
				{"Env", fmt.Sprint(withoutPath(info.Config.Env)), "[A=1 B=2]"}, // the daemon adds PATH
				{"label execution", info.Config.Labels[LabelExecutionID], spec.ExecutionID},
				{"label function", info.Config.Labels[LabelFunctionID], spec.FunctionID},
				{"label worker", info.Config.Labels[LabelWorkerID], h.workerID},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
				}
			}
		})
	}
}

// TestRunMoreCPUsThanHost: the daemon refuses NanoCPUs over its CPU count;
// a function asking for more gets all of them instead of failing.
func TestRunMoreCPUsThanHost(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	img := dockertest.BuildBusyboxImage(t, "rt-cat", scriptCat)
	spec := h.spec(img, "ok")
	spec.CPUs = domain.MaxCPUs
	res, err := h.rt.Run(context.Background(), spec)
	if err != nil || res.ExitCode != 0 || string(res.Stdout) != "ok" {
		t.Errorf("Run = exit %d stdout %q, %v; want it to run", res.ExitCode, res.Stdout, err)
	}
}

func TestRunConcurrent(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	img := dockertest.BuildBusyboxImage(t, "rt-cat", scriptCat)
	const n = 3
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := fmt.Sprintf("input %d %s", i, randomID())
			res, err := h.rt.Run(context.Background(), h.spec(img, in))
			if err != nil || res.ExitCode != 0 || string(res.Stdout) != in {
				t.Errorf("run %d = exit %d stdout %q, %v; want %q", i, res.ExitCode, res.Stdout, err, in)
			}
		}()
	}
	wg.Wait()
}

func TestRemoveOrphans(t *testing.T) {
	t.Parallel()
	instance := "inst-" + randomID()
	h := newHarness(t, Options{Instance: instance})
	img := dockertest.BuildBusyboxImage(t, "rt-sleep", scriptSleep)
	cli := dockertest.Client(t)
	ctx := context.Background()
	dead := "dead-" + randomID()
	live := h.workerID // the harness checks at the end that none is left

	create := func(worker, inst string, start bool) string {
		t.Helper()
		c, err := cli.ContainerCreate(ctx,
			&container.Config{Image: img, NetworkDisabled: true, Labels: map[string]string{
				LabelWorkerID: worker, LabelExecutionID: "exec-" + randomID(), LabelFunctionID: "fn-test", LabelInstance: inst,
			}},
			&container.HostConfig{NetworkMode: "none", LogConfig: container.LogConfig{Type: "none"}}, nil, nil, "")
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		t.Cleanup(func() { _ = cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}) })
		if start {
			if err := cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
				t.Fatalf("start: %v", err)
			}
		}
		return c.ID
	}
	create(dead, instance, true)
	create(dead, instance, false)
	keep := create(live, instance, true)
	// A dead worker of another platform on this daemon: not ours to remove.
	other := create(dead, "other-"+randomID(), false)

	// Other workers of this machine (other tests) are alive: only ours is dead.
	n, err := h.rt.RemoveOrphans(ctx, func(worker string) bool { return worker != dead }, 0)
	if err != nil {
		t.Fatalf("RemoveOrphans: %v", err)
	}
	if n != 2 {
		t.Errorf("removed %d, want 2", n)
	}
	if ids := dockertest.Containers(t, LabelWorkerID, dead); len(ids) != 1 || ids[0] != other {
		t.Errorf("dead worker's containers %v, want only the other instance's [%s]", ids, other)
	}
	if ids := dockertest.Containers(t, LabelWorkerID, live); len(ids) != 1 || ids[0] != keep {
		t.Errorf("live worker's containers %v, want [%s]", ids, keep)
	}
	if err := cli.ContainerRemove(ctx, keep, container.RemoveOptions{Force: true}); err != nil {
		t.Errorf("remove: %v", err)
	}
}

func TestPingAndClose(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	if err := h.rt.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := h.rt.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, err := h.rt.Run(context.Background(), h.spec("any", ""))
	if !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("Run after Close: %v, want ErrUnavailable", err)
	}
}

// TestDaemonUnreachable cannot run in parallel: it changes DOCKER_HOST.
func TestDaemonUnreachable(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+t.TempDir()+"/absent.sock")
	rt, err := New(zaptest.NewLogger(t), Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer rt.Close()
	if err := rt.Ping(context.Background()); !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("Ping: %v, want ErrUnavailable", err)
	}
	spec := domain.RunSpec{ExecutionID: "e", FunctionID: "f", WorkerID: "w", Image: "any", MemoryMB: 16, CPUs: 1}
	if _, err := rt.Run(context.Background(), spec); !errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("Run: %v, want ErrUnavailable", err)
	}
}

func TestCapped(t *testing.T) {
	tests := []struct {
		name     string
		writes   []string
		max      int
		want     string
		overflow bool
	}{
		{"under", []string{"ab", "c"}, 4, "abc", false},
		{"exact", []string{"ab", "cd"}, 4, "abcd", false},
		{"split write", []string{"ab", "cdef"}, 4, "abcd", true},
		{"after full", []string{"abcd", "e"}, 4, "abcd", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &capped{max: tt.max}
			for _, w := range tt.writes {
				if n, err := c.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			got, overflow := c.result()
			if string(got) != tt.want || overflow != tt.overflow {
				t.Errorf("result %q %v, want %q %v", got, overflow, tt.want, tt.overflow)
			}
		})
	}
}

func TestStartFailure(t *testing.T) {
	tests := []struct {
		msg  string
		ok   bool
		code int
	}{
		{`Error response from daemon: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "/nope": stat /nope: no such file or directory: unknown`, true, 127},
		{`Error response from daemon: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "/bin": permission denied: unknown`, true, 126},
		{`Error response from daemon: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: error mounting "proc": no such file or directory: unknown`, false, 0},
		{`Cannot connect to the Docker daemon`, false, 0},
	}
	for _, tt := range tests {
		res, ok := startFailure(errors.New(tt.msg))
		if ok != tt.ok || res.ExitCode != tt.code {
			t.Errorf("startFailure(%q) = %d, %v; want %d, %v", tt.msg, res.ExitCode, ok, tt.code, tt.ok)
		}
		if ok && bytes.Contains(res.Stderr, []byte("daemon")) {
			t.Errorf("stderr %q shows the daemon's wording", res.Stderr)
		}
	}
}

func withoutPath(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "PATH=") {
			out = append(out, kv)
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// head shortens output for messages.
func head(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}
