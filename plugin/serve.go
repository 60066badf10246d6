package plugin

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	runnerplugin "github.com/apache/apisix-go-plugin-runner/pkg/plugin"
	"github.com/apache/apisix-go-plugin-runner/pkg/runner"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Environment variables APISIX sets for the runner it starts (ext-plugin.cmd).
const (
	EnvListenAddress  = "APISIX_LISTEN_ADDRESS"   // "unix:/path/to/runner.sock"
	EnvConfExpireTime = "APISIX_CONF_EXPIRE_TIME" // seconds, e.g. "3600"
)

// DrainTimeout is how long Serve waits, after the runner stopped listening,
// for calls in progress to finish. APISIX kills the runner 1 s after SIGTERM.
const DrainTimeout = 800 * time.Millisecond

// The runner's plugin interface, checked at compile time.
var _ runnerplugin.Plugin = (*Plugin)(nil)

// maxUnixSocketPath is the longest path a Unix socket address may have
// (sun_path is 108 bytes on Linux, including the terminating NUL).
const maxUnixSocketPath = 107

// Serve registers the "faas" plugin serving h and runs the APISIX plugin
// runner until the process gets SIGINT or SIGTERM; "faas plugin" calls it.
//
// The runner (pkg/runner.Run of v0.5.0) reads its settings from the
// environment APISIX gives it:
//   - APISIX_LISTEN_ADDRESS, "unix:<path>": the socket to listen on. The runner
//     removes a file already there, listens, and chmods the socket 0766 so
//     that nginx workers (user nobody) can connect.
//   - APISIX_CONF_EXPIRE_TIME, seconds (default 3600): the runner keeps each
//     prepared conf 1.2 times that long, so it outlives APISIX's token.
//
// runner.Run ends the process with os.Exit(1) (through zap's Fatal) when one
// of them is invalid or when it cannot listen; Serve checks them first and
// returns an error naming the variable instead, so that cmd/faas can report
// it like any other bad configuration. runner.Run installs its own SIGINT and
// SIGTERM handler and returns on the first one; it then closes the listener
// and removes the socket file but does not close connections in progress.
// Serve waits up to DrainTimeout for calls in progress and returns nil.
//
// logLevel ("debug", "info", "warn", "error"; empty means "info") sets the
// runner's own log: its messages go to standard error, which APISIX copies
// into its error log. At "info" the runner logs several lines for every call,
// so it is raised to "warn" there; "debug" shows them. The plugin logs
// through logger.
//
// Serve can be called once per process: the runner's plugin registry is
// global and refuses a second "faas".
func Serve(h http.Handler, logger *zap.Logger, logLevel string) error {
	if h == nil {
		return errors.New("faas plugin: nil handler")
	}
	level, err := runnerLogLevel(logLevel)
	if err != nil {
		return err
	}
	if err := checkRunnerEnv(); err != nil {
		return err
	}

	p := New(h, logger)
	if err := runnerplugin.RegisterPlugin(p); err != nil {
		return fmt.Errorf("faas plugin: register with the runner: %w", err)
	}
	p.log.Info("plugin runner starting", zap.String("socket", os.Getenv(EnvListenAddress)))
	runner.Run(runner.RunnerConfig{LogLevel: level, LogOutput: os.Stderr})

	if !p.drain(DrainTimeout) {
		p.log.Warn("plugin runner stopped with calls still in progress", zap.Int64("calls", p.active.Load()))
	} else {
		p.log.Info("plugin runner stopped")
	}
	return nil
}

// drain waits until no RequestFilter call is in progress, or the timeout. A
// short pause after the last call lets the runner write its answer.
func (p *Plugin) drain(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for p.active.Load() > 0 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	return true
}

// runnerLogLevel maps LOG_LEVEL to the runner's zap level.
func runnerLogLevel(s string) (zapcore.Level, error) {
	if strings.TrimSpace(s) == "" {
		s = "info"
	}
	level, err := zapcore.ParseLevel(strings.ToLower(strings.TrimSpace(s)))
	if err != nil {
		return 0, fmt.Errorf("LOG_LEVEL: %w", err)
	}
	if level == zapcore.InfoLevel {
		level = zapcore.WarnLevel // the runner logs every call at info
	}
	return level, nil
}

// checkRunnerEnv checks what runner.Run would otherwise turn into os.Exit.
func checkRunnerEnv() error {
	addr := os.Getenv(EnvListenAddress)
	path, ok := strings.CutPrefix(addr, "unix:")
	switch {
	case addr == "":
		return fmt.Errorf("%s is not set: APISIX sets it when it starts the runner (ext-plugin.cmd); set it to unix:<socket path> to run by hand", EnvListenAddress)
	case !ok || path == "":
		return fmt.Errorf("%s must be unix:<socket path>, got %q", EnvListenAddress, addr)
	case len(path) > maxUnixSocketPath:
		return fmt.Errorf("%s: socket path is %d bytes, longer than the %d a Unix socket allows", EnvListenAddress, len(path), maxUnixSocketPath)
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil {
		return fmt.Errorf("%s: socket directory: %w", EnvListenAddress, err)
	} else if !fi.IsDir() {
		return fmt.Errorf("%s: socket directory %s is not a directory", EnvListenAddress, filepath.Dir(path))
	}

	if ttl := os.Getenv(EnvConfExpireTime); ttl != "" {
		n, err := strconv.Atoi(ttl)
		if err != nil || n <= 0 {
			return fmt.Errorf("%s must be a positive number of seconds, got %q", EnvConfExpireTime, ttl)
		}
	}
	return nil
}
