package tests

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// TestComposeConfigValid: compose/docker-compose.yml is valid for
// docker-compose (1.29) without a profile and with each profile. It needs
// docker-compose (.ci/run installs it): missing, the test fails saying so.
func TestComposeConfigValid(t *testing.T) {
	dc, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Fatalf("docker-compose not found (apt-get install -y docker-compose; .ci/run installs it): %v", err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	// The services read the generated secrets file: make it as a user would.
	if out, err := exec.Command("make", "-s", "-C", root, "compose-secrets").CombinedOutput(); err != nil {
		t.Fatalf("make compose-secrets: %v %s", err, out)
	}
	file := filepath.Join(root, "compose", "docker-compose.yml")
	for _, profile := range [][]string{nil, {"--profile", "apisix"}, {"--profile", "monitoring"}} {
		args := append(append([]string{"-f", file}, profile...), "config", "-q")
		if out, err := exec.Command(dc, args...).CombinedOutput(); err != nil {
			t.Errorf("docker-compose %v: %v\n%s", args, err, out)
		}
	}
}
