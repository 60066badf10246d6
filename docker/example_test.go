package docker

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/faasplatform/faas/docker/dockertest"
)

// TestExampleEcho builds examples/echo the way `make examples` does (a static
// binary copied into an image FROM scratch) and runs it through the Runtime.
func TestExampleEcho(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})

	program := dockertest.GoBinary(t, "../examples/echo")
	dockerfile, err := os.ReadFile("../examples/echo/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	img := dockertest.BuildImage(t, "example-echo", string(dockerfile), map[string][]byte{"echo": program})

	spec := h.spec(img, `{"name":"Ada"}`)
	spec.Env = map[string]string{"FAAS_EXECUTION_ID": spec.ExecutionID}
	res, err := h.rt.Run(context.Background(), spec)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	var got struct {
		Echo        map[string]string `json:"echo"`
		Length      int               `json:"length"`
		ExecutionID string            `json:"execution_id"`
	}
	if res.ExitCode != 0 || json.Unmarshal(res.Stdout, &got) != nil ||
		got.Echo["name"] != "Ada" || got.Length != 14 || got.ExecutionID != spec.ExecutionID {
		t.Errorf("exit %d stdout %q stderr %q: want the input echoed", res.ExitCode, res.Stdout, res.Stderr)
	}

	spec = h.spec(img, "fail")
	if res, err := h.rt.Run(context.Background(), spec); err != nil || res.ExitCode != 1 || len(res.Stderr) == 0 {
		t.Errorf("input fail: exit %d stderr %q, %v; want exit 1 with a log line", res.ExitCode, res.Stderr, err)
	}
}
