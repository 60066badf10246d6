package plugin_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faasplatform/faas/plugin"
	"github.com/faasplatform/faas/plugin/internal/toyapi"
)

// Serve must refuse, with an error naming the variable, what runner.Run
// would turn into os.Exit; none of these cases gets as far as the runner.
func TestServeRejectsBadSettings(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		listen   string // "-" leaves APISIX_LISTEN_ADDRESS unset
		ttl      string
		logLevel string
		handler  http.Handler
		want     string
	}{
		{"no listen address", "-", "", "info", toyapi.Handler, "APISIX_LISTEN_ADDRESS is not set"},
		{"not a unix address", "tcp:127.0.0.1:1", "", "info", toyapi.Handler, "must be unix:<socket path>"},
		{"empty socket path", "unix:", "", "info", toyapi.Handler, "must be unix:<socket path>"},
		{"socket path too long", "unix:/tmp/" + strings.Repeat("s", 120), "", "info", toyapi.Handler, "longer than"},
		{"missing directory", "unix:" + filepath.Join(dir, "nope", "r.sock"), "", "info", toyapi.Handler, "socket directory"},
		{"directory is a file", "unix:" + filepath.Join(file, "r.sock"), "", "info", toyapi.Handler, "socket directory"},
		{"ttl not a number", "unix:" + filepath.Join(dir, "r.sock"), "soon", "info", toyapi.Handler, "APISIX_CONF_EXPIRE_TIME"},
		{"ttl zero", "unix:" + filepath.Join(dir, "r.sock"), "0", "info", toyapi.Handler, "APISIX_CONF_EXPIRE_TIME"},
		{"bad log level", "unix:" + filepath.Join(dir, "r.sock"), "", "loud", toyapi.Handler, "LOG_LEVEL"},
		{"nil handler", "unix:" + filepath.Join(dir, "r.sock"), "", "info", nil, "nil handler"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.listen == "-" {
				t.Setenv(plugin.EnvListenAddress, "")
				_ = os.Unsetenv(plugin.EnvListenAddress)
			} else {
				t.Setenv(plugin.EnvListenAddress, tc.listen)
			}
			t.Setenv(plugin.EnvConfExpireTime, tc.ttl)
			err := plugin.Serve(tc.handler, nil, tc.logLevel)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Serve error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
