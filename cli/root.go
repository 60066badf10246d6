// Package cli is the client side of the faas command (contract §7): login,
// functions, invoke, executions, logs, objects, workers and dead letters,
// on spf13/cobra, through the Go client. It reads no server variable: the
// address comes from --url or FAAS_URL, the token from `faas login` (kept
// 0600 in the user's config directory) or FAAS_TOKEN.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/faasplatform/faas/client"
	"github.com/faasplatform/faas/wire"
)

// Exit statuses (contract §7).
const (
	ExitOK    = 0
	ExitAPI   = 1 // the API answered an error (its message on stderr), or it could not be reached
	ExitUsage = 2 // bad usage: unknown command, flag or argument
)

// Env is what the commands read from the outside world, injectable for
// tests.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// IsTerminal reports whether a file descriptor is a terminal (for the
	// password prompt and progress bars); nil: never.
	IsTerminal func(fd int) bool
	// ReadPassword reads a line from the terminal without echo.
	ReadPassword func(fd int) ([]byte, error)
}

// app is the state shared by the commands of one invocation.
type app struct {
	env     Env
	url     string
	jsonOut bool
}

// usageError marks an error of usage (exit 2) that cobra did not catch.
type usageError struct{ error }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// UsageError marks err as bad usage (exit 2), e.g. a bad server setting.
func UsageError(err error) error { return usageError{err} }

// AddCommands adds the client commands to root in help group groupID (""
// for none); root's persistent flags get --url and --json.
func AddCommands(root *cobra.Command, env Env, groupID string) {
	a := &app{env: env}
	root.PersistentFlags().StringVar(&a.url, "url", "", "the platform's address (default $FAAS_URL or "+client.DefaultURL+")")
	root.PersistentFlags().BoolVar(&a.jsonOut, "json", false, "print JSON (for scripts) instead of tables")
	for _, c := range []*cobra.Command{a.registerCmd(), a.loginCmd(), a.logoutCmd(), a.fnCmd(), a.invokeCmd(), a.executionsCmd(),
		a.logsCmd(), a.objectsCmd(), a.workersCmd(), a.deadlettersCmd()} {
		c.GroupID = groupID
		root.AddCommand(c)
	}
}

// ExitCode is the exit status for err returned by root.Execute: usage
// errors (cobra's own included) are 2, everything else 1.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var u usageError
	if errors.As(err, &u) {
		return ExitUsage
	}
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least",
		"requires exactly", "flag needs an argument", "invalid argument", "required flag", "if any flags in the group"} {
		if strings.HasPrefix(msg, p) || strings.Contains(msg, " "+p) {
			return ExitUsage
		}
	}
	return ExitAPI
}

// baseURL is --url, FAAS_URL, the logged-in session's, or the default.
func (a *app) baseURL() string {
	if a.url != "" {
		return a.url
	}
	if u := a.env.Getenv("FAAS_URL"); u != "" {
		return u
	}
	if s, err := a.loadSession(); err == nil && s.URL != "" {
		return s.URL
	}
	return client.DefaultURL
}

// client is an API client with the token of FAAS_TOKEN or the session.
func (a *app) client(needToken bool) (*client.Client, error) {
	token := a.env.Getenv("FAAS_TOKEN")
	if token == "" {
		if s, err := a.loadSession(); err == nil {
			token = s.Token
		}
	}
	if needToken && token == "" {
		return nil, errors.New("not logged in: run `faas login` (or set FAAS_TOKEN)")
	}
	c, err := client.New(a.baseURL(), client.WithToken(token))
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

// function is the API client with the token and the function named by ref
// (name or id): what most commands start with.
func (a *app) function(cmd *cobra.Command, ref string) (context.Context, *client.Client, *wire.Function, error) {
	ctx := ctxOf(cmd)
	c, err := a.client(true)
	if err != nil {
		return ctx, nil, nil, err
	}
	f, err := findFunction(ctx, c, ref)
	return ctx, c, f, err
}

// session is what `faas login` keeps.
type session struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

// sessionPath is <config dir>/faas/session.json: $XDG_CONFIG_HOME, or
// $HOME/.config.
func (a *app) sessionPath() (string, error) {
	dir := a.env.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home := a.env.Getenv("HOME")
		if home == "" {
			return "", errors.New("no config directory: set HOME or XDG_CONFIG_HOME")
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "faas", "session.json"), nil
}

func (a *app) loadSession() (*session, error) {
	p, err := a.sessionPath()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var s session
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return &s, nil
}

// saveSession writes s with mode 0600 (its directory 0700), replacing the
// file atomically.
func (a *app) saveSession(s session) (string, error) {
	p, err := a.sessionPath()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", fmt.Errorf("save the token: %w", err)
	}
	data, _ := json.Marshal(s)
	tmp, err := os.CreateTemp(filepath.Dir(p), ".session-*")
	if err != nil {
		return "", fmt.Errorf("save the token: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", fmt.Errorf("save the token: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", fmt.Errorf("save the token: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("save the token: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return "", fmt.Errorf("save the token: %w", err)
	}
	return p, nil
}

// printJSON writes v indented.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.env.Stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func ctxOf(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
