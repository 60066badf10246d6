// Command testrunner is a stand-in for "faas plugin" in the plugin's tests:
// it serves the toy API (package toyapi) through plugin.Serve, so that the
// APISIX emulator, the plugin and the real runner v0.5.0 meet over a real
// Unix socket. It reads LOG_LEVEL like "faas plugin".
package main

import (
	"fmt"
	"os"

	"go.uber.org/zap"

	"github.com/faasplatform/faas/plugin"
	"github.com/faasplatform/faas/plugin/internal/toyapi"
)

func main() {
	logger, err := zap.NewDevelopment()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testrunner:", err)
		os.Exit(1)
	}
	if err := plugin.Serve(toyapi.Handler, logger, os.Getenv("LOG_LEVEL")); err != nil {
		fmt.Fprintln(os.Stderr, "testrunner:", err)
		os.Exit(1)
	}
}
