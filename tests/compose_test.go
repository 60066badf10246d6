//go:build compose

package tests

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faasplatform/faas/api/apitest"
	"github.com/faasplatform/faas/docker/dockertest"
	"github.com/faasplatform/faas/internal/eventually"
)

// composeDeployment is compose/docker-compose.yml up under its own project
// name, port and image tags, so that it meets no other deployment.
type composeDeployment struct {
	root    string // the repository
	project string
	env     []string
	base    string // the gateway's URL
	secret  []byte
}

// composeCommand is docker-compose (1.29) when installed, else `docker compose`.
func composeCommand() []string {
	if _, err := exec.LookPath("docker-compose"); err == nil {
		return []string{"docker-compose"}
	}
	return []string{"docker", "compose"}
}

func (d *composeDeployment) compose(t *testing.T, args ...string) string {
	t.Helper()
	c := composeCommand()
	c = append(c, append([]string{"-f", filepath.Join(d.root, "compose", "docker-compose.yml")}, args...)...)
	cmd := exec.Command(c[0], c[1:]...)
	cmd.Env = append(os.Environ(), d.env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(c, " "), err, out)
	}
	return string(out)
}

// down is `make compose-down DOWN_FLAGS=-v` for this project: the worker
// containers, then every container, network and volume of the project.
func (d *composeDeployment) down(t *testing.T) {
	t.Helper()
	cmd := exec.Command("make", "-C", d.root, "compose-down", "DOWN_FLAGS=-v")
	cmd.Env = append(os.Environ(), d.env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("make compose-down: %v\n%s", err, out)
	}
}

// left lists what of the project is still on the daemon.
func (d *composeDeployment) left(t *testing.T) []string {
	t.Helper()
	var left []string
	for _, q := range [][]string{
		{"ps", "-aq", "--filter", "label=com.docker.compose.project=" + d.project},
		{"ps", "-aq", "--filter", "label=faas.role=worker", "--filter", "network=" + d.project + "_backplane"},
		{"network", "ls", "-q", "--filter", "label=com.docker.compose.project=" + d.project},
		{"volume", "ls", "-q", "--filter", "label=com.docker.compose.project=" + d.project},
		{"images", "-q", "faas-platform/*:" + d.project},
	} {
		out, err := exec.Command("docker", q...).Output()
		if err != nil {
			t.Fatalf("docker %v: %v", q, err)
		}
		for _, l := range strings.Fields(string(out)) {
			left = append(left, strings.Join(q[:1], " ")+" "+l)
		}
	}
	return left
}

// readSecrets reads compose/secrets.env (make compose-secrets).
func readSecrets(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run make compose-secrets)", err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			m[k] = v
		}
	}
	return m
}

// TestCompose: the compose deployment as a user runs it (make compose-test
// builds the images first): up without the APISIX profile, register, create
// a function, run it sync and async through the compose gateway, scale the
// workers under load, then down -v leaves nothing behind.
func TestCompose(t *testing.T) {
	dockertest.RequireDocker(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	d := &composeDeployment{root: root, project: "faasct" + randHex(3)}
	secrets := readSecrets(t, filepath.Join(root, "compose", "secrets.env"))
	if secrets["JWT_SECRET"] == "" || secrets["NATS_PASSWORD"] == "" {
		t.Fatal("compose/secrets.env lacks JWT_SECRET or NATS_PASSWORD")
	}
	d.secret = []byte(secrets["JWT_SECRET"])
	// The images make build made, under this test's own tag: another build
	// of :latest meanwhile changes nothing here; removed at the end.
	for _, img := range []string{"faas", "nats"} {
		if out, err := exec.Command("docker", "tag", "faas-platform/"+img+":latest", "faas-platform/"+img+":"+d.project).CombinedOutput(); err != nil {
			t.Fatalf("docker tag (run make build): %v %s", err, out)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	d.env = []string{"COMPOSE_PROJECT_NAME=" + d.project, "FAAS_PORT=" + strconv.Itoa(port),
		"FAAS_IMAGE=faas-platform/faas:" + d.project, "NATS_IMAGE=faas-platform/nats:" + d.project,
		"MIN_WORKERS=1", "MAX_WORKERS=3", "CHECK_INTERVAL=1s", "COOLDOWN_PERIOD=2s", "MAX_CONCURRENT_EXECUTIONS=2"}
	d.base = "http://127.0.0.1:" + strconv.Itoa(port)
	removeImages := func() {
		for _, img := range []string{"faas", "nats"} {
			_ = exec.Command("docker", "rmi", "faas-platform/"+img+":"+d.project).Run()
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			cmd := exec.Command(composeCommand()[0], append(composeCommand()[1:], "-f", filepath.Join(root, "compose", "docker-compose.yml"), "logs", "--tail", "40")...)
			cmd.Env = append(os.Environ(), d.env...)
			out, _ := cmd.CombinedOutput()
			t.Logf("compose logs:\n%s", out)
		}
		d.down(t)
		removeImages()
	})

	d.compose(t, "up", "-d")
	eventually.NoError(t, 3*time.Minute, func() error {
		resp, err := http.Get(d.base + "/api/v1/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("health %d", resp.StatusCode)
		}
		return nil
	})
	f := apitest.NewFixture(t, d.base, d.secret)
	u := f.Register(t, "composer")
	img := dockertest.BuildBusyboxImage(t, "compose-echo", `sleep 1; cat`)
	fn := f.CreateFunction(t, u, "compose-echo", map[string]any{"image_url": img, "timeout": 30, "memory_mb": 64})

	// Sync: the first run waits for the autoscaler's first worker.
	var x execution
	eventually.NoError(t, 2*time.Minute, func() error {
		r := f.Do(t, http.MethodPost, "/api/v1/executions?wait=true", u.Token, map[string]any{"function_id": fn, "input": "hello"})
		if r.Status != http.StatusOK {
			return fmt.Errorf("sync run: %d %s", r.Status, r.Body)
		}
		r.Decode(t, &x)
		return nil
	})
	if x.Status != "complete" || x.output() != "hello" {
		t.Fatalf("sync run: %+v (output %q)", x, x.output())
	}
	// The next run of it is warm: the worker containers found faas-init in
	// WORKER_HOST_DIR (a later run may land on another worker: one of a few
	// must be warm).
	warm := false
	for i := 0; i < 3 && !warm; i++ {
		r := f.Do(t, http.MethodPost, "/api/v1/executions?wait=true", u.Token, map[string]any{"function_id": fn, "input": "again"})
		var y execution
		r.Decode(t, &y)
		if r.Status != http.StatusOK || y.Status != "complete" || y.output() != "again" {
			t.Fatalf("sync run %d: %d %+v", i, r.Status, y)
		}
		warm = !y.ColdStart
	}
	if !warm {
		t.Errorf("no warm run through the compose workers: faas-init not found in WORKER_HOST_DIR?")
	}

	// Async under load: 24 one-second runs on workers of 2 slots make the
	// backlog that scales the workers up.
	ids := make([]string, 24)
	for i := range ids {
		r := f.Do(t, http.MethodPost, "/api/v1/executions", u.Token, map[string]any{"function_id": fn, "input": fmt.Sprint("in-", i)})
		if r.Status != http.StatusAccepted {
			t.Fatalf("async run %d: %d %s", i, r.Status, r.Body)
		}
		r.Decode(t, &x)
		ids[i] = x.ID
	}
	most := 0
	for i, id := range ids {
		var x execution
		eventually.NoError(t, 3*time.Minute, func() error {
			var ws struct {
				Workers []struct{ ID string } `json:"workers"`
			}
			if r := f.Do(t, http.MethodGet, "/api/v1/workers/status", u.Token, nil); r.Status == http.StatusOK {
				r.Decode(t, &ws)
				most = max(most, len(ws.Workers))
			}
			r := f.Do(t, http.MethodGet, "/api/v1/executions/"+id, u.Token, nil)
			if r.Status != http.StatusOK {
				return fmt.Errorf("get %s: %d", id, r.Status)
			}
			r.Decode(t, &x)
			if x.Status != "complete" {
				return fmt.Errorf("execution %d: %s", i, x.Status)
			}
			return nil
		})
		if x.output() != fmt.Sprint("in-", i) {
			t.Fatalf("execution %d output %q", i, x.output())
		}
	}
	if most < 2 {
		t.Errorf("the workers did not scale under load: at most %d", most)
	}
	t.Logf("sync and %d async runs through the compose gateway; up to %d workers", len(ids), most)

	d.down(t)
	removeImages()
	if left := d.left(t); len(left) > 0 {
		t.Fatalf("compose down -v left: %v", left)
	}
}
