package tests

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faasplatform/faas/api/apitest"
	"github.com/faasplatform/faas/apisix/apisixtest"
	"github.com/faasplatform/faas/docker/dockertest"
	"github.com/faasplatform/faas/wire"
)

// cliRun is one run of the faas binary's client commands.
type cliRun struct {
	stdout, stderr string
	code           int
}

// faasCLI runs bin with args against base, the config directory dir, and
// stdin.
func faasCLI(t *testing.T, bin, base, dir, stdin string, args ...string) cliRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	// Only what a user's shell has: no server variable at all.
	cmd.Env = []string{"FAAS_URL=" + base, "HOME=" + dir, "XDG_CONFIG_HOME=" + filepath.Join(dir, "config"), "PATH=" + os.Getenv("PATH")}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := cliRun{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("faas %v: %v", args, err)
	}
	return r
}

// TestCLIWalkthrough is the README walk-through with the CLI against a real
// platform: register, login (token file 0600), create, invoke sync and
// async, logs, cancel, list, an objects round trip, dead letters; --json parsed; bad usage exit 2;
// an API error exit 1 with its message; every exchange valid against
// api/openapi.yaml.
func TestCLIWalkthrough(t *testing.T) {
	bin := apisixtest.GoBuild(t, "github.com/faasplatform/faas/cmd/faas")
	e := newEnv(t, 1, 4)
	// The CLI talks to the API through a server that holds every exchange
	// to api/openapi.yaml.
	checked := httptest.NewServer(apitest.CheckedHandler(t, e.stack.Handler()))
	t.Cleanup(checked.Close)
	dir := t.TempDir()
	run := func(stdin string, args ...string) cliRun { return faasCLI(t, bin, checked.URL, dir, stdin, args...) }
	ok := func(stdin string, args ...string) cliRun {
		t.Helper()
		r := run(stdin, args...)
		if r.code != 0 {
			t.Fatalf("faas %v: exit %d\nstdout %s\nstderr %s", args, r.code, r.stdout, r.stderr)
		}
		return r
	}

	ok("correct-horse\n", "register", "carol", "--email", "carol@example.com", "--password-stdin")
	ok("correct-horse\n", "login", "carol", "--password-stdin")
	fi, err := os.Stat(filepath.Join(dir, "config", "faas", "session.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, mode %v; want 0600", err, fi.Mode())
	}

	img := dockertest.BuildBusyboxImage(t, "cli-echo", `read x; echo "got $x"; echo "note" >&2; [ "$x" != fail ]`)
	ok("", "fn", "create", "echo", "--image", img, "--timeout", "20", "--memory", "64")
	var fns wire.FunctionList
	if err := json.Unmarshal([]byte(ok("", "fn", "list", "--json").stdout), &fns); err != nil || len(fns.Functions) != 1 || fns.Functions[0].Name != "echo" {
		t.Fatalf("fn list --json: %v %+v", err, fns)
	}

	// fn create from a YAML file and from a JSON file, a flag over the file.
	yamlFile, jsonFile := filepath.Join(dir, "fn.yaml"), filepath.Join(dir, "fn.json")
	if err := os.WriteFile(yamlFile, []byte("name: from-yaml\nimage_url: "+img+"\ntimeout: 7\nmemory_mb: 64\nenv:\n  GREETING: hi\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(jsonFile, []byte(`{"name":"from-json","image_url":"`+img+`","timeout":8,"memory_mb":64}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ok("", "fn", "create", "-f", yamlFile)
	ok("", "fn", "create", "-f", jsonFile, "--timeout", "9")
	for name, want := range map[string]int{"from-yaml": 7, "from-json": 9} {
		var f wire.Function
		if err := json.Unmarshal([]byte(ok("", "fn", "get", name, "--json").stdout), &f); err != nil || f.Timeout != want || f.ImageURL != img {
			t.Fatalf("fn get %s: %v %+v; want timeout %d and image %s", name, err, f, want, img)
		}
		if name == "from-yaml" && f.Env["GREETING"] != "hi" {
			t.Fatalf("fn create -f yaml: env %v", f.Env)
		}
	}
	if err := os.WriteFile(yamlFile, []byte("name: typo\nimage_urll: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := run("", "fn", "create", "-f", yamlFile); r.code != 2 || !strings.Contains(r.stderr, "image_urll") {
		t.Fatalf("fn create -f with an unknown field: exit %d, stderr %q; want 2 naming the field", r.code, r.stderr)
	}
	ok("", "fn", "delete", "from-yaml")
	ok("", "fn", "delete", "from-json")

	if r := ok("", "invoke", "echo", "--input", "hello"); r.stdout != "got hello\n" {
		t.Fatalf("invoke printed %q, want %q", r.stdout, "got hello\n")
	}
	// Input from standard input.
	if r := ok("from stdin", "invoke", "echo", "--input", "-"); r.stdout != "got from stdin\n" {
		t.Fatalf("invoke --input - printed %q", r.stdout)
	}
	// A failed execution: exit 1, its error on stderr.
	if r := run("", "invoke", "echo", "--input", "fail"); r.code != 1 || !strings.Contains(r.stderr, "failed") {
		t.Fatalf("invoke of a failing run: exit %d, stderr %q; want 1 saying failed", r.code, r.stderr)
	}

	id := strings.TrimSpace(ok("", "invoke", "echo", "--async", "--input", "later").stdout)
	if r := ok("", "logs", id, "--follow"); r.stdout != "note\n" {
		t.Fatalf("logs --follow printed %q, want the function's stderr", r.stdout)
	}
	var x wire.Execution
	if err := json.Unmarshal([]byte(ok("", "executions", "get", id).stdout), &x); err != nil || x.Status != "complete" || x.Output != "got later\n" {
		t.Fatalf("executions get: %v %+v", err, x)
	}
	list := ok("", "executions", "list", "--function", "echo")
	if !strings.Contains(list.stdout, id) || !strings.HasPrefix(list.stdout, "ID") {
		t.Fatalf("executions list table lacks %s:\n%s", id, list.stdout)
	}
	// Cancel: a slow function's execution, cancelled while pending or running.
	slow := dockertest.BuildBusyboxImage(t, "cli-slow", `sleep 30`)
	ok("", "fn", "create", "slow", "--image", slow, "--timeout", "60", "--memory", "64")
	sid := strings.TrimSpace(ok("", "invoke", "slow", "--async").stdout)
	if r := ok("", "executions", "cancel", sid); !strings.Contains(r.stdout, "cancelled") {
		t.Fatalf("cancel printed %q", r.stdout)
	}
	// Objects round trip: 3 MiB of random bytes up, listed, down, equal.
	blob := make([]byte, 3<<20)
	if _, err := rand.Read(blob); err != nil {
		t.Fatal(err)
	}
	in, out := filepath.Join(dir, "blob.bin"), filepath.Join(dir, "back.bin")
	if err := os.WriteFile(in, blob, 0o600); err != nil {
		t.Fatal(err)
	}
	// Off a terminal the transfers draw no progress bar: stderr stays empty.
	if r := ok("", "objects", "put", "echo", "data/blob.bin", in); r.stderr != "" {
		t.Fatalf("objects put off a terminal wrote to stderr: %q", r.stderr)
	}
	var objs struct{ Objects []wire.Object }
	if err := json.Unmarshal([]byte(ok("", "objects", "list", "echo", "--prefix", "data/", "--json").stdout), &objs); err != nil ||
		len(objs.Objects) != 1 || objs.Objects[0].Size != int64(len(blob)) {
		t.Fatalf("objects list: %v %+v", err, objs)
	}
	if r := ok("", "objects", "get", "echo", "data/blob.bin", out); r.stderr != "" {
		t.Fatalf("objects get off a terminal wrote to stderr: %q", r.stderr)
	}
	// To standard output when no file is named.
	if r := ok("", "objects", "get", "echo", "data/blob.bin"); r.stdout != string(blob) {
		t.Fatalf("objects get to stdout: %d bytes, not what went up", len(r.stdout))
	}
	if back, err := os.ReadFile(out); err != nil || !bytes.Equal(back, blob) {
		t.Fatalf("objects get: %v, %d bytes back, not what went up", err, len(back))
	}
	ok("", "objects", "delete", "echo", "data/blob.bin")
	if r := run("", "objects", "get", "echo", "data/blob.bin"); r.code != 1 || !strings.Contains(r.stderr, "object_not_found") {
		t.Fatalf("get of a deleted object: exit %d, stderr %q", r.code, r.stderr)
	}

	var dls map[string][]wire.DeadLetter
	if err := json.Unmarshal([]byte(ok("", "deadletters", "list", "--json").stdout), &dls); err != nil {
		t.Fatalf("deadletters list --json: %v", err)
	}

	var ws wire.Workers
	if err := json.Unmarshal([]byte(ok("", "workers", "--json").stdout), &ws); err != nil || len(ws.Workers) == 0 {
		t.Fatalf("workers --json: %v %+v; want the test's worker", err, ws)
	}
	if r := ok("", "workers"); !strings.HasPrefix(r.stdout, "ID") || !strings.Contains(r.stdout, "pending jobs:") {
		t.Fatalf("workers table:\n%s", r.stdout)
	}
	if r := ok("", "completion", "bash"); !strings.Contains(r.stdout, "__start_faas") {
		t.Fatalf("completion bash printed no completion script:\n%.200s", r.stdout)
	}

	// Bad usage: exit 2. An API error: exit 1 with the API's message.
	for _, args := range [][]string{{"bogus"}, {"invoke"}, {"fn", "create", "x", "--nope"}, {"fn", "create", "noimage"}} {
		if r := run("", args...); r.code != 2 {
			t.Errorf("faas %v: exit %d, want 2 (stderr %q)", args, r.code, r.stderr)
		}
	}
	if r := run("", "executions", "get", "no-such-id"); r.code != 1 || !strings.Contains(r.stderr, "execution_not_found") {
		t.Fatalf("get of an unknown execution: exit %d, stderr %q; want 1 naming execution_not_found", r.code, r.stderr)
	}
	if r := run("", "fn", "create", "echo", "--image", img); r.code != 1 || !strings.Contains(r.stderr, "conflict") {
		t.Fatalf("second create of one name: exit %d, stderr %q; want 1 conflict", r.code, r.stderr)
	}
	ok("", "logout")
	if r := run("", "fn", "list"); r.code != 1 {
		t.Fatalf("fn list after logout: exit %d, want 1", r.code)
	}
}
