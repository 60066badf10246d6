package dockertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BuildInit builds cmd/faas-init, static, into dir and returns its path:
// the init of warm containers (docker.Options.InitPath). Call it from
// TestMain; it needs the go command.
func BuildInit(dir string) (string, error) {
	out := filepath.Join(dir, "faas-init")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "github.com/faasplatform/faas/cmd/faas-init")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("dockertest: build faas-init: %w\n%s", err, b)
	}
	return out, nil
}
