// Package tests holds the end-to-end tests: the platform's API over real
// HTTP, on a real embedded NATS, with real worker code running real Docker
// containers built from images the tests build themselves.
package tests

import (
	"fmt"
	"os"
	"testing"

	"github.com/faasplatform/faas/apisix/apisixtest"
	"github.com/faasplatform/faas/docker/dockertest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	apisixtest.CleanupBuilds()
	if err := dockertest.Cleanup(); err != nil {
		fmt.Fprintln(os.Stderr, "remove test images:", err)
		code = 1
	}
	os.Exit(code)
}
