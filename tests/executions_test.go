package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/faasplatform/faas/docker"
	"github.com/faasplatform/faas/docker/dockertest"
	"github.com/faasplatform/faas/internal/eventually"
	"github.com/faasplatform/faas/natsstore"
)

// TestExecutionOutcomes runs one function per outcome through the HTTP API,
// synchronously, and checks the status, output, error and logs.
func TestExecutionOutcomes(t *testing.T) {
	e := newEnv(t, 1, 4)
	u := e.Register(t, "runner")

	cases := []struct {
		name, script string
		fields       map[string]any
		input        any
		status       string
		output       string // exact, when checkOutput
		checkOutput  bool
		errHas       []string
		logsHas      string
		truncated    bool
	}{
		{name: "echo", script: "cat", input: "hello, world", status: "complete", output: "hello, world", checkOutput: true},
		{name: "json-input", script: "cat", input: map[string]any{"a": 1}, status: "complete", output: `{"a":1}`, checkOutput: true},
		{name: "transform", script: "tr a-z A-Z", input: "shout", status: "complete", output: "SHOUT", checkOutput: true},
		{name: "env", script: `printf '%s|%s|%s' "$GREETING" "$FAAS_FUNCTION_ID" "${#FAAS_EXECUTION_ID}"`,
			fields: map[string]any{"env": map[string]string{"GREETING": "hi"}}, status: "complete"},
		{name: "exit3", script: `echo partial; echo "first line" >&2; echo "boom: bad input" >&2; exit 3`,
			status: "failed", errHas: []string{"exit code 3", "boom: bad input"}, logsHas: "boom: bad input"},
		{name: "timeout", script: "sleep 30", fields: map[string]any{"timeout": 1},
			status: "timeout", errHas: []string{"timed out after 1 s"}},
		{name: "big-output", script: "head -c 2097152 /dev/zero | tr '\\0' a",
			status: "failed", errHas: []string{"output exceeds"}},
		{name: "big-logs", script: "head -c 2097152 /dev/zero | tr '\\0' b >&2; echo done",
			status: "complete", output: "done\n", checkOutput: true, truncated: true},
		{name: "fork-bomb", script: "bomb() { bomb | bomb & }; bomb; sleep 3; echo survived",
			fields: map[string]any{"timeout": 6}},
		{name: "oom", script: "head -c 300m /dev/zero | tail; rc=$?; sleep 0.3; exit $rc",
			fields: map[string]any{"memory_mb": 16}, status: "failed", errHas: []string{"out of memory"}},
		{name: "no-image", fields: map[string]any{"image_url": "faas-test/absent-image:nope"},
			status: "failed", errHas: []string{"faas-test/absent-image:nope"}},
		{name: "network-internal", script: "echo never", fields: map[string]any{"network": "internal"},
			status: "failed", errHas: []string{`network "internal" is not available`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var fn string
			if tc.script == "" {
				fn = e.CreateFunction(t, u, tc.name, tc.fields)
			} else {
				fn = e.function(t, u, tc.name, tc.script, tc.fields)
			}
			code, x := e.run(t, u, fn, tc.input)
			if code != http.StatusOK {
				t.Fatalf("status code %d, want 200 (execution %+v)", code, x)
			}
			switch tc.name {
			case "env":
				if want := "hi|" + fn + "|36"; x.output() != want {
					t.Errorf("output %q, want %q", x.output(), want)
				}
			case "fork-bomb":
				// The pids limit holds: forks are refused inside the
				// container, the run ends, and the host is fine (this test
				// goes on).
				var l struct{ Logs string }
				e.Do(t, http.MethodGet, "/api/v1/executions/"+x.ID+"/logs", u.Token, nil).Decode(t, &l)
				t.Logf("fork bomb: status %s, %d bytes of logs, %d refused forks", x.Status, len(l.Logs), strings.Count(l.Logs, "can't fork"))
				if !strings.Contains(l.Logs, "can't fork") {
					t.Errorf("no fork was refused: the pids limit did not hold (status %q, logs %q)", x.Status, trim(l.Logs))
				}
			}
			if tc.status != "" && x.Status != tc.status {
				t.Fatalf("status %q, want %q (error %q)", x.Status, tc.status, x.Error)
			}
			if tc.checkOutput && x.output() != tc.output {
				t.Errorf("output %q, want %q", trim(x.output()), tc.output)
			}
			for _, s := range tc.errHas {
				if !strings.Contains(x.Error, s) {
					t.Errorf("error %q does not contain %q", x.Error, s)
				}
			}
			if x.StartTime == nil || x.EndTime == nil || x.EndTime.Before(*x.StartTime) || x.Attempts != 1 {
				if (tc.name != "no-image" && tc.name != "network-internal") || x.EndTime == nil {
					t.Errorf("timing: start %v end %v attempts %d", x.StartTime, x.EndTime, x.Attempts)
				}
			}
			var logs struct {
				ExecutionID string `json:"execution_id"`
				Logs        string `json:"logs"`
				Truncated   bool   `json:"truncated"`
			}
			r := e.Do(t, http.MethodGet, "/api/v1/executions/"+x.ID+"/logs", u.Token, nil)
			if r.Status != http.StatusOK {
				t.Fatalf("logs: %d %s", r.Status, r.Body)
			}
			r.Decode(t, &logs)
			if logs.ExecutionID != x.ID || !strings.Contains(logs.Logs, tc.logsHas) || logs.Truncated != tc.truncated {
				t.Errorf("logs: id %q truncated %v, want %v; contains %q: %v", logs.ExecutionID, logs.Truncated, tc.truncated, tc.logsHas, strings.Contains(logs.Logs, tc.logsHas))
			}
			if tc.truncated && len(logs.Logs) != 1<<20 {
				t.Errorf("truncated logs are %d bytes, want %d", len(logs.Logs), 1<<20)
			}
			// Removal follows the answer (the worker answers first).
			dockertest.WaitNoContainers(t, docker.LabelExecutionID, x.ID, 10*time.Second)
		})
	}
}

// TestNetworkIsNone checks that a function cannot reach a listener on the
// host: its container has no network but loopback.
func TestNetworkIsNone(t *testing.T) {
	e := newEnv(t, 1, 2)
	u := e.Register(t, "net")
	port, accepted := dockertest.HostListener(t)
	// Try the docker bridge's gateway (the host) and a public address. The
	// address comes as input, so the image is the same in every run.
	script := "addr=$(cat); wget -q -O - http://$addr/ && echo reached-host; " +
		"wget -q -O - http://1.1.1.1/ && echo reached-internet; ls /sys/class/net; exit 0"
	fn := e.function(t, u, "netprobe", script, nil)
	code, x := e.run(t, u, fn, net.JoinHostPort(dockertest.BridgeIP(t), strconv.Itoa(port)))
	if code != http.StatusOK || x.Status != "complete" {
		t.Fatalf("code %d status %q error %q", code, x.Status, x.Error)
	}
	if strings.Contains(x.output(), "reached") || accepted() != 0 {
		t.Fatalf("the function reached the network: output %q, host accepted %d", x.output(), accepted())
	}
	if strings.TrimSpace(x.output()) != "lo" {
		t.Errorf("interfaces %q, want only lo", x.output())
	}
}

// TestAsyncListAndIsolation covers the asynchronous path, the list filters
// and another user's view.
func TestAsyncListAndIsolation(t *testing.T) {
	e := newEnv(t, 1, 4)
	alice, bob := e.Register(t, "alice"), e.Register(t, "bob")
	echo := e.function(t, alice, "echo", "cat", nil)
	fail := e.function(t, alice, "fail", "exit 1", nil)

	ids := []string{e.Enqueue(t, alice, echo, "one"), e.Enqueue(t, alice, echo, "two"), e.Enqueue(t, alice, fail, "x")}
	for _, id := range ids {
		e.waitStatus(t, alice, id, 30*time.Second, "complete", "failed")
	}
	if x := e.get(t, alice, ids[1]); x.output() != "two" || x.Status != "complete" {
		t.Fatalf("async result %+v", x)
	}

	list := func(u string, query string) []execution {
		t.Helper()
		tok := alice.Token
		if u == "bob" {
			tok = bob.Token
		}
		r := e.Do(t, http.MethodGet, "/api/v1/executions"+query, tok, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("list %s: %d %s", query, r.Status, r.Body)
		}
		var l struct{ Executions []execution }
		r.Decode(t, &l)
		return l.Executions
	}
	all := list("alice", "")
	if len(all) != 3 || all[0].ID != ids[2] || all[2].ID != ids[0] {
		t.Fatalf("list not newest first: %+v", all)
	}
	for _, x := range all {
		if x.Input != nil || x.Output != nil {
			t.Fatalf("list carries input/output: %+v", x)
		}
	}
	if got := list("alice", "?function_id="+echo); len(got) != 2 {
		t.Errorf("function filter: %d, want 2", len(got))
	}
	if got := list("alice", "?status=failed"); len(got) != 1 || got[0].ID != ids[2] {
		t.Errorf("status filter: %+v", got)
	}
	if got := list("alice", "?limit=1"); len(got) != 1 || got[0].ID != ids[2] {
		t.Errorf("limit: %+v", got)
	}
	if got := list("bob", ""); len(got) != 0 {
		t.Errorf("bob sees %d executions of alice", len(got))
	}
	for _, path := range []string{"/api/v1/executions/" + ids[0], "/api/v1/executions/" + ids[0] + "/logs"} {
		if r := e.Do(t, http.MethodGet, path, bob.Token, nil); r.Status != http.StatusNotFound || r.ErrorCode() != "execution_not_found" {
			t.Errorf("bob GET %s: %d %s", path, r.Status, r.Body)
		}
	}
	if r := e.Do(t, http.MethodDelete, "/api/v1/executions/"+ids[0], bob.Token, nil); r.Status != http.StatusNotFound {
		t.Errorf("bob cancels alice's execution: %d", r.Status)
	}
	if r := e.Do(t, http.MethodPost, "/api/v1/executions", bob.Token, map[string]any{"function_id": echo}); r.Status != http.StatusNotFound || r.ErrorCode() != "function_not_found" {
		t.Errorf("bob runs alice's function: %d %s", r.Status, r.Body)
	}
}

// TestCancelRunningKillsContainer cancels a running execution: the
// container is gone soon (the README's 2 s; the test allows 20 s for a loaded
// machine, and logs the time) and the status stays cancelled. It also
// checks the limits the container really got, and that an ended execution
// cannot be cancelled again.
func TestCancelRunningKillsContainer(t *testing.T) {
	e := newEnv(t, 1, 2)
	u := e.Register(t, "cancel")
	fn := e.function(t, u, "sleeper", "echo starting >&2; sleep 60", map[string]any{"timeout": 120, "memory_mb": 96, "cpus": 0.5})
	id := e.Enqueue(t, u, fn, "")
	e.waitStatus(t, u, id, 20*time.Second, "running")
	cid := dockertest.WaitRunningContainer(t, docker.LabelExecutionID, id, 10*time.Second)

	info, err := dockertest.Client(t).ContainerInspect(context.Background(), cid)
	if err != nil {
		t.Fatal(err)
	}
	hc := info.HostConfig
	checks := []struct {
		what string
		ok   bool
	}{
		{"memory 96 MiB", hc.Memory == 96<<20},
		{"no swap", hc.MemorySwap == 96<<20},
		{"cpus 0.5", hc.NanoCPUs == 500_000_000},
		{"pids limit", hc.PidsLimit != nil && *hc.PidsLimit > 0 && *hc.PidsLimit <= 256},
		{"network none", hc.NetworkMode == container.NetworkMode("none")},
		{"caps dropped", len(hc.CapDrop) == 1 && strings.EqualFold(hc.CapDrop[0], "ALL")},
		{"no-new-privileges", len(hc.SecurityOpt) > 0 && strings.HasPrefix(hc.SecurityOpt[0], "no-new-privileges")},
		{"read-only root", hc.ReadonlyRootfs},
		{"tmpfs /tmp", hc.Tmpfs["/tmp"] != ""},
		{"labels", info.Config.Labels[docker.LabelFunctionID] == fn && info.Config.Labels[docker.LabelWorkerID] == e.workers[0]},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("container limit not applied: %s (HostConfig %+v)", c.what, hc)
		}
	}

	start := time.Now()
	r := e.Do(t, http.MethodDelete, "/api/v1/executions/"+id, u.Token, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("cancel: %d %s", r.Status, r.Body)
	}
	var x execution
	r.Decode(t, &x)
	if x.Status != "cancelled" {
		t.Fatalf("cancel answered status %q", x.Status)
	}
	dockertest.WaitNoContainers(t, docker.LabelExecutionID, id, 20*time.Second)
	t.Logf("container gone %s after the cancel", time.Since(start).Round(time.Millisecond))

	// The worker keeps the run's logs and startup time, never its status.
	eventually.NoError(t, 10*time.Second, func() error {
		var logs struct{ Logs string }
		e.Do(t, http.MethodGet, "/api/v1/executions/"+id+"/logs", u.Token, nil).Decode(t, &logs)
		if logs.Logs != "starting\n" {
			return fmt.Errorf("logs of the cancelled run: %q, want %q", logs.Logs, "starting\n")
		}
		return nil
	})
	if x := e.get(t, u, id); x.Status != "cancelled" || x.StartupDuration <= 0 {
		t.Fatalf("status %q startup %v after the worker ended the run, want cancelled with a startup time", x.Status, x.StartupDuration)
	}
	if r := e.Do(t, http.MethodDelete, "/api/v1/executions/"+id, u.Token, nil); r.Status != http.StatusConflict || r.ErrorCode() != "conflict" {
		t.Fatalf("second cancel: %d %s", r.Status, r.Body)
	}
}

// TestCancelPendingNeverRuns cancels an execution before any worker runs,
// then starts a worker: the execution is never started.
func TestCancelPendingNeverRuns(t *testing.T) {
	e := newEnv(t, 0, 1)
	u := e.Register(t, "pending")
	fn := e.function(t, u, "marker", "cat", nil)
	results, err := e.stack.NC.SubscribeSync(natsstore.SubjectResults)
	if err != nil {
		t.Fatal(err)
	}
	defer results.Unsubscribe()
	cancelled := e.Enqueue(t, u, fn, "must not run")
	if r := e.Do(t, http.MethodDelete, "/api/v1/executions/"+cancelled, u.Token, nil); r.Status != http.StatusOK {
		t.Fatalf("cancel pending: %d %s", r.Status, r.Body)
	}
	after := e.Enqueue(t, u, fn, "runs")
	e.startWorker(t, e.workerID+"-a", 1)
	// One worker, one at a time, in queue order: once the later one ended,
	// the cancelled one was seen and skipped.
	e.waitStatus(t, u, after, 30*time.Second, "complete")
	x := e.get(t, u, cancelled)
	if x.Status != "cancelled" || x.StartTime != nil || x.Attempts != 0 || x.output() != "" {
		t.Fatalf("cancelled execution ran: %+v", x)
	}

	// Both ends were announced on executions.results, in order.
	for _, want := range []struct{ id, status string }{{cancelled, "cancelled"}, {after, "complete"}} {
		m, err := results.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("result of %s not announced: %v", want.id, err)
		}
		var r execution
		if err := json.Unmarshal(m.Data, &r); err != nil || r.ID != want.id || r.Status != want.status {
			t.Fatalf("announced %s (%v), want %s %s", m.Data, err, want.id, want.status)
		}
	}
}

// TestSyncWaitReturns202WhenNotEnded checks ?wait=true gives up with 202
// and the current state when the run outlasts the wait.
func TestSyncWaitReturns202WhenNotEnded(t *testing.T) {
	e := newEnv(t, 1, 2)
	e.stack.Deps.WaitTimeout = 500 * time.Millisecond
	// The API handler was built before; serve a new one with the short wait.
	e.Fixture.BaseURL = e.stack.Serve(t)
	u := e.Register(t, "slow")
	fn := e.function(t, u, "slow", "sleep 5; echo late", map[string]any{"timeout": 10})
	code, x := e.run(t, u, fn, "")
	if code != http.StatusAccepted || (x.Status != "pending" && x.Status != "running") {
		t.Fatalf("code %d status %q, want 202 pending/running", code, x.Status)
	}
	e.waitStatus(t, u, x.ID, 20*time.Second, "complete")
}

func trim(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// TestDeletingUserStopsItsRuns: a deleted user's running execution has its
// container killed (nobody can read the result any more).
func TestDeletingUserStopsItsRuns(t *testing.T) {
	e := newEnv(t, 1, 2)
	u := e.Register(t, "leaving")
	fn := e.function(t, u, "long", "sleep 60", map[string]any{"timeout": 120})
	id := e.Enqueue(t, u, fn, "")
	e.waitStatus(t, u, id, 20*time.Second, "running")
	dockertest.WaitRunningContainer(t, docker.LabelExecutionID, id, 10*time.Second)
	if r := e.Do(t, http.MethodDelete, "/api/v1/users/me", u.Token, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete user: %d %s", r.Status, r.Body)
	}
	dockertest.WaitNoContainers(t, docker.LabelExecutionID, id, 20*time.Second)
}

// TestManyExecutionsTwoWorkers queues a burst of executions for two workers
// sharing the consumer: every one completes exactly once with its own
// output, and both workers take part.
func TestManyExecutionsTwoWorkers(t *testing.T) {
	e := newEnv(t, 2, 3)
	u := e.Register(t, "burst")
	fn := e.function(t, u, "burst", "cat", nil)
	const n = 24
	ids := make([]string, n)
	for i := range ids {
		ids[i] = e.Enqueue(t, u, fn, "input-"+strconv.Itoa(i))
	}
	byWorker := map[string]int{}
	for i, id := range ids {
		x := e.waitStatus(t, u, id, 90*time.Second, "complete", "failed", "timeout", "cancelled")
		if x.Status != "complete" || x.output() != "input-"+strconv.Itoa(i) || x.Attempts != 1 {
			t.Fatalf("execution %d: status %q output %q attempts %d error %q", i, x.Status, x.output(), x.Attempts, x.Error)
		}
		var w struct {
			WorkerID string `json:"worker_id"`
		}
		e.Do(t, http.MethodGet, "/api/v1/executions/"+id, u.Token, nil).Decode(t, &w)
		byWorker[w.WorkerID]++
	}
	if len(byWorker) != 2 {
		t.Errorf("executions by worker %v, want both workers used", byWorker)
	}
	t.Logf("executions by worker: %v", byWorker)
}
