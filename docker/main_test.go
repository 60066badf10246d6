package docker

import (
	"fmt"
	"os"
	"testing"

	"github.com/faasplatform/faas/docker/dockertest"
)

// testInitPath is the faas-init binary TestMain builds for the warm tests.
var testInitPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "faas-init-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testInitPath, err = dockertest.BuildInit(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if err := dockertest.Cleanup(); err != nil {
		fmt.Fprintln(os.Stderr, "cleanup:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}
