package cli

import (
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/faasplatform/faas/client"
)

func TestExitCode(t *testing.T) {
	root := &cobra.Command{Use: "faas", SilenceErrors: true, SilenceUsage: true}
	AddCommands(root, Env{Stdin: strings.NewReader(""), Stdout: &strings.Builder{}, Stderr: &strings.Builder{},
		Getenv: func(string) string { return "" }}, "")
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"bogus"}, ExitUsage},
		{[]string{"invoke"}, ExitUsage},
		{[]string{"fn", "get", "a", "b"}, ExitUsage},
		{[]string{"fn", "create", "x", "--no-such-flag"}, ExitUsage},
		{[]string{"fn", "create", "x"}, ExitUsage},
		{[]string{"register", "bob"}, ExitUsage}, // --email is required
		{[]string{"fn", "list"}, ExitAPI},        // not logged in
	}
	for _, tt := range tests {
		root.SetArgs(tt.args)
		if got := ExitCode(root.Execute()); got != tt.want {
			t.Errorf("faas %v: exit %d, want %d", tt.args, got, tt.want)
		}
	}
	if got := ExitCode(&client.Error{Status: 404, Code: "function_not_found"}); got != ExitAPI {
		t.Errorf("an API error: exit %d, want %d", got, ExitAPI)
	}
	if got := ExitCode(errors.New("dial tcp: connection refused")); got != ExitAPI {
		t.Errorf("an unreachable server: exit %d, want %d", got, ExitAPI)
	}
}

func TestReadInput(t *testing.T) {
	a := &app{env: Env{Stdin: strings.NewReader("from stdin")}}
	tests := []struct{ in, want string }{
		{"", ""},
		{"hello", `"hello"`},
		{`{"n":1}`, `{"n":1}`},
		{"42", "42"},
		{"-", `"from stdin"`},
	}
	for _, tt := range tests {
		got, err := a.readInput(tt.in)
		if err != nil || string(got) != tt.want {
			t.Errorf("readInput(%q) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	if _, err := a.readInput("@/no/such/file"); ExitCode(err) != ExitUsage {
		t.Errorf("a missing @file: %v, want a usage error", err)
	}
}
