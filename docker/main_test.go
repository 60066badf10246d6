package docker

import (
	"fmt"
	"os"
	"testing"

	"github.com/faasplatform/faas/docker/dockertest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := dockertest.Cleanup(); err != nil {
		fmt.Fprintln(os.Stderr, "cleanup:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}
